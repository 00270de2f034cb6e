//! The spectral ops on CUDA (feature `cuda`): the `cuda_fwd` of the FFT ops
//! in [`super::fft`] ([`fft`]) and the forward and backward of the fused
//! spectral convolution in [`super::fused`] ([`fused`]).
//!
//! The math is the CPU's, step for step: real FFTs along the last axis,
//! complex FFTs along the others over the kept columns only, the complex
//! mode mixing, and the way back (see [`super::fused`] for the formulas).
//! The transforms run as batched cuFFT plans ([`plan`]); what cuFFT cannot
//! express (keeping a subset of bins, zero padding, per-bin weights, moving
//! the transformed axis last, the mixing and its adjoints) runs in our
//! kernels, `kernels/spectral.cu`, loaded and launched through
//! [`crate::cuda`]. [`transform`] chains the two into whole-grid analysis
//! and synthesis; with `--cuda-transforms direct` it runs them instead as
//! direct pruned DFTs, one launch of `kernels/dft.cu` per axis ([`direct`]).
//!
//! Complex values live in device buffers as interleaved `(re, im)` pairs,
//! the same layout as the ops' `[.., 2]` tensors, so inputs and outputs move
//! between candle and the kernels without copies.

pub(crate) mod direct;
pub(crate) mod fft;
pub(crate) mod fused;
pub(crate) mod plan;
pub(crate) mod transform;
