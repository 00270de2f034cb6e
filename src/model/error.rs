//! Errors of the model area: invalid configurations, inputs that do not fit
//! the model, and failures of the tensor library underneath.
use thiserror::Error;

/// Everything that can go wrong while building or running an FNO.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A configuration value makes no sense; `field` names it as it is
    /// spelled in the TOML config.
    #[error("invalid model config: `{field}` {reason}")]
    InvalidConfig {
        /// The offending setting, as spelled in the config file or on the
        /// command line.
        field: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// The input tensor does not have the shape the model was built for.
    #[error(
        "input shape {got:?} does not fit the model: expected [batch, {channels}, ..] \
         with {dims} grid axes"
    )]
    InputShape {
        /// Number of input channels the model expects.
        channels: usize,
        /// Number of spatial axes the model expects.
        dims: usize,
        /// The shape that was passed.
        got: Vec<usize>,
    },
    /// The requested output grid has the wrong number of axes or a zero size.
    #[error("output grid {got:?} is invalid: expected {dims} sizes, each at least 1")]
    OutputGrid {
        /// Number of spatial axes the model expects.
        dims: usize,
        /// The grid that was requested.
        got: Vec<usize>,
    },
    /// A U-Net (`model.kind = "unet"`) was given a grid it cannot map.
    #[error("a U-Net (model.kind = \"unet\") {reason}")]
    UNetGrid {
        /// What is wrong with the grid.
        reason: String,
    },
    /// A spectral convolution could not be built.
    #[error(transparent)]
    Spectral(#[from] crate::spectral::SpectralError),
    /// An error of the tensor library (candle), including those raised
    /// inside the ops of the spectral layers.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
}
