//! fno: Fourier neural operators for PDE surrogates.
//!
//! The library is the product; the `fno` binary (`src/main.rs`, `src/cli/`)
//! is one client of it. Modules follow `docs/ARCHITECTURE.md`:
//!
//! - [`alloc`]: allocator tuning for large, short-lived buffers;
//! - [`data`]: streaming readers for every PDEBench HDF5 layout;
//! - [`device`]: naming and opening the device a model runs on;
//! - [`dist`]: the processes of a job (one, or several under MPI) and
//!   their collectives;
//! - [`spectral`]: FFTs and spectral convolution as differentiable ops;
//! - [`model`]: the FNO model and its configuration;
//! - [`physics`]: PDE residuals (spectral in space, finite differences in time);
//! - [`rundir`]: the run directory's files, their formats and atomic
//!   writes, for every command that reads or writes a run;
//! - [`train`]: optimiser, schedules, checkpoints and the training loop;
//! - [`solvers`]: numerical PDE solvers that generate training data;
//! - [`eval`]: PDEBench metrics, energy spectra and PNG plots;
//! - [`inverse`]: recovering inputs from observed outputs through a trained
//!   operator;
//! - [`finetune`]: test-time physics fine-tuning of one instance;
//! - [`bench`]: the timing behind `fno bench`;
//! - [`export`]: a trained run as neuraloperator's `FNO` (state dict and
//!   constructor arguments);
//! - [`memory`]: the memory a model needs against what the machine has.
//!
//! With the `cuda` feature, the private `cuda` module holds the plumbing
//! every concern's CUDA bodies share (kernel loading and launch, device
//! buffer views, dtype dispatch, the CUDA error type).
#![warn(missing_docs)]

pub mod alloc;
pub mod bench;
mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
pub mod data;
pub mod device;
mod disjoint;
pub mod dist;
pub mod eval;
pub mod export;
pub mod finetune;
pub mod inverse;
#[cfg(test)]
mod kernel_host;
pub mod memory;
pub mod model;
pub mod physics;
pub mod rundir;
mod seeds;
pub mod solvers;
pub mod spectral;
pub mod train;
