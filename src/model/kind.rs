//! [`ModelKind`]: which network `model.kind` builds.
use serde::{Deserialize, Serialize};

/// The network behind an [`crate::model::Fno`] (`model.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// The Fourier neural operator: lifting, Fourier blocks, projection.
    #[default]
    Fno,
    /// The convolutional U-Net baseline of [`crate::model::unet`], sized by
    /// `model.unet_features` and `model.unet_levels`; it maps a function
    /// onto its input's grid only.
    Unet,
}
