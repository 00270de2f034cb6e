#!/usr/bin/env bash
# Multi-physics pretraining claim, more seeds (issue #22 item 5).
set -euo pipefail
F=$(realpath "${FNO:-target/release/fno}")
mkdir -p "${WORK:-/tmp/mps}" && cd "${WORK:-/tmp/mps}"
g() { nice $F generate "$@" --threads 1 > /dev/null; }
[ -d adv ] || g advection --beta 0.4 --samples 256 --nx 128 --nt 10 --seed 1 --out adv
[ -d bur ] || g burgers --nu 0.1 --convention pdebench --samples 256 --nx 128 --nt 10 --seed 2 --out bur
[ -d dr ] || g diffusion-reaction --nu 0.5 --rho 1 --samples 256 --nx 128 --nt 10 --seed 3 --out dr
[ -d tst ] || g burgers --nu 0.01 --convention pdebench --samples 100 --nx 128 --nt 10 --seed 12 --out tst
for s in 11 21 31; do [ -d tr$s ] || g burgers --nu 0.01 --convention pdebench --samples 160 --nx 128 --nt 10 --seed $s --out tr$s; done
A=$(ls adv/*.hdf5); B=$(ls bur/*.hdf5); D=$(ls dr/*.hdf5); T=$(ls tst/*.hdf5)
cat > pre.toml <<TOML
[data]
test_fraction = 0.1
[task]
kind = "one_shot"
[[data.sources]]
name = "advection"
file = "$A"
[[data.sources]]
name = "burgers01"
file = "$B"
[[data.sources]]
name = "diffreact"
file = "$D"
[model]
modes = [16]
width = 32
layers = 4
[train]
epochs = 60
batch_size = 16
lr = 1e-3
seed = 0
threads = 1
TOML
[ -f pre/metrics.jsonl ] || nice $F train --config pre.toml --out pre --overwrite --quiet > pre.log 2>&1
for s in 21 31; do
  R=$(ls tr$s/*.hdf5)
  for n in 32 160; do
    cat > t$s-$n.toml <<TOML
[data]
train = "$R"
test = "$T"
max_train_samples = $n
[task]
kind = "one_shot"
[model]
modes = [16]
width = 32
layers = 4
[train]
epochs = 100
batch_size = 8
lr = 1e-3
seed = $s
threads = 1
TOML
    for kind in scratch fine frozen; do
      out=r$s-$n-$kind
      [ -f $out/metrics.jsonl ] && continue
      case $kind in
        scratch) extra=() ;;
        fine) extra=(--init-from pre) ;;
        frozen) extra=(--init-from pre --set train.freeze_trunk_epochs=20) ;;
      esac
      nice $F train --config t$s-$n.toml "${extra[@]}" --out $out --overwrite --quiet > $out.log 2>&1 || echo "FAILED $out"
      echo "$s $n $kind $(tail -1 $out/metrics.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["test_rel_l2"])')" | tee -a results.txt
    done
  done
done
