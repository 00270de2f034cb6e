//! The FNO model: configuration, layers and the full operator.
//!
//! - [`config`]: [`ModelConfig`], the architecture as a validated value;
//! - [`fno`]: [`Fno`] and its [`FnoBlock`]s;
//! - [`pointwise`], [`activation`]: the 1×1 layers and GELU as fused,
//!   hand-differentiated ops (the CPU hot spots besides the FFTs), with
//!   the op, its kernels and the types they share in `pointwise_op.rs`,
//!   `pointwise_kernels.rs`, `dims.rs`, `epilogue.rs` and
//!   `saved_derivative.rs`;
//! - [`mlp`], [`grid`], [`padding`], [`resample`]: lifting/projection MLPs,
//!   grid-coordinate channels, domain padding, Fourier resampling;
//! - `block_op.rs`, `block_stack.rs`: the stack of Fourier blocks as one op
//!   when training on the input grid;
//! - `spectral_branch.rs`: a block's spectral convolution as
//!   `model.factorization` ([`Factorization`]) holds it: dense, Tucker
//!   (`tucker.rs`, TFNO) or one 1D convolution per axis (`per_axis.rs`,
//!   F-FNO);
//! - [`precision`]: mixed precision, the dtype of what the fused ops keep
//!   for their backward passes;
//! - `cuda/` (feature `cuda`): the CUDA bodies of the fused ops.
//!
//! ```no_run
//! use candle_core::{DType, Device, Tensor};
//! use candle_nn::{VarBuilder, VarMap};
//! use fno::model::{Fno, ModelConfig};
//!
//! let cfg = ModelConfig { dims: 2, modes: vec![12, 12], width: 32, ..ModelConfig::default() };
//! let map = VarMap::new();
//! let model = Fno::new(&cfg, VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu))?;
//! let x = Tensor::randn(0f32, 1.0, (4, 1, 64, 64), &Device::Cpu)?;
//! assert_eq!(model.forward(&x)?.dims(), &[4, 1, 64, 64]);
//! assert_eq!(model.forward_to(&x, &[128, 128])?.dims(), &[4, 1, 128, 128]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
pub mod activation;
mod block;
mod block_op;
mod block_stack;
pub mod config;
#[cfg(feature = "cuda")]
mod cuda;
mod dims;
mod epilogue;
mod error;
mod factorization;
pub mod fno;
pub mod grid;
mod host_kernel;
mod inference;
mod kind;
pub mod mlp;
pub mod padding;
mod per_axis;
pub mod pointwise;
mod pointwise_kernels;
mod pointwise_op;
pub mod precision;
pub mod resample;
mod row_dots;
mod saved_derivative;
mod spectral_branch;
#[cfg(test)]
mod tests_cuda_on_host;
#[cfg(test)]
pub(crate) mod testutil;
mod tucker;
pub mod unet;

pub use activation::Activation;
pub use block::FnoBlock;
pub use config::ModelConfig;
pub use error::ModelError;
pub use factorization::Factorization;
pub use fno::Fno;
pub use inference::inference;
pub use kind::ModelKind;
pub use precision::{with_precision, Precision};
pub use spectral_branch::spectral_parameter_count;
pub use tucker::tucker_ranks;
