//! The run configuration: one TOML file (`configs/*.toml`), overridable
//! key by key with `section.key=value` overrides, saved fully resolved in
//! the run directory.
use crate::data::{Augmentation, Resolution, SampleSelection, Split, Task, TestAt};
use crate::model::{ModelConfig, Precision};
use crate::physics::{PdeSpec, TimeOrder};
use crate::rundir::Weights;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use super::config_error::ConfigError;
use super::optim::AdamWConfig;
use super::schedule::Schedule;
pub use super::sources::SourceConfig;

/// Everything a training run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Which data, at which strides, split how.
    pub data: DataConfig,
    /// How samples become (input, target) pairs.
    pub task: Task,
    /// The architecture. `dims`, `in_channels` and `out_channels` are
    /// derived from the data and the task and replace any value given here;
    /// a single `modes` entry is used for every axis.
    pub model: ModelConfig,
    /// Optimisation.
    pub train: TrainConfig,
    /// Physics terms of the loss (off by default).
    pub physics: PhysicsConfig,
    /// How the trained model predicts.
    pub inference: InferenceConfig,
}

/// The `[inference]` section: how a run predicts, in the validation of
/// every epoch, `fno eval`, `fno predict` and from Python alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct InferenceConfig {
    /// Symmetries of the equation each prediction is averaged over
    /// (`transpose`, `flip`, `odd_reflection`, as in `train.augment`): the
    /// input transformed by every element of the group they generate, each
    /// prediction transformed back, the mean taken
    /// ([`super::symmetry`]). One model call per element; one-shot and
    /// inverse tasks. Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symmetries: Vec<Augmentation>,
}

/// Data section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Training file (a PDEBench-layout HDF5). Default: none (required).
    pub train: PathBuf,
    /// Test file; when absent the test set is the held-out split of `train`.
    pub test: Option<PathBuf>,
    /// Keep every n-th spatial point (PDEBench's `reduced_resolution`). Default: 1.
    pub reduced_resolution: usize,
    /// Keep every n-th frame (PDEBench's `reduced_resolution_t`). Default: 1.
    pub reduced_resolution_t: usize,
    /// Keep every n-th sample (PDEBench's `reduced_batch`). Default: 1.
    pub reduced_batch: usize,
    /// Fraction held out for testing. Default: 0.1 (PDEBench).
    pub test_fraction: f64,
    /// Where the held-out samples sit; absent follows PDEBench per layout.
    pub test_at: Option<TestAt>,
    /// Use at most this many training samples (after the split). Default: all.
    pub max_train_samples: Option<usize>,
    /// Several training files (`[[data.sources]]`) in place of `train`
    /// and `test`: one model with shared Fourier blocks and per-source
    /// embeddings ([`super::multi`]). Default: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceConfig>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            train: PathBuf::new(),
            test: None,
            reduced_resolution: 1,
            reduced_resolution_t: 1,
            reduced_batch: 1,
            test_fraction: 0.1,
            test_at: None,
            max_train_samples: None,
            sources: Vec::new(),
        }
    }
}

impl DataConfig {
    /// The strides.
    pub fn resolution(&self) -> Resolution {
        Resolution {
            reduced_resolution: self.reduced_resolution,
            reduced_resolution_t: self.reduced_resolution_t,
        }
    }

    /// The selection for one part of the split (`All` when a separate test
    /// file is given and `split` is `Test`).
    pub fn selection(&self, split: Split) -> SampleSelection {
        let split = match (&self.test, split) {
            (Some(_), _) => Split::All,
            (None, s) => s,
        };
        SampleSelection {
            range: None,
            reduced_batch: self.reduced_batch,
            split,
            test_fraction: self.test_fraction,
            test_at: self.test_at,
        }
    }
}

