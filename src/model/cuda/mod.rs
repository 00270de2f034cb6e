//! The model's CUDA bodies (feature `cuda`), each the device side of a CPU
//! op in the parent module, on the plumbing of [`crate::cuda`]:
//!
//! - [`epilogue`]: the pointwise layer's bias, skip and GELU after cuBLAS's
//!   GEMM, as a differentiable op, with the bias gradient's channel sum;
//! - [`multiply`]: the one-pass product that chains a saved GELU
//!   derivative into a gradient;
//! - [`gemm`]: the pointwise layer's three GEMMs through cuBLAS and the
//!   gradient ops' bodies;
//! - [`mlp`]: the channel MLP's forward pass;
//! - [`block`]: the stack of Fourier blocks, forward and backward;
//! - [`kernels`]: the launches of `kernels/pointwise.cu` the others share.
//!
//! These files import the model's shared types (`dims.rs`, `epilogue.rs`,
//! `saved_derivative.rs`, `block_stack.rs`), never the CPU op files.

pub(crate) mod block;
pub(crate) mod epilogue;
pub(crate) mod gemm;
mod kernels;
pub(crate) mod mlp;
pub(crate) mod multiply;
