#!/usr/bin/env bash
# Builds fno with `--features nccl` (CUDA and NCCL) on a machine without a
# GPU or a CUDA toolkit, and packs what a GPU machine without Rust needs to run it into
# target/gpu-carry/: the stripped `fno` binary and integration-test binary,
# the non-glibc shared libraries they load from this machine (HDF5 and its
# dependencies), scripts/gpu-run.sh, and the pure-Python packages the
# reference (benches/reference/neuraloperator/bench.py) needs beside the GPU
# machine's PyTorch, from PyPI at the versions of requirements-gpu.txt. On
# the GPU machine, run
#   bash target/gpu-carry/gpu-run.sh OUT_DIR
# from the repository root; it takes the CUDA libraries from that machine's
# PyTorch wheels.
#
# How: the CUDA 13.0 compiler and libraries come from NVIDIA's PyPI wheels
# in a venv under target/; the linker finds them through unversioned links
# in target/gpu-link/, and libcuda.so (which only a driver provides) through
# a stub with one empty function per driver symbol cudarc uses, made from
# the symbols the compiled cudarc library leaves undefined. The binaries
# record only `libcuda.so.1`, so the GPU machine's real driver library is
# the one they load.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv=$root/target/gpu-venv
link=$root/target/gpu-link
carry=$root/target/gpu-carry

if [ ! -x "$venv/bin/pip" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  'nvidia-cuda-nvcc==13.0.*' 'nvidia-nvvm==13.0.*' 'nvidia-cuda-crt==13.0.*' \
  'nvidia-cuda-runtime==13.0.*' nvidia-cuda-cccl \
  'nvidia-cublas==13.0.*' 'nvidia-cufft==12.0.*' 'nvidia-curand==10.4.*' 'nvidia-cuda-nvrtc==13.0.*' \
  nvidia-nccl-cu13
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
CU="$site/nvidia/cu13"
export PATH="$CU/bin:$PATH" CUDA_ROOT="$CU" CUDA_PATH="$CU" CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}

mkdir -p "$link"
shopt -s nullglob
for lib in "$CU"/lib/lib*.so.* "$site"/nvidia/nccl/lib/lib*.so.*; do
  base=$(basename "$lib")
  ln -sf "$lib" "$link/${base%%.so.*}.so"
done
export LIBRARY_PATH="$link${LIBRARY_PATH:+:$LIBRARY_PATH}"

build() {
  cargo test --release --features nccl --no-run --message-format=json-render-diagnostics \
    > "$root/target/gpu-build.json"
}
if ! build; then
  rlib=$(ls -t target/release/deps/libcudarc-*.rlib 2>/dev/null | head -n 1)
  if [ -z "$rlib" ]; then
    echo "gpu-bundle: the build failed before cudarc was compiled" >&2
    exit 1
  fi
  echo "gpu-bundle: linking against a stub libcuda.so made from $rlib" >&2
  nm -u "$rlib" 2>/dev/null | awk '{print $2}' | grep -E '^cu[A-Z]' | sort -u \
    | awk '{print "void " $1 "(void) {}"}' > "$link/cuda_stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/cuda_stub.c"
  build
fi
tests=$(grep -o '"executable":"[^"]*integration-[^"]*"' target/gpu-build.json | tail -n 1 | cut -d'"' -f4)
if [ -z "$tests" ]; then
  echo "gpu-bundle: no integration-test binary in the build's output" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/libs"
cp target/release/fno "$stage/fno"
cp "$tests" "$stage/integration"
strip "$stage/fno" "$stage/integration"
# Everything the binaries load from this machine but glibc, the C++
# runtime and the CUDA libraries (the GPU machine has its own).
ldd "$stage/fno" "$stage/integration" | awk '/=> \//{print $3}' | sort -u \
  | grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libpthread|libdl|librt)\.so' \
  | grep -v -E '/lib(cuda|cudart|cublas|cublasLt|cufft|curand|nvrtc|nccl)\.so' \
  | xargs -r -I{} cp -L {} "$stage/libs/"
# The reference's pure-Python packages; the GPU machine has PyTorch and
# NumPy but no network.
"$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$stage/wheels" \
  $(grep -E '^(neuraloperator|tensorly|tensorly-torch|opt_einsum)==' benches/reference/neuraloperator/requirements-gpu.txt)
mkdir -p "$stage/python"
for wheel in "$stage"/wheels/*.whl; do
  "$venv/bin/python" -m zipfile -e "$wheel" "$stage/python"
done
rm -rf "$stage/wheels"
mkdir -p "$carry"
tar -cJf "$carry/bundle.tar.xz" -C "$stage" .
cp scripts/gpu-run.sh "$carry/gpu-run.sh"
echo "gpu-bundle: $(du -h "$carry/bundle.tar.xz" | cut -f1) in $carry; carry target/gpu-carry and run: bash target/gpu-carry/gpu-run.sh \$OUT"
