#!/bin/bash
# usage: v.sh RUN TAG "ARGS" samples...
run=$1; tag=$2; args=$3; shift 3
mkdir -p res/$run-$tag
for i in "$@"; do
  fno finetune --run $run --data bs/1D_Burgers_Sols_Nu0.01_plain.hdf5 --sample $i $args --out scratch/$tag --overwrite --json > res/$run-$tag/$i.json 2>res/$run-$tag/$i.err
  python3 -c "import json; d=json.load(open('res/$run-$tag/$i.json')); print('$run $tag', $i, round(d['rel_l2_before'],4), round(d['rel_l2_after'],4), round(d['rel_l2_after']/d['rel_l2_before'],3), '%.2e %.2e' % (d['residual_before'], d['residual_after']), 'max', round(max(p['rel_l2'] for p in d['curve']),4))"
done
