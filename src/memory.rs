//! How much memory a model needs, and how much the machine has: checked
//! before a model is allocated, so that an oversized `model.width` (or
//! `layers`, `modes`, `lifting_ratio`, batch, grid) is refused with both
//! numbers instead of aborting in the allocator.
//!
//! The estimate is deliberately an upper bound of the usual peak, from the
//! configuration alone (float32 everywhere):
//!
//! - parameters: counted exactly (lifting and projection MLPs, and per
//!   Fourier block the complex spectral weights, `2·w²·Π(weight shape)`
//!   when dense, and the `w² + w` skip);
//! - training adds the gradients and AdamW's two moments, three more copies;
//! - a U-Net (`model.kind = "unet"`): its convolutions counted exactly, and
//!   [`UNET_TRAIN_TENSORS_PER_CHANNEL`] tensors per channel of each level on
//!   that level's points for training;
//! - activations of one batch of `B` samples on `G` grid points: training
//!   keeps [`TRAIN_TENSORS_PER_BLOCK`] tensors of `B·w·G` values per Fourier
//!   block and [`TRAIN_TENSORS_PER_MLP_CHANNEL`] per hidden channel of the
//!   lifting and projection MLPs for the backward pass; inference holds
//!   [`INFERENCE_TENSORS`] of the widest layer at a time.
//!
//! The factors were measured with `fno bench --steps 1` (peak RSS): on five
//! shapes (1D and 2D, widths 32 and 64, 4 and 8 layers, 64² to 128² and
//! 4096 points) the estimate was 1.1 to 1.25 times the measured peak.
//!
//! Available memory is Linux's `MemAvailable`, lowered to the headroom of
//! the process's cgroup v2 `memory.max` when one is set; elsewhere, and for
//! CUDA devices (whose memory this module does not query), no check is made.
use crate::model::{spectral_parameter_count, ModelConfig, ModelKind};
use std::path::Path;

/// Tensors of `batch · width · grid` values a training step keeps alive
/// per Fourier block (input, spectrum, skip, sum and activation, and their
/// gradients while they are formed).
pub const TRAIN_TENSORS_PER_BLOCK: f64 = 3.0;
/// Tensors of `batch · grid` values a training step keeps per hidden
/// channel of the lifting and projection MLPs.
pub const TRAIN_TENSORS_PER_MLP_CHANNEL: f64 = 4.0;
/// Tensors of the widest layer an inference pass holds at once.
pub const INFERENCE_TENSORS: f64 = 4.0;
/// Tensors of `batch · grid` values a U-Net's training step keeps per
/// channel of a level (counted, not measured): the two convolutions and
/// activations of the encoder's pair, the upsampled input, its convolution
/// and activation, the concatenation (two), the decoder's pair (four), and
/// the zero-padded copy and unfolded patches of the widest convolution.
pub const UNET_TRAIN_TENSORS_PER_CHANNEL: f64 = 16.0;

const BYTES_PER_VALUE: f64 = 4.0;
const GIB: f64 = (1u64 << 30) as f64;

/// What one batch of a model needs, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    /// The weights.
    pub parameters: f64,
    /// Gradients and optimiser moments (0 for inference).
    pub optimizer: f64,
    /// Activations of one batch.
    pub activations: f64,
}

impl Footprint {
    /// The sum of the parts.
    pub fn total(&self) -> f64 {
        self.parameters + self.optimizer + self.activations
    }
}

/// Whether the model is trained (gradients, optimiser state, activations
/// kept for the backward pass) or only applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A training step.
    Training,
    /// A forward pass without gradients.
    Inference,
}

/// Trainable scalars of a model with this configuration, as a float so
/// that absurd sizes do not overflow (it equals `Fno::num_parameters`).
pub fn parameter_count(cfg: &ModelConfig) -> f64 {
    if cfg.kind == ModelKind::Unet {
        return unet_parameter_count(cfg);
    }
    let linear = |i: f64, o: f64| i * o + o;
    let w = cfg.width as f64;
    let lifting_hidden = (cfg.lifting_ratio as f64) * w;
    let projection_hidden = (cfg.projection_ratio as f64) * w;
    let hidden = cfg.channel_mlp_hidden() as f64;
    let gated_mlp = if hidden > 0.0 {
        linear(w, hidden) + linear(hidden, w) + w
    } else {
        0.0
    };
    let block = spectral_parameter_count(cfg) + linear(w, w) + gated_mlp;
    linear(cfg.lifting_in_channels() as f64, lifting_hidden)
        + linear(lifting_hidden, w)
        + (cfg.layers as f64) * block
        + linear(w, projection_hidden)
        + linear(projection_hidden, cfg.out_channels as f64)
}

