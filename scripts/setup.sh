#!/usr/bin/env bash
# Installs what a fresh Debian or Ubuntu machine lacks to build fno:
# the system HDF5 library (libhdf5-dev) and pkg-config, and a Rust
# toolchain if none is on PATH. Safe to run again: it skips what is there.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
dpkg -s libhdf5-dev >/dev/null 2>&1 || missing+=(libhdf5-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing the Rust toolchain with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  echo "setup: run 'source \$HOME/.cargo/env' or open a new shell to put cargo on PATH" >&2
else
  # Cargo.toml's rust-version: the AVX-512 intrinsics fno uses were
  # stabilised in Rust 1.89.
  need=89
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
