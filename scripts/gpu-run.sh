#!/usr/bin/env bash
# Runs on a GPU machine (no Rust needed), from the repository root, with
# the bundle scripts/gpu-bundle.sh made in target/gpu-carry/: unpacks it,
# points the loader at the CUDA libraries of the machine's PyTorch wheels,
# and writes into OUT_DIR the GPU's description, the GPU tests' output
# (each CUDA op and the whole model against the CPU to 1e-4), `fno bench`
# on a 3D configuration (64³, width 32, modes 12, 4 layers, batch 4), and
# ROUNDS (default 3) interleaved rounds of `fno bench` on the FNO-2D bench
# config at batch 20 and 128 (and 128 with train.precision bf16) beside
# neuraloperator's bench.py on the same model (full precision at both
# batches, mixed precision at 128); the 3D bench and the batch-128 ones
# also run with --cuda-transforms direct (one pruned DFT kernel per axis
# instead of cuFFT), so each round compares the two transforms; the GPU
# tests include NCCL's at world size 1 and the direct transforms';
# REFERENCE=0 leaves the reference out.
# PROFILE=1 instead runs only Nsight Compute (ncu, where the machine has
# it) over one batch-128 bench of each transform path and writes where the
# kernel time goes (benches/ncu_summary.py) into OUT_DIR/ncu-*.md: a short
# second call after the first.
#   ROUNDS=1 REFERENCE=0 bash target/gpu-carry/gpu-run.sh OUT_DIR
#   PROFILE=1 bash target/gpu-carry/gpu-run.sh OUT_DIR
set -u
out=${1:?usage: gpu-run.sh OUT_DIR}
mkdir -p "$out"
work=$(mktemp -d)
tar -xJf target/gpu-carry/bundle.tar.xz -C "$work"
torch=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
nvidia=$(dirname "$torch")/nvidia
cuda_libs=$(find "$nvidia" -maxdepth 3 -type d -name lib | tr '\n' ':')
export LD_LIBRARY_PATH="${cuda_libs}$work/libs"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1
ldd "$work/integration" | grep 'not found' > "$out/missing-libraries.txt"
if [ "${PROFILE:-0}" = 1 ]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
  if [ -z "$ncu" ]; then
    echo "no ncu on this machine" > "$out/ncu-missing.txt"
    exit 0
  fi
  for transforms in cufft direct; do
    timeout 240 "$ncu" --metrics gpu__time_duration.sum --csv "$work/fno" bench --dims 2 \
      --size 64 --width 32 --modes 12 --layers 4 --batch 128 --steps 1 --device cuda --json \
      --cuda-transforms "$transforms" > "$out/ncu-$transforms.csv" 2> "$out/ncu-$transforms.err"
    python3 benches/ncu_summary.py "$out/ncu-$transforms.csv" > "$out/ncu-$transforms.md" 2>&1
  done
  exit 0
fi
timeout 300 "$work/integration" --ignored cuda --test-threads 1 > "$out/gpu-tests.txt" 2>&1
echo "exit status $?" >> "$out/gpu-tests.txt"
reference() {
  PYTHONPATH="$work/python" timeout 300 python3 benches/reference/neuraloperator/offline.py \
    2d --device cuda "$@" >> "$out/reference.jsonl" 2>> "$out/reference.err"
}
for transforms in cufft direct; do
  timeout 120 "$work/fno" bench --dims 3 --size 64 --width 32 --modes 12 --layers 4 \
    --batch 4 --steps 20 --device cuda --json --cuda-transforms "$transforms" \
    >> "$out/bench-3d.jsonl" 2>> "$out/bench.err"
done
for round in $(seq 1 "${ROUNDS:-3}"); do
  for batch in 20 128; do
    timeout 120 "$work/fno" bench --dims 2 --size 64 --width 32 --modes 12 --layers 4 \
      --steps 50 --device cuda --json --batch "$batch" >> "$out/bench.jsonl" 2>> "$out/bench.err"
    [ "${REFERENCE:-1}" = 0 ] || reference --batch "$batch"
  done
  for precision in f32 bf16; do
    timeout 120 "$work/fno" bench --dims 2 --size 64 --width 32 --modes 12 --layers 4 \
      --steps 50 --device cuda --json --batch 128 --precision "$precision" \
      --cuda-transforms direct >> "$out/bench.jsonl" 2>> "$out/bench.err"
  done
  timeout 120 "$work/fno" bench --dims 2 --size 64 --width 32 --modes 12 --layers 4 \
    --steps 50 --device cuda --json --batch 128 --precision bf16 >> "$out/bench.jsonl" 2>> "$out/bench.err"
  [ "${REFERENCE:-1}" = 0 ] || reference --batch 128 --precision mixed
done
tail -n 3 "$out/gpu-tests.txt"
