//! The CUDA plumbing every concern's CUDA bodies share (feature `cuda`):
//!
//! - [`kernel`]: the PTX modules `build.rs` compiles from `kernels/*.cu`,
//!   loading and launching their kernels, and moving small host tables
//!   (indices, weights) to the device;
//! - [`gemm`]: one strided-batched cuBLAS GEMM on candle's stream;
//! - [`storage`]: typed views of candle's CUDA storages, the f32/f64
//!   dispatch, and wrapping device buffers back into storages and tensors;
//! - [`real`]: [`GpuReal`], the float types the kernels are compiled for;
//! - [`error`]: [`CudaError`], what the plumbing and the CUDA libraries'
//!   wrappers report, as one candle error.
//!
//! The bodies themselves live with their concern (`spectral/cuda/`,
//! `model/cuda/`, `train/cuda/`) and import from here, never from each
//! other's CPU code.

pub(crate) mod error;
pub(crate) mod gemm;
pub(crate) mod kernel;
pub(crate) mod real;
pub(crate) mod storage;

pub(crate) use error::CudaError;
pub(crate) use gemm::BatchedGemm;
pub(crate) use kernel::{config, u32_of, upload_index, upload_real, Kernel, Module};
pub(crate) use real::GpuReal;
pub(crate) use storage::{by_dtype, cuda_of, tensor, view, wrap};
