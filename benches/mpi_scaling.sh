#!/usr/bin/env bash
# Data-parallel scaling on one machine: trains the FNO-2D bench model
# (64x64 Darcy, width 32, modes 12, 4 layers, global batch 20) for EPOCHS
# epochs as 1 process x 1 thread and as 2 MPI ranks x 1 thread each, ROUNDS
# times alternately, and prints each run's training throughput (samples/s
# of the last epoch, from metrics.jsonl), beside 1 process x 2 threads (the
# other way to use two cores). Scaling efficiency = throughput of 2 ranks /
# (2 x throughput of 1 process).
#   bash benches/mpi_scaling.sh [ROUNDS] [EPOCHS]
set -euo pipefail
rounds=${1:-3}
epochs=${2:-2}
fno=${FNO:-target/release/fno}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$fno" generate darcy --samples 220 --nx 64 --seed 3 --out "$work/data" > /dev/null
data=$(ls "$work"/data/*.hdf5)
cat > "$work/bench.toml" <<TOML
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
epochs = $epochs
batch_size = 20
threads = 1
TOML
last_rate() {
  tail -n 1 "$1/metrics.jsonl" | sed -E 's/.*"samples_per_s":([0-9.eE+-]+).*/\1/'
}
for round in $(seq 1 "$rounds"); do
  "$fno" train --config "$work/bench.toml" --out "$work/one-$round" --quiet > /dev/null
  mpirun --oversubscribe --allow-run-as-root -np 2 "$fno" train --config "$work/bench.toml" \
    --out "$work/two-$round" --quiet > /dev/null
  "$fno" train --config "$work/bench.toml" --out "$work/threads-$round" --quiet \
    --set train.threads=2 > /dev/null
  one=$(last_rate "$work/one-$round")
  two=$(last_rate "$work/two-$round")
  threads=$(last_rate "$work/threads-$round")
  python3 -c "import sys; o, t, h = map(float, sys.argv[1:]); print(f'round $round: 1 process {o:.2f} samples/s, 2 ranks {t:.2f}, efficiency {t / (2 * o):.3f}; 1 process x 2 threads {h:.2f}')" "$one" "$two" "$threads"
done
