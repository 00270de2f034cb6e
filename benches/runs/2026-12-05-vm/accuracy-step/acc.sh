#!/bin/bash
# Burgers accuracy, fno vs neuraloperator, StepLR(10, 0.5) on both sides, seeds 0 and 1.
set -x
cd "$(dirname "$0")"
export PATH=$PATH OMP_WAIT_POLICY=PASSIVE
[ -f 1D_Burgers_Sols_Nu0.01.hdf5 ] || fno generate burgers --samples 500 --nx 1024 --nt 200 --tmax 2 --nu 0.01 --seed 1 --out . > gen.log 2>&1
for s in 0 1; do
  fno train --config burgers.toml --out runs/b-step10-s$s --quiet --overwrite --set train.seed=$s --set train.schedule.step_size=10 > b-step10-s$s.log 2>&1 &
  /work/refvenv/bin/python /work/main/benches/reference/neuraloperator/train.py 1D_Burgers_Sols_Nu0.01.hdf5 burgers --frame 100 --modes 16 --width 64 --layers 4 --batch 20 --epochs 30 --channel-mlp --threads 1 --step 10 --seed $s > ref-b-step10-s$s.log 2>&1
  wait
done
echo done > acc.done
