//! A Fourier block's spectral branch `K` in the form `model.factorization`
//! names: dense, Tucker-factorised (TFNO) or per axis (F-FNO).
use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::config::ModelConfig;
use super::error::ModelError;
use super::factorization::Factorization;
use super::per_axis::PerAxisConv;
use super::tucker::{tucker_parameter_count, TuckerConv};
use crate::spectral::{ModeClip, SpectralConv, SpectralConvConfig};

/// The spectral convolution of one Fourier block, `width → width`.
///
/// Its parameters live under the block's `spectral`: `weight_re`,
/// `weight_im` (dense), the Tucker core and factors (see `TuckerConv`), or
/// `axis{a}.weight_re`, `axis{a}.weight_im` (per axis).
#[derive(Debug, Clone)]
pub(super) enum SpectralBranch {
    Dense(SpectralConv),
    Tucker(TuckerConv),
    PerAxis(PerAxisConv),
}

fn layer_config(cfg: &ModelConfig) -> SpectralConvConfig {
    SpectralConvConfig {
        in_channels: cfg.width,
        out_channels: cfg.width,
        modes: cfg.modes.clone(),
        backend: cfg.backend,
    }
}

impl SpectralBranch {
    /// Creates (or loads) the branch `cfg.factorization` asks for.
    pub(super) fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self, ModelError> {
        let layer = layer_config(cfg);
        Ok(match cfg.factorization {
            Factorization::Dense => {
                Self::Dense(SpectralConv::with_init(&layer, cfg.spectral_init, vb)?)
            }
            Factorization::Tucker => Self::Tucker(TuckerConv::new(&layer, cfg.rank, vb)?),
            Factorization::PerAxis => Self::PerAxis(PerAxisConv::new(&layer, vb)?),
        })
    }

    /// The branch on `v` onto `out_grid`.
    ///
    /// # Shapes
    /// `v`: `[batch, width, grid..]` -> `[batch, width, out_grid..]`.
    pub(super) fn forward_to(&self, v: &Tensor, out_grid: &[usize]) -> Result<Tensor, ModelError> {
        match self {
            Self::Dense(conv) => Ok(conv.forward_to(v, out_grid)?),
            Self::Tucker(conv) => conv.forward_to(v, out_grid),
            Self::PerAxis(conv) => conv.forward_to(v, out_grid),
        }
    }

    /// The modes kept from `in_grid` to `out_grid` when they are fewer than
    /// the requested ones.
    pub(super) fn clipped_modes_to(
        &self,
        in_grid: &[usize],
        out_grid: &[usize],
    ) -> Option<ModeClip> {
        match self {
            Self::Dense(conv) => conv.clipped_modes_to(in_grid, out_grid),
            Self::Tucker(conv) => conv.clipped_modes_to(in_grid, out_grid),
            Self::PerAxis(conv) => conv.clipped_modes_to(in_grid, out_grid),
        }
    }

    /// The dense layer, which the fused block-stack op can take, if the
    /// branch is one.
    pub(super) fn as_dense(&self) -> Option<&SpectralConv> {
        match self {
            Self::Dense(conv) => Some(conv),
            Self::Tucker(_) | Self::PerAxis(_) => None,
        }
    }

    /// Number of trainable scalars.
    pub(super) fn num_parameters(&self) -> usize {
        match self {
            Self::Dense(conv) => conv.weight_re().elem_count() + conv.weight_im().elem_count(),
            Self::Tucker(conv) => conv.num_parameters(),
            Self::PerAxis(conv) => conv.num_parameters(),
        }
    }
}

/// Trainable scalars of one block's spectral branch with the settings of
/// `cfg`, as a float so that absurd sizes do not overflow (it equals the
/// built branch's count): `2 · width² · Π(2m_1, .., m_d)` dense, the Tucker
/// core and factors at `model.rank`, `2 · width² · Σ m_a` per axis.
pub fn spectral_parameter_count(cfg: &ModelConfig) -> f64 {
    let w = cfg.width as f64;
    let last = cfg.modes.len().saturating_sub(1);
    let dense_shape = cfg.modes.iter().enumerate().map(|(axis, &m)| {
        if axis == last {
            m as f64
        } else {
            2.0 * m as f64
        }
    });
    match cfg.factorization {
        Factorization::Dense => 2.0 * w * w * dense_shape.product::<f64>(),
        Factorization::Tucker => {
            tucker_parameter_count(&layer_config(cfg).weight_shape(), cfg.rank)
        }
        Factorization::PerAxis => 2.0 * w * w * cfg.modes.iter().map(|&m| m as f64).sum::<f64>(),
    }
}
