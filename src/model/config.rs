//! [`ModelConfig`]: the FNO architecture as a documented, validated value.
//!
//! ```
//! use fno::model::ModelConfig;
//!
//! let cfg: ModelConfig = toml::from_str("dims = 2\nmodes = [12, 12]\nwidth = 32").unwrap();
//! cfg.validate().unwrap();
//! assert_eq!(cfg.layers, 4);
//! assert!(toml::from_str::<ModelConfig>("widht = 32").is_err());
//! ```
use serde::{Deserialize, Serialize};

use super::activation::Activation;
use super::error::ModelError;
use super::factorization::Factorization;
use super::kind::ModelKind;
use crate::spectral::{SpectralBackend, SpectralInit};

/// Architecture of a Fourier neural operator.
///
/// Every field has a default, so a TOML table only lists what it changes;
/// unknown keys are rejected. The defaults follow neuraloperator's `FNO`
/// (channel ratios 2, GELU, grid embedding on, no domain padding), with one
/// difference in how modes are counted: see [`ModelConfig::modes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of spatial axes, 1 to 3. Default: 1.
    pub dims: usize,
    /// Fourier modes kept per axis, one entry per spatial axis. On the last
    /// axis the modes `0..m` are kept; on the others `-m..m` (the first `m`
    /// and last `m` FFT bins). neuraloperator counts every kept mode, so its
    /// `n_modes = (24, 24)` is `modes = [12, 12]` here. Training refuses
    /// more modes than its grid holds (`n/2` on each axis but the last,
    /// `n/2 + 1` on the last, after padding: [`crate::train::fit`]); a
    /// coarser grid at inference uses the modes it holds. Default: `[16]`.
    pub modes: Vec<usize>,
    /// Channels of the hidden representation inside the Fourier blocks.
    /// Default: 64.
    pub width: usize,
    /// Number of Fourier blocks. Default: 4.
    pub layers: usize,
    /// Channels of the input function (grid channels not counted).
    /// Default: 1.
    pub in_channels: usize,
    /// Channels of the output function. Default: 1.
    pub out_channels: usize,
    /// Hidden channels of the lifting MLP, as a multiple of `width`.
    /// Default: 2.
    pub lifting_ratio: usize,
    /// Hidden channels of the projection MLP, as a multiple of `width`.
    /// Default: 2.
    pub projection_ratio: usize,
    /// Domain padding as a fraction of each axis, zero on periodic axes;
    /// either empty (no padding, the default) or one entry per axis, each in
    /// `[0, 1)`. The padding is `round(fraction * n)` zeros on the right of
    /// an axis of size `n`, recomputed for every resolution. On a Well data
    /// set a single entry is spread over the axes by their boundary
    /// conditions (none along periodic ones).
    pub padding: Vec<f64>,
    /// Non-linearity between layers. Default: GELU.
    pub activation: Activation,
    /// How the spectral convolutions transform (see
    /// [`crate::spectral::SpectralBackend`]). Default: the spectral module's.
    pub backend: SpectralBackend,
    /// Whether to append one coordinate channel per axis to the input
    /// (cell-centred coordinates on `[0, 1)`). Default: true.
    pub grid_channels: bool,
    /// neuraloperator 2.0.0's block: when above 0, each Fourier block ends in a
    /// channel MLP with `round(channel_mlp_expansion · width)` hidden
    /// channels and a soft-gating skip (neuraloperator's default is 0.5;
    /// see [`crate::model::FnoBlock`]). 0 (the default) keeps the original
    /// FNO block. Such blocks do not run as the fused stack op, so a
    /// training step costs more than the MLP's own arithmetic.
    pub channel_mlp_expansion: f64,
    /// How each block's spectral weights are held: `"dense"` (the
    /// default), `"tucker"` (TFNO, sized by [`ModelConfig::rank`]) or
    /// `"per_axis"` (F-FNO); see [`Factorization`]. The factorised forms
    /// run their blocks one by one, not as the fused stack op.
    pub factorization: Factorization,
    /// With `factorization = "tucker"`, the fraction of the dense spectral
    /// weight's parameters the Tucker core and factors hold, in `(0, 1]`
    /// (neuraloperator's `TFNO(rank=...)`). Default: 0.1, TFNO's.
    pub rank: f64,
    /// How fresh dense spectral weights are drawn: `"uniform"` (the
    /// default, the original FNO's near-zero start) or `"normal"`
    /// (neuraloperator's, standard deviation `sqrt(2/(2 width))`); see
    /// [`SpectralInit`]. Only `factorization = "dense"` takes `"normal"`.
    pub spectral_init: SpectralInit,
    /// The network: `"fno"` (the default) or `"unet"`, the convolutional
    /// baseline of [`crate::model::unet`] (1 or 2 axes, dense
    /// factorization, no channel MLP, no padding; every grid axis divisible
    /// by `2^unet_levels`). A U-Net ignores the Fourier settings (`modes`,
    /// `width`, `layers`, the ratios) but keeps `activation` and
    /// `grid_channels`.
    pub kind: ModelKind,
    /// With `kind = "unet"`: channels of the finest level, doubled at each
    /// level down. Default: 32, PDEBench's `init_features`.
    pub unet_features: usize,
    /// With `kind = "unet"`: number of 2× poolings. Default: 4.
    pub unet_levels: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            dims: 1,
            modes: vec![16],
            width: 64,
            layers: 4,
            in_channels: 1,
            out_channels: 1,
            lifting_ratio: 2,
            projection_ratio: 2,
            padding: Vec::new(),
            activation: Activation::default(),
            backend: SpectralBackend::default(),
            grid_channels: true,
            channel_mlp_expansion: 0.0,
            factorization: Factorization::Dense,
            rank: 0.1,
            spectral_init: SpectralInit::Uniform,
            kind: ModelKind::Fno,
            unet_features: 32,
            unet_levels: 4,
        }
    }
}

