#!/bin/bash
# usage: exp.sh NAME b|d [--set k=v ...]; seeds 0 and 1 side by side, StepLR(10, 0.5)
cd "$(dirname "$0")"
name=$1; case=$2; shift 2
cfg=burgers.toml; [ $case = d ] && cfg=darcy.toml
for s in 0 1; do
  ( ${FNO:-fno} train --config $cfg --out runs/$name-s$s --quiet --overwrite --set train.seed=$s --set train.schedule.step_size=10 "$@" > $name-s$s.log 2>&1
    cp runs/$name-s$s/metrics.jsonl $name-s$s.metrics.jsonl
    if [ $case = d ]; then ${FNO:-fno} eval --run runs/$name-s$s --data 2D_DarcyFlow_beta1.0_Train.hdf5 --resolution 64 --last --json > $name-s$s.eval.json 2>&1; fi ) &
done
wait
echo "$name: $(tail -qn1 $name-s0.metrics.jsonl $name-s1.metrics.jsonl | python3 -c 'import sys,json; print([round(json.loads(l)["test_rel_l2"],4) for l in sys.stdin])')" >> results.txt
