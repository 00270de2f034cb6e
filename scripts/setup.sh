#!/usr/bin/env bash
# Installs what a fresh Debian or Ubuntu machine lacks to build fno: the
# system HDF5 library (libhdf5-dev), Open MPI (libopenmpi-dev, openmpi-bin)
# and libclang-dev, pkg-config, a C and C++ compiler (the unit tests
# compile the CUDA kernels for the host), and a Rust
# toolchain (rustup, with curl and CA certificates to fetch it) if none is on
# PATH, and the venv the Python package's tests use (target/python-env:
# maturin, numpy, pytest, matplotlib from PyPI). Safe to run again: it
# skips what is there.
#
# Given a command, it then runs that command with the toolchain on PATH, so
# one line works on a machine that had no Rust before it:
#   bash scripts/setup.sh cargo test
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# A rustup installed by an earlier run is on disk but not yet on this
# shell's PATH.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
if ! command -v cargo >/dev/null 2>&1 && [ -x "$cargo_home/bin/cargo" ]; then
  export PATH="$cargo_home/bin:$PATH"
  path_added=1
fi

missing=()
dpkg -s libhdf5-dev >/dev/null 2>&1 || missing+=(libhdf5-dev)
# Open MPI for data-parallel training (`mpirun -np N fno train`), and
# libclang for the bindings to it that the mpi crate generates at build time.
dpkg -s libopenmpi-dev >/dev/null 2>&1 || missing+=(libopenmpi-dev)
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
# The unit tests compile kernels/*.cu as C++20 for the host (src/kernel_host).
command -v c++ >/dev/null 2>&1 || missing+=(g++)
# The Python package's test environment (below).
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if ! command -v cargo >/dev/null 2>&1; then
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  dpkg -s ca-certificates >/dev/null 2>&1 || missing+=(ca-certificates)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Cargo.toml's rust-version: the AVX-512 intrinsics fno uses were stabilised
# in Rust 1.89.
need=89
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing the Rust toolchain with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  export PATH="$cargo_home/bin:$PATH"
  path_added=1
else
  minor=$(cargo --version | sed -E 's/^cargo 1\.([0-9]+).*/\1/')
  if [ "$minor" -lt "$need" ]; then
    if command -v rustup >/dev/null 2>&1; then
      echo "setup: cargo 1.$minor is older than 1.$need; updating the stable toolchain" >&2
      rustup update stable
    else
      echo "setup: fno needs Rust 1.$need or newer, found cargo 1.$minor and no rustup to update it" >&2
      exit 1
    fi
  fi
fi

# The Python package's tests (python/tests/, run by `cargo test` through
# tests/python.rs) need a venv with maturin, numpy, pytest and matplotlib:
# created once under target/ (ignored by git, removed with the build), from
# PyPI; later runs find it complete and touch nothing.
pyenv="$(cd "$(dirname "$0")/.." && pwd)/target/python-env"
if [ ! -f "$pyenv/.complete" ]; then
  echo "setup: creating the Python test environment in $pyenv" >&2
  rm -rf "$pyenv"
  python3 -m venv "$pyenv"
  "$pyenv/bin/pip" install -q "maturin>=1.9,<2" numpy pytest matplotlib
  touch "$pyenv/.complete"
fi

if [ "$#" -gt 0 ]; then
  exec "$@"
fi
if [ "${path_added:-0}" -eq 1 ]; then
  echo "setup: cargo is in $cargo_home/bin; put it on PATH in this shell with: . \"$cargo_home/env\"" >&2
fi