/// Trainable scalars of a U-Net (`model.kind = "unet"`): the 3-wide
/// convolution pairs of each level and the bottleneck, the convolution
/// after each upsampling, and the 1×1 head.
fn unet_parameter_count(cfg: &ModelConfig) -> f64 {
    let taps = 3f64.powi(cfg.dims as i32);
    let conv = |i: f64, o: f64, taps: f64| i * o * taps + o;
    let pair = |i: f64, o: f64| conv(i, o, taps) + conv(o, o, taps);
    let at = |level: usize| cfg.unet_features as f64 * 2f64.powi(level as i32);
    let levels = cfg.unet_levels;
    let mut total = conv(at(0), cfg.out_channels as f64, 1.0);
    let mut cin = cfg.lifting_in_channels() as f64;
    for level in 0..levels {
        total += pair(cin, at(level)) + conv(at(level + 1), at(level), taps);
        total += pair(2.0 * at(level), at(level));
        cin = at(level);
    }
    total + pair(cin, at(levels))
}

/// The U-Net's channels at each level weighted by that level's share of
/// the grid's points: Σ_l features·2^l / 2^(dims·l).
fn unet_channel_points(cfg: &ModelConfig) -> f64 {
    (0..=cfg.unet_levels)
        .map(|l| cfg.unet_features as f64 * 2f64.powi(l as i32) / 2f64.powi((cfg.dims * l) as i32))
        .sum()
}

/// The footprint of `cfg` on batches of `batch` samples on `grid` (the
/// model's grid, before domain padding, which is added here).
pub fn footprint(cfg: &ModelConfig, grid: &[usize], batch: usize, use_: Use) -> Footprint {
    if cfg.kind == ModelKind::Unet {
        return unet_footprint(cfg, grid, batch, use_);
    }
    let points: f64 = grid
        .iter()
        .enumerate()
        .map(|(axis, &n)| {
            let pad = (cfg.padding_fraction(axis) * n as f64).round();
            n as f64 + pad
        })
        .product();
    let per_channel = batch as f64 * points * BYTES_PER_VALUE;
    let w = cfg.width as f64;
    let mlp_hidden = (cfg.lifting_ratio + cfg.projection_ratio) as f64 * w;
    let parameters = parameter_count(cfg) * BYTES_PER_VALUE;
    match use_ {
        Use::Training => Footprint {
            parameters,
            optimizer: 3.0 * parameters,
            activations: per_channel
                * (TRAIN_TENSORS_PER_BLOCK * w * cfg.layers as f64
                    + TRAIN_TENSORS_PER_MLP_CHANNEL * mlp_hidden
                    + gated_mlp_tensors(cfg) * cfg.layers as f64),
        },
        Use::Inference => {
            let widest = [
                w,
                cfg.lifting_ratio as f64 * w,
                cfg.projection_ratio as f64 * w,
                cfg.lifting_in_channels() as f64,
            ]
            .into_iter()
            .fold(0.0, f64::max);
            Footprint {
                parameters,
                optimizer: 0.0,
                activations: per_channel * INFERENCE_TENSORS * widest,
            }
        }
    }
}

/// [`footprint`] of a U-Net: per level, [`UNET_TRAIN_TENSORS_PER_CHANNEL`]
/// (training) or [`INFERENCE_TENSORS`] tensors of the level's channels on
/// its share of the grid.
fn unet_footprint(cfg: &ModelConfig, grid: &[usize], batch: usize, use_: Use) -> Footprint {
    let points: f64 = grid.iter().map(|&n| n as f64).product();
    let values = batch as f64 * points * unet_channel_points(cfg) * BYTES_PER_VALUE;
    let parameters = parameter_count(cfg) * BYTES_PER_VALUE;
    match use_ {
        Use::Training => Footprint {
            parameters,
            optimizer: 3.0 * parameters,
            activations: values * UNET_TRAIN_TENSORS_PER_CHANNEL,
        },
        Use::Inference => Footprint {
            parameters,
            optimizer: 0.0,
            activations: values * INFERENCE_TENSORS,
        },
    }
}

/// Channels of `batch · grid` values a training step keeps per block for
/// neuraloperator's channel MLP, when the blocks have one: its hidden
/// layer as the lifting MLP's, and the block's activated sum and gated
/// skip, each a block's width.
fn gated_mlp_tensors(cfg: &ModelConfig) -> f64 {
    match cfg.channel_mlp_hidden() {
        0 => 0.0,
        hidden => TRAIN_TENSORS_PER_MLP_CHANNEL * hidden as f64 + 2.0 * cfg.width as f64,
    }
}

/// Memory this process may still use, and where the figure comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Available {
    /// Bytes.
    pub bytes: f64,
    /// `MemAvailable` or the cgroup's `memory.max`.
    pub source: String,
}

