#!/bin/bash
set -x
cd /tmp/unet2/exp
for kind in fno unet; do
  /usr/bin/time -v fno train --config $kind.toml --out runs/$kind --quiet > $kind.train.log 2>&1
  fno eval --run runs/$kind --data /tmp/unet2/ns/2D_NS_Nu0.001.hdf5 --resolution 128 --resolution 256 --json > $kind.eval.json 2> $kind.eval.err
done
echo done > finished
