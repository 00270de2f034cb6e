#!/bin/bash
# The reference's side: neuraloperator's default FNO (the bar's runs of
# ../accuracy-step, same seeds, reproduced to the last digit) reporting its
# symmetry-averaged test error too (`train.py --average`); then the
# weight-average probe (`train.py --ema 0.98`: a moving average of the
# weights, decay 0.98 per step, scored in place of the last weights).
cd "$(dirname "$0")"
T=../../../reference/neuraloperator/train.py
for s in 0 1; do
  python $T 1D_Burgers_Sols_Nu0.01.hdf5 burgers --frame 100 --modes 16 --width 64 --layers 4 --batch 20 --epochs 30 --channel-mlp --threads 1 --step 10 --seed $s --average > ref-b-avg-s$s.json &
done; wait
for s in 0 1; do
  python $T 2D_DarcyFlow_beta1.0_Train.hdf5 darcy --stride 2 --modes 12 --width 32 --layers 4 --batch 20 --epochs 50 --channel-mlp --threads 1 --step 10 --seed $s --average > ref-d-avg-s$s.json &
done; wait
for s in 0 1; do
  python $T 1D_Burgers_Sols_Nu0.01.hdf5 burgers --frame 100 --modes 16 --width 64 --layers 4 --batch 20 --epochs 30 --channel-mlp --threads 1 --step 10 --seed $s --ema 0.98 > ref-ema98-s$s.json &
done; wait