/// The `[physics]` section. With the defaults (`w_pde = w_ic = 0`,
/// `unlabelled_samples = 0`) training is purely supervised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhysicsConfig {
    /// Weight of the data loss (`train.loss`, normalised units). Default: 1.
    pub w_data: f64,
    /// Weight of the mean square PDE residual (physical units). Default: 0.
    pub w_pde: f64,
    /// Weight of the mean square initial-condition misfit of the space-time
    /// task (physical units). Default: 0.
    pub w_ic: f64,
    /// The equation; absent: the training file's catalogue entry, with its
    /// parameters from the file's attributes or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pde: Option<PdeSpec>,
    /// Order of the central time difference, 2 or 4. Default: 4.
    pub time_order: TimeOrder,
    /// Grid of the residual as an integer multiple of the data grid, one
    /// factor per model axis (`[1, 2]`: the space-time model's t grid
    /// doubled); empty: the data grid. Default: empty.
    pub pde_resolution: Vec<usize>,
    /// Training-split samples after the first `data.max_train_samples` that
    /// are used without their targets (physics terms only). Default: 0.
    pub unlabelled_samples: usize,
}

impl Default for PhysicsConfig {
    fn default() -> Self {
        Self {
            w_data: 1.0,
            w_pde: 0.0,
            w_ic: 0.0,
            pde: None,
            time_order: TimeOrder::Fourth,
            pde_resolution: Vec::new(),
            unlabelled_samples: 0,
        }
    }
}

impl PhysicsConfig {
    /// Whether any physics term is on.
    pub fn active(&self) -> bool {
        self.w_pde > 0.0 || self.w_ic > 0.0
    }
}

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// ‖pred − y‖₂ / ‖y‖₂ per sample, averaged over the batch (neuraloperator's default).
    #[default]
    RelativeL2,
    /// Mean squared error over every point (PDEBench's FNO).
    Mse,
}

/// Optimisation section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Passes over the training set. Default: 500 (PDEBench).
    pub epochs: usize,
    /// Samples per step. Default: 20.
    pub batch_size: usize,
    /// Base learning rate. Default: 1e-3.
    pub lr: f64,
    /// Epochs of linear warm-up. Default: 0.
    pub warmup_epochs: usize,
    /// Learning-rate schedule. Default: StepLR, 100 epochs, gamma 0.5 (PDEBench).
    pub schedule: Schedule,
    /// AdamW settings.
    pub optimizer: AdamWConfig,
    /// Training loss. Default: relative L2.
    pub loss: LossKind,
    /// Clip gradients to this global norm; 0 disables. Default: 0.
    pub grad_clip: f64,
    /// Seed of the initialisation and the shuffles. Default: 0.
    pub seed: u64,
    /// Fit unit-Gaussian normalisers on the training set. Default: true.
    pub normalize: bool,
    /// Threads for the CPU kernels; 0 uses every core. Default: 0.
    pub threads: usize,
    /// A pretrained run directory to start from (fine-tuning): its Fourier
    /// blocks are copied, and its lifting and projection where this run's
    /// channels give them the same shapes ([`super::init_from`]). A resume
    /// continues from the run's own checkpoint instead. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
    /// Which weights of `init_from` to read: `best` or `last`. Default: best.
    pub init_weights: Weights,
    /// Epochs at the start during which only the lifting and projection
    /// train and the Fourier blocks copied from `init_from` stay as they
    /// are. Default: 0.
    pub freeze_trunk_epochs: usize,
    /// What the model keeps for the backward pass: `f32`, or `bf16` for
    /// half the activation memory ([`crate::model::precision`]); weights,
    /// optimiser state and checkpoints stay f32. Default: f32.
    pub precision: Precision,
    /// Symmetries of the equation each training sample is transformed by,
    /// drawn afresh per sample and epoch: `transpose`, `flip`,
    /// `odd_reflection` ([`crate::data::augment`]). Only the user knows
    /// which hold for their equation, forcing and boundaries. Default:
    /// none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub augment: Vec<Augmentation>,
    /// Weight of the resolution-consistency term: the input refined 2× by
    /// repeating each point, its prediction read at the original points
    /// against the same target ([`super::refine`]), for a model that
    /// answers alike on a finer grid (zero-shot super-resolution). One-shot
    /// and inverse tasks without physics terms; costs about three times
    /// the step. Default: 0 (off).
    pub resolution_consistency: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 500,
            batch_size: 20,
            lr: 1e-3,
            warmup_epochs: 0,
            schedule: Schedule::default(),
            optimizer: AdamWConfig::default(),
            loss: LossKind::RelativeL2,
            grad_clip: 0.0,
            seed: 0,
            normalize: true,
            threads: 0,
            init_from: None,
            init_weights: Weights::Best,
            freeze_trunk_epochs: 0,
            precision: Precision::F32,
            augment: Vec::new(),
            resolution_consistency: 0.0,
        }
    }
}

