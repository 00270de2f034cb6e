#!/bin/bash
# Darcy accuracy and zero-shot penalty, fno vs neuraloperator, StepLR(10, 0.5) on both sides, seeds 0 and 1.
set -x
cd "$(dirname "$0")"
export PATH=$PATH OMP_WAIT_POLICY=PASSIVE
[ -f 2D_DarcyFlow_beta1.0_Train.hdf5 ] || fno generate darcy --samples 600 --nx 64 --coefficient pdebench --beta 1 --seed 2 --out . > dgen.log 2>&1
for s in 0 1; do
  (fno train --config darcy.toml --out runs/d-step10-s$s --quiet --overwrite --set train.seed=$s --set train.schedule.step_size=10 > d-step10-s$s.log 2>&1;
   fno eval --run runs/d-step10-s$s --data 2D_DarcyFlow_beta1.0_Train.hdf5 --resolution 64 --last --json > d-step10-s$s.eval.json 2>&1) &
  /work/refvenv/bin/python /work/main/benches/reference/neuraloperator/train.py 2D_DarcyFlow_beta1.0_Train.hdf5 darcy --stride 2 --modes 12 --width 32 --layers 4 --batch 20 --epochs 50 --channel-mlp --threads 1 --step 10 --seed $s > ref-d-step10-s$s.log 2>&1
  wait
done
echo done > dacc.done