/// More poolings than any grid fits; the bound keeps `2^levels` and the
/// feature counts far from overflow.
const MAX_UNET_LEVELS: usize = 16;

fn invalid(field: &'static str, reason: impl Into<String>) -> ModelError {
    ModelError::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

impl ModelConfig {
    /// Checks every field and reports the first one that makes no sense.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !(1..=3).contains(&self.dims) {
            return Err(invalid(
                "dims",
                format!("must be 1, 2 or 3, got {}", self.dims),
            ));
        }
        if self.modes.len() != self.dims {
            return Err(invalid(
                "modes",
                format!(
                    "needs one entry per axis ({}), got {}",
                    self.dims,
                    self.modes.len()
                ),
            ));
        }
        for (field, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        if !self.padding.is_empty() && self.padding.len() != self.dims {
            return Err(invalid(
                "padding",
                format!(
                    "needs no entry or one per axis ({}), got {}",
                    self.dims,
                    self.padding.len()
                ),
            ));
        }
        self.validate_chosen()?;
        self.validate_unet()
    }

    /// Refuses the settings a U-Net cannot honour (only when
    /// `kind = "unet"`).
    fn validate_unet(&self) -> Result<(), ModelError> {
        if self.kind != ModelKind::Unet {
            return Ok(());
        }
        if !(1..=2).contains(&self.dims) {
            return Err(invalid(
                "dims",
                format!("must be 1 or 2 with kind = \"unet\", got {}", self.dims),
            ));
        }
        if self.unet_levels > MAX_UNET_LEVELS {
            return Err(invalid(
                "unet_levels",
                format!(
                    "must be at most {MAX_UNET_LEVELS}, got {}",
                    self.unet_levels
                ),
            ));
        }
        let deepest = self.unet_features << self.unet_levels;
        if (deepest >> self.unet_levels) != self.unet_features
            || deepest.checked_mul(deepest).is_none()
        {
            return Err(invalid(
                "unet_features",
                format!(
                    "{} with unet_levels = {}: the weight count overflows",
                    self.unet_features, self.unet_levels
                ),
            ));
        }
        if self.factorization != Factorization::Dense {
            return Err(invalid(
                "factorization",
                "must be \"dense\" with kind = \"unet\"",
            ));
        }
        if self.channel_mlp_expansion != 0.0 {
            return Err(invalid(
                "channel_mlp_expansion",
                "must be 0 with kind = \"unet\"",
            ));
        }
        if self.padding.iter().any(|&f| f != 0.0) {
            return Err(invalid(
                "padding",
                "must be empty or zero with kind = \"unet\"",
            ));
        }
        Ok(())
    }

    /// The factor every grid axis must be divisible by: `2^unet_levels`
    /// for a U-Net, 1 for an FNO.
    pub fn grid_multiple(&self) -> usize {
        match self.kind {
            ModelKind::Fno => 1,
            ModelKind::Unet => 1 << self.unet_levels.min(MAX_UNET_LEVELS),
        }
    }

    /// Checks the fields a user chooses, leaving out those derived from
    /// the data (`dims`, the channels, how many `modes` and `padding`
    /// entries): zero sizes, padding fractions outside `[0, 1)`, and sizes
    /// whose weight count does not even fit in a machine word (whether
    /// the model fits in memory is checked where it is built).
    pub fn validate_chosen(&self) -> Result<(), ModelError> {
        if self.modes.contains(&0) {
            return Err(invalid("modes", "every entry must be at least 1"));
        }
        let positive = [
            ("unet_features", self.unet_features),
            ("unet_levels", self.unet_levels),
            ("width", self.width),
            ("layers", self.layers),
            ("lifting_ratio", self.lifting_ratio),
            ("projection_ratio", self.projection_ratio),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        if !(self.channel_mlp_expansion.is_finite() && self.channel_mlp_expansion >= 0.0) {
            return Err(invalid(
                "channel_mlp_expansion",
                format!(
                    "must be 0 (no channel MLP) or positive, got {}",
                    self.channel_mlp_expansion
                ),
            ));
        }
        if self.channel_mlp_expansion > 0.0 && self.channel_mlp_hidden() == 0 {
            return Err(invalid(
                "channel_mlp_expansion",
                format!(
                    "{} of width {} rounds to no hidden channel; use at least {}",
                    self.channel_mlp_expansion,
                    self.width,
                    0.5 / self.width as f64
                ),
            ));
        }
        if !(self.rank > 0.0 && self.rank <= 1.0) {
            return Err(invalid(
                "rank",
                format!(
                    "must lie in (0, 1] (a fraction of the dense weight's parameters), got {}",
                    self.rank
                ),
            ));
        }
        if self.spectral_init != SpectralInit::Uniform && self.factorization != Factorization::Dense
        {
            return Err(invalid(
                "spectral_init",
                "\"normal\" needs factorization = \"dense\"",
            ));
        }
        if let Some(bad) = self
            .padding
            .iter()
            .find(|f| !(f.is_finite() && (0.0..1.0).contains(*f)))
        {
            return Err(invalid(
                "padding",
                format!("fractions must lie in [0, 1), got {bad}"),
            ));
        }
        self.check_weight_count()
    }

    /// Hidden channels of each block's channel MLP; 0 when the blocks have
    /// none.
    pub fn channel_mlp_hidden(&self) -> usize {
        if self.channel_mlp_expansion > 0.0 {
            // Python's round (to even on ties), so that neuraloperator's
            // `round(width * channel_mlp_expansion)` gives the same size.
            (self.channel_mlp_expansion * self.width as f64).round_ties_even() as usize
        } else {
            0
        }
    }

    /// Refuses sizes whose largest weight tensors overflow a `usize`: a
    /// spectral block has `2 · width² · Π(2·modes)` values, the lifting
    /// and projection MLPs `width² · ratio`.
    fn check_weight_count(&self) -> Result<(), ModelError> {
        let spectral = self
            .modes
            .iter()
            .try_fold(2 * self.width, |n, &m| n.checked_mul(m.checked_mul(2)?))
            .and_then(|n| n.checked_mul(self.width))
            .and_then(|n| n.checked_mul(self.layers));
        if spectral.is_none() {
            return Err(invalid(
                "width",
                format!(
                    "{} with layers = {} and modes = {:?}: the weight count overflows",
                    self.width, self.layers, self.modes
                ),
            ));
        }
        for (field, ratio) in [
            ("lifting_ratio", self.lifting_ratio),
            ("projection_ratio", self.projection_ratio),
        ] {
            let hidden = self.width.checked_mul(ratio);
            if hidden.and_then(|h| h.checked_mul(self.width)).is_none() {
                return Err(invalid(
                    field,
                    format!(
                        "{ratio} with width = {}: the weight count overflows",
                        self.width
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Channels entering the lifting MLP: the input channels plus one grid
    /// channel per axis when [`ModelConfig::grid_channels`] is on.
    pub fn lifting_in_channels(&self) -> usize {
        self.in_channels + if self.grid_channels { self.dims } else { 0 }
    }

    /// Padding fraction of `axis` (0 when no padding is configured).
    pub fn padding_fraction(&self, axis: usize) -> f64 {
        self.padding.get(axis).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejects(cfg: ModelConfig, field: &str) {
        match cfg.validate() {
            Err(ModelError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidConfig for {field}, got {other:?}"),
        }
    }

    #[test]
    fn default_is_valid() {
        ModelConfig::default().validate().unwrap();
    }

    #[test]
    fn channel_mlp_sizes_as_neuraloperator_and_rejects_nonsense() {
        let with = |e: f64, width: usize| ModelConfig {
            channel_mlp_expansion: e,
            width,
            ..ModelConfig::default()
        };
        assert_eq!(with(0.0, 32).channel_mlp_hidden(), 0);
        assert_eq!(with(0.5, 32).channel_mlp_hidden(), 16);
        // Python rounds 2.5 to 2 and 3.5 to 4.
        assert_eq!(with(0.5, 5).channel_mlp_hidden(), 2);
        assert_eq!(with(0.5, 7).channel_mlp_hidden(), 4);
        with(0.5, 5).validate().unwrap();
        for bad in [-0.5, f64::NAN, f64::INFINITY, 0.01] {
            rejects(with(bad, 32), "channel_mlp_expansion");
        }
        let parsed: ModelConfig = toml::from_str("channel_mlp_expansion = 0.5").unwrap();
        assert_eq!(parsed.channel_mlp_hidden(), 32);
    }

    #[test]
    fn spectral_init_parses_and_normal_needs_dense_weights() {
        let parsed: ModelConfig = toml::from_str("spectral_init = \"normal\"").unwrap();
        assert_eq!(parsed.spectral_init, SpectralInit::Normal);
        parsed.validate().unwrap();
        assert!(toml::from_str::<ModelConfig>("spectral_init = \"xavier\"").is_err());
        for factorization in [Factorization::Tucker, Factorization::PerAxis] {
            rejects(
                ModelConfig {
                    spectral_init: SpectralInit::Normal,
                    factorization,
                    ..ModelConfig::default()
                },
                "spectral_init",
            );
        }
    }

    #[test]
    fn factorization_parses_and_rank_must_be_a_fraction() {
        let parsed: ModelConfig = toml::from_str("factorization = \"tucker\"\nrank = 0.5").unwrap();
        assert_eq!(parsed.factorization, Factorization::Tucker);
        assert_eq!(parsed.rank, 0.5);
        let per_axis: ModelConfig = toml::from_str("factorization = \"per_axis\"").unwrap();
        assert_eq!(per_axis.factorization, Factorization::PerAxis);
        assert!(toml::from_str::<ModelConfig>("factorization = \"cp\"").is_err());
        for rank in [0.0, -0.1, 1.5, f64::NAN] {
            rejects(
                ModelConfig {
                    rank,
                    ..ModelConfig::default()
                },
                "rank",
            );
        }
        ModelConfig {
            rank: 1.0,
            factorization: Factorization::Tucker,
            ..ModelConfig::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn validate_rejects_nonsense() {
        let base = ModelConfig::default();
        rejects(
            ModelConfig {
                width: 0,
                ..base.clone()
            },
            "width",
        );
        rejects(
            ModelConfig {
                layers: 0,
                ..base.clone()
            },
            "layers",
        );
        rejects(
            ModelConfig {
                dims: 4,
                modes: vec![4; 4],
                ..base.clone()
            },
            "dims",
        );
        rejects(
            ModelConfig {
                dims: 0,
                modes: vec![],
                ..base.clone()
            },
            "dims",
        );
        rejects(
            ModelConfig {
                modes: vec![8, 8],
                ..base.clone()
            },
            "modes",
        );
        rejects(
            ModelConfig {
                modes: vec![0],
                ..base.clone()
            },
            "modes",
        );
        rejects(
            ModelConfig {
                padding: vec![-0.1],
                ..base.clone()
            },
            "padding",
        );
        rejects(
            ModelConfig {
                padding: vec![1.0],
                ..base.clone()
            },
            "padding",
        );
        rejects(
            ModelConfig {
                padding: vec![f64::NAN],
                ..base.clone()
            },
            "padding",
        );
        rejects(
            ModelConfig {
                padding: vec![0.1, 0.1],
                ..base.clone()
            },
            "padding",
        );
        rejects(
            ModelConfig {
                in_channels: 0,
                ..base.clone()
            },
            "in_channels",
        );
        rejects(
            ModelConfig {
                lifting_ratio: 0,
                ..base
            },
            "lifting_ratio",
        );
    }

    #[test]
    fn validate_chosen_refuses_overflowing_sizes() {
        let base = ModelConfig::default();
        for (cfg, field) in [
            (
                ModelConfig {
                    width: usize::MAX / 2,
                    ..base.clone()
                },
                "width",
            ),
            (
                ModelConfig {
                    modes: vec![usize::MAX],
                    ..base.clone()
                },
                "width",
            ),
            (
                ModelConfig {
                    width: 1 << 20,
                    lifting_ratio: usize::MAX / 4,
                    ..base.clone()
                },
                "lifting_ratio",
            ),
        ] {
            match cfg.validate_chosen() {
                Err(ModelError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected {field} refused, got {other:?}"),
            }
        }
        ModelConfig {
            dims: 2,
            modes: vec![3],
            padding: vec![0.1, 0.2, 0.3],
            ..base
        }
        .validate_chosen()
        .unwrap();
    }

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        let cfg = ModelConfig {
            dims: 2,
            modes: vec![12, 12],
            padding: vec![0.25, 0.0],
            ..ModelConfig::default()
        };
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(toml::from_str::<ModelConfig>(&text).unwrap(), cfg);
        assert!(toml::from_str::<ModelConfig>("depth = 3").is_err());
    }

    #[test]
    fn unet_settings_are_checked_by_name() {
        let unet = ModelConfig {
            kind: ModelKind::Unet,
            ..ModelConfig::default()
        };
        unet.validate().unwrap();
        assert_eq!(unet.grid_multiple(), 16);
        let parsed: ModelConfig =
            toml::from_str("kind = \"unet\"\nunet_features = 8\nunet_levels = 2").unwrap();
        assert_eq!((parsed.kind, parsed.unet_features), (ModelKind::Unet, 8));
        assert!(toml::from_str::<ModelConfig>("kind = \"resnet\"").is_err());
        let with = |f: fn(&mut ModelConfig)| {
            let mut c = unet.clone();
            f(&mut c);
            c
        };
        rejects(with(|c| c.unet_features = 0), "unet_features");
        rejects(with(|c| c.unet_levels = 0), "unet_levels");
        rejects(with(|c| c.unet_levels = 17), "unet_levels");
        rejects(with(|c| c.unet_features = usize::MAX / 4), "unet_features");
        rejects(
            with(|c| {
                c.dims = 3;
                c.modes = vec![4; 3];
            }),
            "dims",
        );
        rejects(
            with(|c| c.factorization = Factorization::Tucker),
            "factorization",
        );
        rejects(
            with(|c| c.channel_mlp_expansion = 0.5),
            "channel_mlp_expansion",
        );
        rejects(with(|c| c.padding = vec![0.25]), "padding");
    }
}
