#!/usr/bin/env bash
# The data-parallel step and memory on one machine, from `fno bench` and
# `fno train`:
#  1. `fno bench` on the FNO-2D bench config (64x64, width 32, modes 12,
#     4 layers, global batch 20), 1 process x 1 thread against 2 MPI ranks
#     x 1 thread (10 samples each), ROUNDS times alternately: step times,
#     the all-reduce's time and share, and the efficiency
#     t(1 process) / (2 t(2 ranks)); beside them, the machine's own ceiling:
#     two independent processes of 10 samples each at the same time, with
#     no communication, t(1 process) / (2 t(both at once)). On a VM whose
#     vCPUs share a core's resources the ceiling is below 1, and no
#     communicator can beat it.
#  2. Peak resident memory (VmHWM, from GNU time) of each rank of a 2-rank
#     `fno train` epoch against one process's, on a generated Darcy file of
#     SAMPLES samples at 128x128.
#   bash benches/mpi_bench.sh [ROUNDS] [SAMPLES]
set -euo pipefail
rounds=${1:-3}
samples=${2:-2000}
fno=${FNO:-target/release/fno}
mpi=(mpirun --oversubscribe --allow-run-as-root --bind-to none)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
bench=("$fno" bench --threads 1 --batch 20 --steps 10 --json)
half=("$fno" bench --threads 1 --batch 10 --steps 10 --json)
for round in $(seq 1 "$rounds"); do
  one=$("${bench[@]}")
  two=$("${mpi[@]}" -np 2 "${bench[@]}")
  "${half[@]}" > "$work/a.json" & "${half[@]}" > "$work/b.json"; wait
  python3 - "$round" "$one" "$two" "$work/a.json" "$work/b.json" <<'PY'
import json, sys
r, one, two = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
apart = [json.load(open(p))["train_step_ms"] for p in sys.argv[4:6]]
t1, t2, ar = one["train_step_ms"], two["train_step_ms"], two["all_reduce_ms"]
print(f"round {r}: step 1 process {t1:.1f} ms (all-reduce {one['all_reduce_ms']:.4f} ms), "
      f"2 ranks {t2:.1f} ms (all-reduce {ar:.2f} ms = {100 * ar / t2:.1f}%), "
      f"efficiency {t1 / (2 * t2):.3f}; 2 lone processes of 10 {max(apart):.1f} ms, "
      f"ceiling {t1 / (2 * max(apart)):.3f}")
PY
done

"$fno" generate darcy --samples "$samples" --nx 128 --seed 3 --out "$work/data" > /dev/null
data=$(ls "$work"/data/*.hdf5)
echo "data: $(du -m "$data" | cut -f1) MB, $samples samples at 128x128"
cat > "$work/mem.toml" <<TOML
[data]
train = "$data"
test_fraction = 0.1
[task]
kind = "one_shot"
[model]
modes = [12]
width = 32
layers = 4
[train]
epochs = 1
batch_size = 20
threads = 1
TOML
/usr/bin/time -f "1 process: peak RSS %M KiB" "$fno" train --config "$work/mem.toml" \
  --out "$work/one" --quiet > /dev/null
"${mpi[@]}" -np 2 sh -c "/usr/bin/time -f \"rank \$OMPI_COMM_WORLD_RANK of 2: peak RSS %M KiB\" $fno train --config $work/mem.toml --out $work/two --quiet > /dev/null"
