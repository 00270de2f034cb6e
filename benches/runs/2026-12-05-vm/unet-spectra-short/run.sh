#!/bin/bash
# FNO vs U-Net spectra at a short horizon: nu = 1e-4, t = 1 (the truth keeps its small scales).
set -x
cd "$(dirname "$0")"
/usr/bin/time -v fno generate ns --samples 300 --nx 256 --nt 1 --tmax 1 --nu 1e-4 --seed 7 --out ns > gen.log 2>&1
for kind in fno unet; do
  /usr/bin/time -v fno train --config $kind.toml --out runs/$kind --quiet --overwrite > $kind.train.log 2>&1
  fno eval --run runs/$kind --data /tmp/short/ns/2D_NS_Nu0.0001.hdf5 --resolution 128 --resolution 256 --json > $kind.eval.json 2> $kind.eval.err
done
echo done > finished