/// The memory available to this process: `MemAvailable` from
/// `/proc/meminfo`, or the headroom under the cgroup v2 `memory.max` when
/// that is smaller. `None` where neither can be read (not Linux).
pub fn available() -> Option<Available> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let system = meminfo
        .as_deref()
        .and_then(mem_available)
        .map(|bytes| Available {
            bytes,
            source: "MemAvailable in /proc/meminfo".into(),
        });
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| cgroup_headroom(&text, Path::new("/sys/fs/cgroup")));
    match (system, cgroup) {
        (Some(s), Some(c)) if c.bytes < s.bytes => Some(c),
        (Some(s), _) => Some(s),
        (None, c) => c,
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<f64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// `memory.max − memory.current` of the cgroup v2 that `/proc/self/cgroup`
/// (`text`) names under `root`; `None` without a limit.
fn cgroup_headroom(text: &str, root: &Path) -> Option<Available> {
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = root.join(path.trim_start_matches('/'));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let max: f64 = read("memory.max")?.trim().parse().ok()?;
    let current: f64 = read("memory.current")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0.0);
    Some(Available {
        bytes: (max - current).max(0.0),
        source: format!("the limit memory.max of cgroup {path}"),
    })
}

/// A model that does not fit in the memory available.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the model needs about {} GiB ({} GiB of parameters, {} GiB of gradients and optimiser state, {} GiB of activations for one batch) but {} GiB are available ({}); {hint}",
    gib(.needs.total()), gib(.needs.parameters), gib(.needs.optimizer), gib(.needs.activations), gib(.available.bytes), .available.source
)]
pub struct TooLarge {
    /// The estimate.
    pub needs: Footprint,
    /// What the machine has.
    pub available: Available,
    /// What to reduce, in the caller's terms (settings or flags).
    pub hint: String,
}

fn gib(bytes: f64) -> String {
    let g = bytes / GIB;
    if g >= 100.0 {
        format!("{g:.0}")
    } else if g >= 0.1 {
        format!("{g:.1}")
    } else {
        format!("{g:.3}")
    }
}

/// Refuses a footprint larger than `available` (no check when `None`).
/// `hint` says what to reduce.
pub fn check(
    needs: Footprint,
    available: Option<Available>,
    hint: &str,
) -> Result<(), Box<TooLarge>> {
    match available {
        Some(available) if needs.total() > available.bytes => Err(Box::new(TooLarge {
            needs,
            available,
            hint: hint.to_string(),
        })),
        _ => Ok(()),
    }
}

/// [`check`] against this machine's memory, for a model on `device`: CUDA
/// devices are not checked.
pub fn check_on(
    device: &candle_core::Device,
    needs: Footprint,
    hint: &str,
) -> Result<(), Box<TooLarge>> {
    if !device.is_cpu() {
        return Ok(());
    }
    check(needs, available(), hint)
}

