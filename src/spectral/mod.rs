//! Fourier machinery: differentiable FFTs and the spectral convolution.
//!
//! - [`fft`]: real and complex FFTs along an axis as candle custom ops with
//!   hand-written backward passes (rustfft on the CPU, cuFFT on CUDA with
//!   the `cuda` feature; f32 and f64). Complex values travel as a trailing
//!   axis of size 2 (`re`, `im`).
//! - [`SpectralConv`]: the FNO Fourier layer (1D, 2D, 3D), whose FFT, mode
//!   mixing and inverse FFT run as one fused custom op on the CPU and on
//!   CUDA, with a dense truncated-DFT implementation from plain candle ops
//!   as the test oracle and the backend for other devices
//!   ([`SpectralBackend`]).
//! - [`ModeClip`]: what a grid too small for the requested modes keeps.
//! - [`SpectralError`]: the typed errors of all of the above.
//!
//! # Conventions
//!
//! The forward transforms of the layer divide by the number of grid points
//! and the inverse ones do not, so spectral coefficients approximate the
//! continuous Fourier coefficients at every resolution; the standalone
//! [`fft`] ops follow numpy instead (forward unnormalised, inverse divided by
//! `n`).

mod conv;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
mod dense;
#[cfg(any(test, feature = "cuda"))]
mod dft_plan;
mod error;
pub mod fft;
mod fused;
mod geometry;
mod host;
mod kernels;
mod modes;
mod plan;
mod pruned;
#[cfg(test)]
mod tests_cuda_kernels_on_host;
#[cfg(test)]
pub(crate) mod testutil;
mod transforms;

pub use conv::{SpectralBackend, SpectralConv, SpectralConvConfig, SpectralInit};
pub use error::SpectralError;
pub(crate) use fused::{
    backward as fused_backward, forward as fused_forward, Cached, Spectrum, Wanted,
};
pub(crate) use geometry::Geometry;
pub(crate) use host::HostView;
pub use modes::ModeClip;
pub use transforms::{cuda_transforms, set_cuda_transforms, CudaTransforms};
