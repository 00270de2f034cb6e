#!/bin/bash
# fno Burgers with more modes at a narrower width (about the same parameter count), StepLR(10, 0.5), seeds 0 and 1.
set -x
cd "$(dirname "$0")"
export PATH=$PATH
for s in 0 1; do
  fno train --config burgers.toml --out runs/b-m32w45-s$s --quiet --overwrite --set train.seed=$s --set train.schedule.step_size=10 --set model.modes=[32] --set model.width=45 > b-m32w45-s$s.log 2>&1 &
done
wait
echo done > m32.done
