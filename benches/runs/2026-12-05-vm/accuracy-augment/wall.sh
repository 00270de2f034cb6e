#!/bin/bash
# Equal wall-clock: fno (original block) with the epochs it fits in the reference's time, StepLR stretched to them, side by side with the reference at its epochs.
cd "$(dirname "$0")"
export OMP_WAIT_POLICY=PASSIVE FNO=${FNO:-fno}
REF=../../../reference/neuraloperator/train.py
for s in 0 1; do
  $FNO train --config burgers.toml --out runs/wb-s$s --quiet --overwrite --set train.seed=$s --set model.channel_mlp_expansion=0 --set train.epochs=75 --set train.schedule.step_size=25 > wb-s$s.log 2>&1 &
  ${PYTHON:-python} $REF 1D_Burgers_Sols_Nu0.01.hdf5 burgers --frame 100 --modes 16 --width 64 --layers 4 --batch 20 --epochs 30 --channel-mlp --threads 1 --step 10 --seed $s > ref-wb-s$s.json 2>&1
  wait
  cp runs/wb-s$s/metrics.jsonl wb-s$s.metrics.jsonl
  $FNO train --config burgers.toml --out runs/wbm-s$s --quiet --overwrite --set train.seed=$s --set train.epochs=39 --set train.schedule.step_size=13 > wbm-s$s.log 2>&1 &
  ${PYTHON:-python} $REF 1D_Burgers_Sols_Nu0.01.hdf5 burgers --frame 100 --modes 16 --width 64 --layers 4 --batch 20 --epochs 30 --channel-mlp --threads 1 --step 10 --seed $s > ref-wbm-s$s.json 2>&1
  wait
  cp runs/wbm-s$s/metrics.jsonl wbm-s$s.metrics.jsonl
done
for s in 0 1; do
  ( $FNO train --config darcy.toml --out runs/wd-s$s --quiet --overwrite --set train.seed=$s --set model.channel_mlp_expansion=0 --set 'train.augment=["transpose"]' --set train.epochs=95 --set train.schedule.step_size=19 > wd-s$s.log 2>&1
    $FNO eval --run runs/wd-s$s --data 2D_DarcyFlow_beta1.0_Train.hdf5 --resolution 64 --last --json > wd-s$s.eval.json 2>&1 ) &
  ${PYTHON:-python} $REF 2D_DarcyFlow_beta1.0_Train.hdf5 darcy --stride 2 --modes 12 --width 32 --layers 4 --batch 20 --epochs 50 --channel-mlp --threads 1 --step 10 --seed $s > ref-wd-s$s.json 2>&1
  wait
  cp runs/wd-s$s/metrics.jsonl wd-s$s.metrics.jsonl
done
echo done > wall.done