impl RunConfig {
    /// Parses TOML text, applies `key=value` overrides (values in TOML
    /// syntax; bare words are taken as strings), and validates.
    ///
    /// An error in the text itself names `origin` with the line and column
    /// in that text; one that only the overrides cause names the override.
    pub fn from_toml(text: &str, origin: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let in_text = |err: toml::de::Error| ConfigError::Parse {
            origin: origin.to_string(),
            message: err.to_string().trim_end().to_string(),
        };
        let table: toml::Table = toml::from_str(text).map_err(in_text)?;
        let cfg = if overrides.is_empty() {
            toml::from_str::<RunConfig>(text).map_err(in_text)?
        } else {
            let mut merged = table.clone();
            for item in overrides {
                apply_override(&mut merged, item)?;
            }
            match toml::Value::Table(merged).try_into::<RunConfig>() {
                Ok(cfg) => cfg,
                Err(err) => {
                    // Deserialised from the text, an error keeps its line.
                    toml::from_str::<RunConfig>(text).map_err(in_text)?;
                    return Err(blame_overrides(&table, overrides, &err));
                }
            }
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The fully resolved configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# could not serialise the configuration: {e}\n"))
    }
}

/// The error for overrides that break a text that fits the schema: the
/// first override that breaks it on its own, else all of them together.
fn blame_overrides(
    table: &toml::Table,
    overrides: &[String],
    err: &toml::de::Error,
) -> ConfigError {
    let alone = |item: &String| {
        let mut one = table.clone();
        apply_override(&mut one, item).ok()?;
        toml::Value::Table(one).try_into::<RunConfig>().err()
    };
    let (given, err) = overrides
        .iter()
        .find_map(|item| alone(item).map(|e| (vec![item.clone()], e)))
        .unwrap_or_else(|| (overrides.to_vec(), err.clone()));
    // A deserialiser's message without a span ends in a line of its own
    // naming the table ("in `train`"); one line reads better after a flag.
    let message = err.to_string().trim_end().replace('\n', " ");
    ConfigError::Override { given, message }
}

/// Sets `section.key=value` in `table`; the value is TOML, or a string
/// when it does not parse as TOML (so paths need no quotes).
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::BadOverride {
        given: item.to_string(),
    };
    let (key, raw) = item.split_once('=').ok_or_else(bad)?;
    let path: Vec<&str> = key.trim().split('.').map(str::trim).collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let (last, parents) = path.split_last().ok_or_else(bad)?;
    let mut cursor = table;
    for part in parents {
        let entry = cursor
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cursor = entry.as_table_mut().ok_or_else(bad)?;
    }
    cursor.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_round_trip() {
        let cfg = RunConfig::from_toml(
            "[data]\ntrain = \"a.h5\"\n[train]\nepochs = 5\n",
            "test.toml",
            &[
                "train.lr=0.01".into(),
                "model.width=8".into(),
                "task.kind=space_time".into(),
            ],
        )
        .unwrap();
        assert_eq!(cfg.train.epochs, 5);
        assert_eq!(cfg.train.lr, 0.01);
        assert_eq!(cfg.model.width, 8);
        assert_eq!(cfg.task, Task::SpaceTime);
        assert_eq!(cfg.train.batch_size, 20, "default kept");
        let again = RunConfig::from_toml(&cfg.to_toml(), "saved", &[]).unwrap();
        assert_eq!(again, cfg);
    }