/// What to reduce when a training configuration is too large.
pub const SETTINGS_HINT: &str = "reduce model.width, model.layers, model.modes, model.lifting_ratio, model.projection_ratio or train.batch_size";

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    fn cfg(dims: usize, width: usize, layers: usize, modes: usize) -> ModelConfig {
        ModelConfig {
            dims,
            modes: vec![modes; dims],
            width,
            layers,
            ..ModelConfig::default()
        }
    }

    #[test]
    fn parameter_count_is_the_models() {
        for c in [
            cfg(1, 8, 2, 4),
            cfg(2, 6, 3, 3),
            ModelConfig {
                lifting_ratio: 3,
                projection_ratio: 1,
                in_channels: 2,
                out_channels: 3,
                grid_channels: false,
                ..cfg(3, 4, 1, 2)
            },
            ModelConfig {
                channel_mlp_expansion: 0.5,
                ..cfg(2, 6, 3, 3)
            },
            ModelConfig {
                factorization: crate::model::Factorization::Tucker,
                rank: 0.3,
                ..cfg(2, 6, 3, 3)
            },
            ModelConfig {
                factorization: crate::model::Factorization::Tucker,
                rank: 0.05,
                ..cfg(3, 4, 1, 2)
            },
            ModelConfig {
                factorization: crate::model::Factorization::PerAxis,
                ..cfg(3, 4, 1, 2)
            },
        ] {
            let map = VarMap::new();
            let model =
                crate::model::Fno::new(&c, VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu))
                    .unwrap();
            assert_eq!(parameter_count(&c), model.num_parameters() as f64, "{c:?}");
        }
    }

    fn unet(dims: usize, features: usize, levels: usize) -> ModelConfig {
        ModelConfig {
            kind: ModelKind::Unet,
            dims,
            modes: vec![4; dims],
            unet_features: features,
            unet_levels: levels,
            ..ModelConfig::default()
        }
    }

    #[test]
    fn a_unets_parameters_and_activations_are_counted() {
        for c in [unet(1, 4, 2), unet(2, 3, 3), unet(2, 8, 1)] {
            let map = VarMap::new();
            let model =
                crate::model::Fno::new(&c, VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu))
                    .unwrap();
            assert_eq!(parameter_count(&c), model.num_parameters() as f64, "{c:?}");
        }
        // 2D, 32 features, 4 levels on 64² with 10 samples: the finest
        // level's 32 channels dominate (32 · 2^l / 4^l sums to < 64).
        let f = footprint(&unet(2, 32, 4), &[64, 64], 10, Use::Training);
        let finest = 10.0 * 64.0 * 64.0 * 32.0 * BYTES_PER_VALUE;
        let ratio = f.activations / finest;
        assert!((16.0..32.0).contains(&ratio), "{ratio}");
        assert_eq!(f.optimizer, 3.0 * f.parameters);
        assert!(f.parameters > 1e6 && f.total() < GIB, "{f:?}");
        let infer = footprint(&unet(2, 32, 4), &[64, 64], 10, Use::Inference);
        assert!(infer.activations > 0.0 && infer.activations < f.activations / 2.0);
    }

    #[test]
    fn estimate_scales_with_the_settings() {
        let grid = [64, 64];
        let base = footprint(&cfg(2, 32, 4, 12), &grid, 10, Use::Training);
        // The spectral weights dominate: width² · layers.
        let wide = footprint(&cfg(2, 64, 4, 12), &grid, 10, Use::Training);
        let ratio = wide.parameters / base.parameters;
        assert!((3.8..4.0).contains(&ratio), "{ratio}");
        let deep = footprint(&cfg(2, 32, 8, 12), &grid, 10, Use::Training);
        let ratio = deep.parameters / base.parameters;
        assert!((1.9..2.0).contains(&ratio), "{ratio}");
        assert_eq!(base.optimizer, 3.0 * base.parameters);
        // Activations are linear in the batch and the grid points.
        let batch = footprint(&cfg(2, 32, 4, 12), &grid, 20, Use::Training);
        assert_eq!(batch.activations, 2.0 * base.activations);
        let fine = footprint(&cfg(2, 32, 4, 12), &[128, 128], 10, Use::Training);
        assert_eq!(fine.activations, 4.0 * base.activations);
        let infer = footprint(&cfg(2, 32, 4, 12), &grid, 10, Use::Inference);
        assert_eq!(infer.optimizer, 0.0);
        assert!(infer.activations < base.activations / 2.0);
    }

    /// Peaks measured with `fno bench --dims 2 --size N --batch 10 --width W
    /// --layers L --modes 12 --steps 1 --threads 1` (VmHWM of the debug
    /// binary, which includes the process's own ~40 MiB).
    #[test]
    fn estimate_is_within_a_factor_of_two_of_measured_peaks() {
        let mib = |m: f64| m * 1024.0 * 1024.0;
        for (size, width, layers, peak) in [
            (64, 32, 4, mib(170.0)),
            (128, 32, 4, mib(487.0)),
            (128, 32, 8, mib(696.0)),
            (128, 64, 4, mib(1023.0)),
        ] {
            let est = footprint(&cfg(2, width, layers, 12), &[size, size], 10, Use::Training);
            let ratio = est.total() / peak;
            assert!(
                (0.5..2.0).contains(&ratio),
                "{size} {width} {layers}: {ratio}"
            );
        }
    }

    #[test]
    fn absurd_sizes_do_not_overflow_and_are_refused() {
        let huge = footprint(&cfg(1, 200_000, 4, 4), &[64], 50, Use::Training);
        assert!(huge.total().is_finite() && huge.total() > 1e12);
        let available = Available {
            bytes: 8.0 * GIB,
            source: "test".into(),
        };
        let err = check(huge, Some(available.clone()), SETTINGS_HINT).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("8.0 GiB are available (test)"), "{msg}");
        assert!(msg.contains("model.width"), "{msg}");
        let small = footprint(&cfg(1, 8, 2, 4), &[64], 4, Use::Training);
        assert!(check(small, Some(available), SETTINGS_HINT).is_ok());
        assert!(check(huge, None, SETTINGS_HINT).is_ok());
    }

    #[test]
    fn reads_meminfo_and_the_cgroup_limit() {
        let text = "MemTotal:  1000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(mem_available(text), Some(2048.0 * 1024.0));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("job");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.max"), "1000000\n").unwrap();
        std::fs::write(dir.join("memory.current"), "400000\n").unwrap();
        let got = cgroup_headroom("0::/job\n", root.path()).unwrap();
        assert_eq!(got.bytes, 600_000.0);
        std::fs::write(dir.join("memory.max"), "max\n").unwrap();
        assert_eq!(cgroup_headroom("0::/job\n", root.path()), None);
        assert!(available().is_none_or(|a| a.bytes > 0.0));
    }
}
