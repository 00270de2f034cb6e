#!/bin/bash
# usage: eval.sh RUNS_DIR DATA_DIR
# Scores trained runs of ../accuracy-step and ../accuracy-augment (their
# acc.sh / all.sh / wall.sh train them into RUNS_DIR) with and without
# `inference.symmetries`: a copy of each run gets an [inference] section,
# and `fno eval --last` scores the original (NAME.plain.json) and the copy
# (NAME.eval.json). Training does not read the section, so the copy's
# last-epoch weights are those a run trained with it would have.
set -e
runs=$1; data=$2; mkdir -p sym
score() {  # NAME SYMMETRY FILE [--resolution 64]
  n=$1; sym=$2; file=$3; shift 3
  rm -rf sym/$n; cp -r $runs/$n sym/$n
  printf '\n[inference]\nsymmetries = ["%s"]\n' $sym >> sym/$n/config.toml
  fno eval --run $runs/$n --data $data/$file --last --json "$@" > $n.plain.json
  fno eval --run sym/$n --data $data/$file --last --json "$@" > $n.eval.json
}
for n in b-step10-s0 b-step10-s1 b-odd-s0 b-odd-s1 wb-s0 wb-s1 wbm-s0 wbm-s1; do
  score $n odd_reflection 1D_Burgers_Sols_Nu0.01.hdf5
done
for n in d-o-tr-pad-s0 d-o-tr-pad-s1 d-best-rc06-s0 d-best-rc06-s1 wd-s0 wd-s1 wdp-s0 wdp-s1; do
  score $n transpose 2D_DarcyFlow_beta1.0_Train.hdf5 --resolution 64
done
python3 symeval.py b-step10-s0 b-step10-s1 b-odd-s0 b-odd-s1 wb-s0 wb-s1 wbm-s0 wbm-s1 \
  d-o-tr-pad-s0 d-o-tr-pad-s1 d-best-rc06-s0 d-best-rc06-s1 wd-s0 wd-s1 wdp-s0 wdp-s1