    #[test]
    fn errors_name_the_setting() {
        let err = RunConfig::from_toml(
            "[data]\ntrain = \"a.h5\"\n[train]\nepochs = 0\n",
            "x.toml",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("train.epochs"), "{err}");
        let err = RunConfig::from_toml(
            "[data]\ntrain = \"a.h5\"\n[train]\nepoch = 3\n",
            "x.toml",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("epoch"), "{err}");
        let err = RunConfig::from_toml("", "x.toml", &["train.lr".into()]).unwrap_err();
        assert!(matches!(err, ConfigError::BadOverride { .. }));
        let err = RunConfig::from_toml("", "x.toml", &[]).unwrap_err();
        assert!(err.to_string().contains("data.train"), "{err}");
    }

    /// The message as the CLI prints it: the error and its sources.
    fn chain(err: ConfigError) -> String {
        format!("{:#}", anyhow::Error::from(err))
    }

    const FIVE_LINES: &str = "[data]\ntrain = \"a.h5\"\n\n[train]\nepoch = 3\n";

    #[test]
    fn an_unknown_key_is_reported_once_at_its_line_in_the_users_file() {
        for overrides in [vec![], vec!["train.lr=0.01".to_string()]] {
            let err = RunConfig::from_toml(FIVE_LINES, "my.toml", &overrides).unwrap_err();
            let text = chain(err);
            assert!(text.contains("my.toml"), "{text}");
            assert!(text.contains("line 5"), "{text}");
            assert_eq!(text.matches("unknown field `epoch`").count(), 1, "{text}");
            assert!(!text.contains("override"), "{text}");
        }
        let err = RunConfig::from_toml("[train\nepochs = 3\n", "my.toml", &[]).unwrap_err();
        let text = chain(err);
        assert!(text.contains("line 1"), "{text}");
    }

    #[test]
    fn an_error_only_an_override_causes_names_that_override() {
        let text = "[data]\ntrain = \"a.h5\"\n";
        let sets = ["train.lr=0.01".to_string(), "train.epoch=3".to_string()];
        let err = RunConfig::from_toml(text, "my.toml", &sets).unwrap_err();
        match &err {
            ConfigError::Override { given, message } => {
                assert_eq!(given, &vec!["train.epoch=3".to_string()]);
                assert!(message.contains("epoch"), "{message}");
            }
            other => panic!("expected Override, got {other:?}"),
        }
        let err = RunConfig::from_toml(text, "my.toml", &["train.epochs=\"ten\"".into()]);
        assert!(matches!(err, Err(ConfigError::Override { .. })), "{err:?}");
        let err = RunConfig::from_toml(text, "my.toml", &["data.train.x=1".into()]);
        assert!(
            matches!(err, Err(ConfigError::BadOverride { .. })),
            "{err:?}"
        );
        // A type error in the text that an override fixes is no error.
        let cfg = RunConfig::from_toml(
            "[data]\ntrain = \"a.h5\"\n[train]\nepochs = \"x\"\n",
            "my.toml",
            &["train.epochs=3".into()],
        )
        .unwrap();
        assert_eq!(cfg.train.epochs, 3);
    }

    #[test]
    fn nan_and_inf_through_overrides_are_refused_by_name() {
        let text = "[data]\ntrain = \"a.h5\"\n";
        for (set, field) in [
            ("train.lr=nan", "train.lr"),
            ("train.lr=inf", "train.lr"),
            ("train.grad_clip=-inf", "train.grad_clip"),
            ("train.optimizer.eps=nan", "train.optimizer.eps"),
            (
                "train.schedule={kind=\"step\",step_size=1,gamma=nan}",
                "train.schedule.gamma",
            ),
            (
                "train.schedule={kind=\"cosine\",min_lr=-1e-4}",
                "train.schedule.min_lr",
            ),
            ("data.test_fraction=nan", "data.test_fraction"),
            ("physics.w_pde=inf", "physics.w_pde"),
            (
                "physics.pde={kind=\"advection\",beta=nan}",
                "physics.pde.beta",
            ),
            ("model.padding=[nan]", "model.padding"),
        ] {
            match RunConfig::from_toml(text, "my.toml", &[set.into()]) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{set}"),
                other => panic!("{set}: expected {field} refused, got {other:?}"),
            }
        }
    }
}
