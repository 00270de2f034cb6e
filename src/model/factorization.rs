//! [`Factorization`]: how a Fourier block's spectral weights are held.
use serde::{Deserialize, Serialize};

/// How each Fourier block's spectral convolution holds its weights
/// (`model.factorization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factorization {
    /// One dense complex weight `[width, width, 2m_1, .., m_d]` per block
    /// (the original FNO).
    #[default]
    Dense,
    /// TFNO (Kossaifi et al.): the same dense weight as a complex Tucker
    /// tensor, a core and one factor per mode (in, out, each axis), with
    /// ranks sized by `model.rank` as tensorly's `validate_tucker_rank`
    /// does for a fractional rank; the dense weight is rebuilt from them
    /// on every forward pass.
    Tucker,
    /// F-FNO (Tran et al., 2023): per spatial axis one convolution along
    /// that axis only (a real FFT along it, a complex weight
    /// `[width, width, m_axis]` on its modes `0 <= k < m_axis`, the inverse
    /// FFT), and the block's spectral branch is their sum. In 1D it is the
    /// dense convolution.
    PerAxis,
}
