#!/bin/bash
# usage: v.sh TAG "ARGS" samples...
tag=$1; args=$2; shift 2
for i in "$@"; do
  fno finetune --run good --data nss/2D_NS_Nu0.001.hdf5 --sample $i $args --out exp/o-$tag --overwrite --json > exp/$tag-$i.json 2>exp/$tag-$i.err
  python3 -c "import json; d=json.load(open('exp/$tag-$i.json')); print('$tag', $i, round(d['rel_l2_before'],4), round(d['rel_l2_after'],4), round(d['rel_l2_after']/d['rel_l2_before'],3), '%.2e %.2e' % (d['residual_before'], d['residual_after']), 'max', round(max(p['rel_l2'] for p in d['curve']),4))"
done
