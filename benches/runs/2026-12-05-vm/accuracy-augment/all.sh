#!/bin/bash
# Every run of this directory, in the order they ran (2026-12-05). Needs the two
# data files of ../accuracy-step (its acc.sh and dacc.sh generate them), `fno`
# on PATH (or FNO=...), and PYTHON a venv from
# benches/reference/neuraloperator/requirements.txt.
set -e
cd "$(dirname "$0")"
for f in 1D_Burgers_Sols_Nu0.01.hdf5 2D_DarcyFlow_beta1.0_Train.hdf5; do
  [ -e $f ] || ln -s ../accuracy-step/$f .
done
REF=../../../reference/neuraloperator/train.py
# neuraloperator's default FNO with the same transpose augmentation, seeds 0 and 1 side by side.
for s in 0 1; do
  OMP_WAIT_POLICY=PASSIVE ${PYTHON:-python} $REF 2D_DarcyFlow_beta1.0_Train.hdf5 darcy --stride 2 --modes 12 --width 32 --layers 4 --batch 20 --epochs 50 --channel-mlp --threads 1 --step 10 --seed $s --augment > ref-d-aug-s$s.json &
done
wait
./exp.sh b-w45l8 b --set model.width=45 --set model.layers=8
./exp.sh b-nogrid b --set model.grid_channels=false
./exp.sh b-odd b --set 'train.augment=["odd_reflection"]'
./exp.sh d-tr d --set 'train.augment=["transpose"]'
./exp.sh d-tr-pad d --set 'train.augment=["transpose"]' --set "model.padding=[0.125,0.125]"
./exp.sh d-o-tr d --set 'train.augment=["transpose"]' --set model.channel_mlp_expansion=0
./exp.sh d-o-tr-pad d --set 'train.augment=["transpose"]' --set model.channel_mlp_expansion=0 --set "model.padding=[0.125,0.125]"
./exp.sh b-o b --set model.channel_mlp_expansion=0
./exp.sh b-o-odd b --set model.channel_mlp_expansion=0 --set 'train.augment=["odd_reflection"]'
./wall.sh
./exp.sh d-o-tr-m8 d --set model.channel_mlp_expansion=0 --set 'train.augment=["transpose"]' --set "model.modes=[8,8]"
# Equal wall-clock with the best configuration (padding too): 78 epochs fit the reference's 50-epoch time; fno's seeds side by side.
for s in 0 1; do
  ( ${FNO:-fno} train --config darcy.toml --out runs/wdp-s$s --quiet --overwrite --set train.seed=$s --set model.channel_mlp_expansion=0 --set 'train.augment=["transpose"]' --set "model.padding=[0.125,0.125]" --set train.epochs=78 --set train.schedule.step_size=16 > wdp-s$s.log 2>&1
    cp runs/wdp-s$s/metrics.jsonl wdp-s$s.metrics.jsonl
    ${FNO:-fno} eval --run runs/wdp-s$s --data 2D_DarcyFlow_beta1.0_Train.hdf5 --resolution 64 --last --json > wdp-s$s.eval.json 2>&1 ) &
done
wait
# The resolution-consistency term (train.resolution_consistency) on the best configuration, weights 1, 0.3 and 0.6.
./exp.sh d-best-rc1 d --set model.channel_mlp_expansion=0 --set 'train.augment=["transpose"]' --set "model.padding=[0.125,0.125]" --set train.resolution_consistency=1
./exp.sh d-best-rc03 d --set model.channel_mlp_expansion=0 --set 'train.augment=["transpose"]' --set "model.padding=[0.125,0.125]" --set train.resolution_consistency=0.3
./exp.sh d-best-rc06 d --set model.channel_mlp_expansion=0 --set 'train.augment=["transpose"]' --set "model.padding=[0.125,0.125]" --set train.resolution_consistency=0.6
# The same term in neuraloperator's training (25 epochs, StepLR(5), seed 0, with the transpose), without and with it, side by side.
OMP_WAIT_POLICY=PASSIVE ${PYTHON:-python} $REF 2D_DarcyFlow_beta1.0_Train.hdf5 darcy --stride 2 --modes 12 --width 32 --layers 4 --batch 20 --epochs 25 --channel-mlp --threads 1 --step 5 --seed 0 --augment > mr-base.json &
OMP_WAIT_POLICY=PASSIVE ${PYTHON:-python} $REF 2D_DarcyFlow_beta1.0_Train.hdf5 darcy --stride 2 --modes 12 --width 32 --layers 4 --batch 20 --epochs 25 --channel-mlp --threads 1 --step 5 --seed 0 --augment --consistency 1 > mr-1.json &
wait
# Burgers: a smaller model and fewer modes (generalisation from 450 samples), channel-MLP block.
./exp.sh b-w32 b --set model.width=32
./exp.sh b-m8 b --set "model.modes=[8]"
# Burgers: more weight decay (the gap between training loss and test error).
./exp.sh b-wd3 b --set train.optimizer.weight_decay=1e-3
./exp.sh b-wd2 b --set train.optimizer.weight_decay=1e-2
