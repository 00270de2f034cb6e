#!/bin/bash
# fno Darcy with domain padding (non-periodic solution: zero on the boundary), StepLR(10, 0.5), seeds 0 and 1, side by side.
set -x
cd "$(dirname "$0")"
export PATH=$PATH
for s in 0 1; do
  (fno train --config darcy.toml --out runs/d-pad-s$s --quiet --overwrite --set train.seed=$s --set train.schedule.step_size=10 --set "model.padding=[0.125,0.125]" > d-pad-s$s.log 2>&1;
   fno eval --run runs/d-pad-s$s --data 2D_DarcyFlow_beta1.0_Train.hdf5 --resolution 64 --last --json > d-pad-s$s.eval.json 2>&1) &
done
wait
echo done > pad.done
