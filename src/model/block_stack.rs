//! The sizes and the kept values of the stack of Fourier blocks, shared by
//! its CPU op (`block_op.rs`) and its CUDA body (`cuda/block.rs`).
use candle_core::{DType, Error, Result, Tensor};

use super::dims::Dims;
use super::precision::{widen, Precision};
use crate::spectral::{Geometry, Spectrum};

/// The op's name, which its errors carry.
pub(super) const NAME: &str = "fno-fourier-blocks";

/// What one block's forward pass keeps for the backward pass.
pub(super) struct Layer {
    /// The block input; `None` for the first block, whose input is the op's
    /// argument.
    pub(super) input: Option<Tensor>,
    /// `gelu'` at the pre-activation; `None` for the last block.
    pub(super) derivative: Option<Tensor>,
    /// The input's kept modes (CPU).
    pub(super) spectrum: Option<Spectrum>,
    /// The input's kept modes on the GPU, interleaved complex, flat.
    #[cfg(feature = "cuda")]
    pub(super) device_spectrum: Option<Tensor>,
}

impl Layer {
    /// The layer with its activation-sized tensors kept in `precision`
    /// (the spectrum, a small part, stays in the op's dtype).
    pub(super) fn kept_in(self, precision: Precision) -> Result<Self> {
        Ok(Self {
            input: self.input.map(|t| precision.keep(t)).transpose()?,
            derivative: self.derivative.map(|t| precision.keep(t)).transpose()?,
            ..self
        })
    }

    /// The layer with its kept tensors back in `dtype`, for the backward
    /// pass.
    pub(super) fn widened(self, dtype: DType) -> Result<Self> {
        Ok(Self {
            input: self.input.map(|t| widen(&t, dtype)).transpose()?,
            derivative: self.derivative.map(|t| widen(&t, dtype)).transpose()?,
            ..self
        })
    }
}

/// The sizes every block shares, checked against the stacked weights.
pub(super) struct Stack {
    pub(super) layers: usize,
    pub(super) geometry: Geometry,
    pub(super) pointwise: Dims,
    /// Scalars in one block's real (or imaginary) spectral weight.
    pub(super) spectral_len: usize,
    /// Scalars in one block's packed pointwise weight.
    pub(super) pointwise_len: usize,
}

impl Stack {
    /// The sizes of input `v` `[B, C, grid..]` with stacked weights `w`
    /// `[2L, C, C, modes..]` and `wb` `[L, C, C + 1]` for the requested
    /// `modes`, checked.
    pub(super) fn new(modes: &[usize], v: &[usize], w: &[usize], wb: &[usize]) -> Result<Self> {
        let layers = wb.first().copied().unwrap_or(0);
        let width = v.get(1).copied().unwrap_or(0);
        if layers == 0 || wb != [layers, width, width + 1] || w.first() != Some(&(2 * layers)) {
            return Err(Error::Msg(format!(
                "{NAME}: for input {v:?}, expected stacked weights [2L, C, C, modes..] and \
                 [L, C, C + 1], got {w:?} and {wb:?}"
            )));
        }
        let weight = &w[1..];
        let grid = &v[2..];
        let geometry = Geometry::new(NAME, v, weight, weight, modes, grid)?;
        Ok(Self {
            layers,
            pointwise: Dims {
                batch: v[0],
                c_in: width,
                c_out: width,
                points: grid.iter().product(),
            },
            geometry,
            spectral_len: weight.iter().product(),
            pointwise_len: width * (width + 1),
        })
    }
}
