//! Every setting of a [`RunConfig`] checked against its meaning: counts at
//! least 1, fractions inside their interval, rates, weights and decays
//! finite and in range. Each refusal names the setting and the value.
//! What depends on the data file (frames, grid, modes against the grid)
//! or on the machine (threads, memory) is checked where those are known.
use super::config::{DataConfig, PhysicsConfig, RunConfig, TrainConfig};
use super::config_error::{at_least_one, invalid, non_negative, positive, ConfigError};
use super::sources::validate_sources;
use crate::data::{Augmentation, Task};
use crate::model::{Factorization, ModelError, ModelKind};
use crate::physics::PdeSpec;

impl RunConfig {
    /// Rejects values that make no sense, naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.data.validate()?;
        validate_multi_source(self)?;
        validate_unet_run(self)?;
        validate_task(&self.task)?;
        validate_window(self)?;
        self.model.validate_chosen().map_err(model_setting)?;
        self.train.validate()?;
        validate_resolution_consistency(self)?;
        validate_inference(self)?;
        self.physics.validate()
    }
}

impl DataConfig {
    /// Rejects strides, fractions and counts that make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (self.train.as_os_str().is_empty(), self.sources.is_empty()) {
            (true, true) => return Err(invalid("data.train", "no training file given")),
            (false, false) => {
                return Err(invalid(
                    "data.train",
                    "set together with data.sources: give one training file (data.train) or several sources (data.sources), not both",
                ))
            }
            _ => {}
        }
        validate_sources(&self.sources)?;
        at_least_one("data.reduced_resolution", self.reduced_resolution)?;
        at_least_one("data.reduced_resolution_t", self.reduced_resolution_t)?;
        at_least_one("data.reduced_batch", self.reduced_batch)?;
        let f = self.test_fraction;
        if !(0.0..1.0).contains(&f) {
            return Err(invalid(
                "data.test_fraction",
                format!("{f}: must lie in [0, 1)"),
            ));
        }
        let untested = match self.sources.is_empty() {
            true => self.test.is_none(),
            false => self.sources.iter().any(|s| s.test.is_none()),
        };
        if f == 0.0 && untested {
            return Err(invalid(
                "data.test_fraction",
                "0 holds out no test samples: give a fraction in (0, 1) or a data.test file",
            ));
        }
        if self.max_train_samples == Some(0) {
            return Err(invalid(
                "data.max_train_samples",
                "0: must be at least 1; leave it out to train on every sample",
            ));
        }
        Ok(())
    }
}

/// The resolution-consistency term needs one model call from an input on
/// the target's grid, and a loss it can be added to.
fn validate_resolution_consistency(cfg: &RunConfig) -> Result<(), ConfigError> {
    let weight = cfg.train.resolution_consistency;
    non_negative("train.resolution_consistency", weight)?;
    if weight == 0.0 {
        return Ok(());
    }
    let refuse = |what: &str| {
        Err(invalid(
            "train.resolution_consistency",
            format!("{weight}: not available with {what}; set it to 0"),
        ))
    };
    if !matches!(cfg.task, Task::OneShot { .. } | Task::Inverse { .. }) {
        return refuse("this task (one_shot and inverse only)");
    }
    if cfg.physics.active() || cfg.physics.unlabelled_samples > 0 {
        return refuse("physics terms");
    }
    Ok(())
}

/// The prediction's symmetry average needs one model call per prediction
/// and a list without repeats.
fn validate_inference(cfg: &RunConfig) -> Result<(), ConfigError> {
    let symmetries = &cfg.inference.symmetries;
    if symmetries.is_empty() {
        return Ok(());
    }
    repeated("inference.symmetries", symmetries)?;
    if !matches!(cfg.task, Task::OneShot { .. } | Task::Inverse { .. }) {
        return Err(invalid(
            "inference.symmetries",
            "averages one model call over symmetries: one_shot and inverse tasks only",
        ));
    }
    Ok(())
}

/// Refuses a symmetry listed twice in `field`.
fn repeated(field: &'static str, list: &[Augmentation]) -> Result<(), ConfigError> {
    match list
        .iter()
        .enumerate()
        .find(|(i, a)| list[..*i].contains(a))
    {
        Some((i, twice)) => Err(invalid(
            field,
            format!(
                "lists \"{}\" twice (entry {}): each symmetry is listed once",
                twice.name(),
                i + 1
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses what a multi-source run cannot do: one test file for all
/// sources, physics terms, starting from a pretrained run.
fn validate_multi_source(cfg: &RunConfig) -> Result<(), ConfigError> {
    if cfg.data.sources.is_empty() {
        return Ok(());
    }
    let refuse = |field: &'static str, what: &str| {
        Err(invalid(
            field,
            format!("{what} is not available with data.sources"),
        ))
    };
    if cfg.data.test.is_some() {
        return refuse(
            "data.test",
            "one test file for every source (give each source its `test`)",
        );
    }
    if cfg.physics.active() || cfg.physics.unlabelled_samples > 0 {
        return refuse("physics", "training with physics terms");
    }
    if cfg.train.init_from.is_some() {
        return refuse("train.init_from", "starting from a pretrained run");
    }
    if !cfg.train.augment.is_empty() {
        return refuse("train.augment", "transforming the training samples");
    }
    if !cfg.inference.symmetries.is_empty() {
        return refuse(
            "inference.symmetries",
            "averaging the prediction over symmetries",
        );
    }
    if cfg.train.resolution_consistency > 0.0 {
        return refuse(
            "train.resolution_consistency",
            "the resolution-consistency term",
        );
    }
    let window = |t: &Task| matches!(t, Task::Window { .. });
    if window(&cfg.task)
        || cfg
            .data
            .sources
            .iter()
            .filter_map(|s| s.task.as_ref())
            .any(window)
    {
        return refuse(
            "task.kind",
            "the window task (kind = \"window\"; train each source alone)",
        );
    }
    cfg.data
        .sources
        .iter()
        .filter_map(|s| s.task.as_ref())
        .try_for_each(validate_task)
}

/// Refuses what a U-Net (`model.kind = "unet"`) cannot do: share Fourier
/// blocks across sources, take a pretrained run's blocks, or be queried on
/// a finer residual grid than its input's.
fn validate_unet_run(cfg: &RunConfig) -> Result<(), ConfigError> {
    if cfg.model.kind != ModelKind::Unet {
        return Ok(());
    }
    if cfg.model.factorization != Factorization::Dense {
        return Err(invalid(
            "model.factorization",
            "must be \"dense\" with model.kind = \"unet\" (a U-Net has no spectral weights)",
        ));
    }
    if cfg.model.channel_mlp_expansion != 0.0 {
        return Err(invalid(
            "model.channel_mlp_expansion",
            "must be 0 with model.kind = \"unet\" (a U-Net has no Fourier blocks)",
        ));
    }
    let refuse = |what: &str| {
        Err(invalid(
            "model.kind",
            format!("\"unet\" cannot be used with {what}; use kind = \"fno\" for it"),
        ))
    };
    if !cfg.data.sources.is_empty() {
        return refuse("data.sources (multi-source runs share Fourier blocks)");
    }
    if cfg.train.init_from.is_some() {
        return refuse("train.init_from (it takes a pretrained run's Fourier blocks)");
    }
    if cfg.physics.pde_resolution.iter().any(|&f| f > 1) {
        return refuse(
            "physics.pde_resolution (a U-Net predicts on its input's grid only, not on a finer residual grid)",
        );
    }
    Ok(())
}

impl TrainConfig {
    /// Rejects counts, rates and optimiser or schedule parameters that
    /// make no sense. `threads` is checked by whoever starts the threads,
    /// against the cores of the machine the run continues on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        at_least_one("train.epochs", self.epochs)?;
        at_least_one("train.batch_size", self.batch_size)?;
        positive("train.lr", self.lr)?;
        if self.warmup_epochs > self.epochs {
            return Err(invalid(
                "train.warmup_epochs",
                format!(
                    "{}: the warm-up is longer than the run (train.epochs = {})",
                    self.warmup_epochs, self.epochs
                ),
            ));
        }
        self.schedule.validate(self.lr)?;
        self.optimizer.validate()?;
        non_negative("train.grad_clip", self.grad_clip)?;
        if self
            .init_from
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            return Err(invalid(
                "train.init_from",
                "an empty path: name a run directory or leave it out",
            ));
        }
        if self.freeze_trunk_epochs > 0 && self.init_from.is_none() {
            return Err(invalid(
                "train.freeze_trunk_epochs",
                format!(
                    "{}: freezes the Fourier blocks of a pretrained run, but train.init_from names none",
                    self.freeze_trunk_epochs
                ),
            ));
        }
        repeated("train.augment", &self.augment)?;
        Ok(())
    }
}

impl PhysicsConfig {
    /// Rejects weights, equation parameters and factors that make no
    /// sense, naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        non_negative("physics.w_data", self.w_data)?;
        non_negative("physics.w_pde", self.w_pde)?;
        non_negative("physics.w_ic", self.w_ic)?;
        if self.w_data == 0.0 && !self.active() {
            return Err(invalid(
                "physics.w_data",
                "0 with no physics term (physics.w_pde = physics.w_ic = 0): the loss is zero",
            ));
        }
        if let Some(pde) = &self.pde {
            validate_pde(pde)?;
        }
        if self.pde_resolution.contains(&0) {
            return Err(invalid(
                "physics.pde_resolution",
                "factors must be at least 1",
            ));
        }
        if self.unlabelled_samples > 0 && !self.active() {
            return Err(invalid(
                "physics.unlabelled_samples",
                "unlabelled samples only enter the physics terms: set physics.w_pde or physics.w_ic",
            ));
        }
        Ok(())
    }
}

/// Equation parameters that are given must be finite (a NaN would
/// otherwise be replaced by the file's value without a word), and
/// viscosities and diffusivities must not be negative.
fn validate_pde(pde: &PdeSpec) -> Result<(), ConfigError> {
    let finite = |field: &'static str, v: Option<f64>| match v {
        Some(v) if !v.is_finite() => Err(invalid(field, format!("{v}: must be a finite number"))),
        _ => Ok(()),
    };
    let non_negative =
        |field: &'static str, v: Option<f64>| v.map_or(Ok(()), |v| non_negative(field, v));
    match *pde {
        PdeSpec::Advection { beta } | PdeSpec::Darcy { beta } => finite("physics.pde.beta", beta),
        PdeSpec::Burgers { nu, .. } | PdeSpec::NavierStokesVorticity { nu, .. } => {
            non_negative("physics.pde.nu", nu)
        }
        PdeSpec::DiffusionReaction { nu, rho } => {
            non_negative("physics.pde.nu", nu)?;
            finite("physics.pde.rho", rho)
        }
    }
}

/// Counts of the autoregressive task; frame indices are checked against
/// the file (`Task::validate`).
fn validate_task(task: &Task) -> Result<(), ConfigError> {
    if let Task::Autoregressive {
        initial_step,
        backprop_steps,
    } = *task
    {
        at_least_one("task.initial_step", initial_step)?;
        if backprop_steps == Some(0) {
            return Err(invalid(
                "task.backprop_steps",
                "0: must be at least 1; leave it out to back-propagate through every step",
            ));
        }
    }
    Ok(())
}

/// The window task trains on one-step pairs of ground truth: refuses the
/// settings that need a whole trajectory per sample, and zero counts.
fn validate_window(cfg: &RunConfig) -> Result<(), ConfigError> {
    let Task::Window {
        n_steps_input,
        n_steps_output,
        max_rollout_steps,
        ..
    } = cfg.task
    else {
        return Ok(());
    };
    at_least_one("task.n_steps_input", n_steps_input)?;
    at_least_one("task.n_steps_output", n_steps_output)?;
    if max_rollout_steps == Some(0) {
        return Err(invalid(
            "task.max_rollout_steps",
            "0: must be at least 1; leave it out to roll out to the end of each trajectory",
        ));
    }
    if cfg.physics.active() || cfg.physics.unlabelled_samples > 0 {
        return Err(invalid(
            "physics",
            "physics terms are not available with the window task (task.kind = \"window\")",
        ));
    }
    Ok(())
}

/// A model error as the `model.*` setting it is about.
fn model_setting(err: ModelError) -> ConfigError {
    match err {
        ModelError::InvalidConfig { field, reason } => {
            let field = match field {
                "modes" => "model.modes",
                "width" => "model.width",
                "layers" => "model.layers",
                "lifting_ratio" => "model.lifting_ratio",
                "projection_ratio" => "model.projection_ratio",
                "padding" => "model.padding",
                "dims" => "model.dims",
                "in_channels" => "model.in_channels",
                "out_channels" => "model.out_channels",
                "channel_mlp_expansion" => "model.channel_mlp_expansion",
                "factorization" => "model.factorization",
                "rank" => "model.rank",
                "unet_features" => "model.unet_features",
                "unet_levels" => "model.unet_levels",
                _ => "model",
            };
            invalid(field, reason)
        }
        other => invalid("model", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::schedule::Schedule;

    fn base() -> RunConfig {
        let mut cfg = RunConfig::default();
        cfg.data.train = "a.h5".into();
        cfg
    }

    fn refused(cfg: RunConfig, field: &str) {
        match cfg.validate() {
            Err(ConfigError::Invalid { field: f, reason }) => {
                assert_eq!(f, field, "{reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }

    #[test]
    fn defaults_with_a_training_file_pass() {
        base().validate().unwrap();
    }

    #[test]
    fn resolution_consistency_is_refused_where_it_cannot_apply() {
        let mut cfg = base();
        cfg.train.resolution_consistency = 0.5;
        cfg.validate().unwrap();
        let mut negative = base();
        negative.train.resolution_consistency = -1.0;
        refused(negative, "train.resolution_consistency");
        let mut physics = cfg.clone();
        physics.physics.w_pde = 1.0;
        refused(physics, "train.resolution_consistency");
        let mut rollout = cfg.clone();
        rollout.task = Task::SpaceTime;
        refused(rollout, "train.resolution_consistency");
    }

    #[test]
    fn a_transform_listed_twice_is_refused() {
        use crate::data::Augmentation::{Flip, Transpose};
        let mut cfg = base();
        cfg.train.augment = vec![Transpose, Flip];
        cfg.validate().unwrap();
        cfg.train.augment = vec![Flip, Transpose, Flip];
        refused(cfg, "train.augment");
    }

    #[test]
    fn sources_replace_the_training_file_and_refuse_what_they_cannot_do() {
        let multi = || {
            let mut cfg = base();
            cfg.data.train = "".into();
            cfg.data.sources = vec![crate::train::config::SourceConfig {
                name: Some("a".into()),
                file: "a.h5".into(),
                test: None,
                weight: 1.0,
                task: None,
                in_channels: 0,
                out_channels: 0,
                padding: Vec::new(),
            }];
            cfg
        };
        multi().validate().unwrap();
        let mut both = multi();
        both.data.train = "b.h5".into();
        refused(both, "data.train");
        let mut tested = multi();
        tested.data.test = Some("t.h5".into());
        refused(tested, "data.test");
        let mut physics = multi();
        physics.physics.w_pde = 1.0;
        refused(physics, "physics");
        let mut init = multi();
        init.train.init_from = Some("runs/pre".into());
        refused(init, "train.init_from");
        let mut augmented = multi();
        augmented.train.augment = vec![crate::data::Augmentation::Flip];
        refused(augmented, "train.augment");
        let mut untested = multi();
        untested.data.test_fraction = 0.0;
        refused(untested, "data.test_fraction");
        let window = Task::Window {
            n_steps_input: 2,
            n_steps_output: 1,
            predict_delta: false,
            max_rollout_steps: None,
        };
        let mut windowed = multi();
        windowed.task = window;
        refused(windowed, "task.kind");
        let mut per_source = multi();
        per_source.data.sources[0].task = Some(window);
        refused(per_source, "task.kind");
    }

    #[test]
    fn window_task_counts_and_physics() {
        let with = |n_in: usize, n_out: usize, max: Option<usize>| {
            let mut cfg = base();
            cfg.task = Task::Window {
                n_steps_input: n_in,
                n_steps_output: n_out,
                predict_delta: true,
                max_rollout_steps: max,
            };
            cfg
        };
        with(4, 2, Some(10)).validate().unwrap();
        refused(with(0, 1, None), "task.n_steps_input");
        refused(with(1, 0, None), "task.n_steps_output");
        refused(with(1, 1, Some(0)), "task.max_rollout_steps");
        let mut physics = with(1, 1, None);
        physics.physics.w_pde = 1.0;
        refused(physics, "physics");
    }

    #[test]
    fn data_counts_and_fractions() {
        let with = |f: fn(&mut DataConfig)| {
            let mut cfg = base();
            f(&mut cfg.data);
            cfg
        };
        refused(
            with(|d| d.max_train_samples = Some(0)),
            "data.max_train_samples",
        );
        refused(
            with(|d| d.reduced_resolution = 0),
            "data.reduced_resolution",
        );
        refused(
            with(|d| d.reduced_resolution_t = 0),
            "data.reduced_resolution_t",
        );
        refused(with(|d| d.reduced_batch = 0), "data.reduced_batch");
        for f in [1.0, -0.1, f64::NAN, f64::INFINITY, 0.0] {
            let mut cfg = base();
            cfg.data.test_fraction = f;
            refused(cfg, "data.test_fraction");
        }
        let mut cfg = with(|d| d.test = Some("t.h5".into()));
        cfg.data.test_fraction = 0.0;
        cfg.validate().unwrap();
        with(|d| d.max_train_samples = Some(1)).validate().unwrap();
        refused(RunConfig::default(), "data.train");
    }

    #[test]
    fn train_counts_rates_and_warmup() {
        let with = |f: fn(&mut TrainConfig)| {
            let mut cfg = base();
            f(&mut cfg.train);
            cfg
        };
        refused(with(|t| t.epochs = 0), "train.epochs");
        refused(with(|t| t.batch_size = 0), "train.batch_size");
        for lr in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
            let mut cfg = base();
            cfg.train.lr = lr;
            refused(cfg, "train.lr");
        }
        refused(
            with(|t| t.warmup_epochs = t.epochs + 1),
            "train.warmup_epochs",
        );
        with(|t| t.warmup_epochs = t.epochs).validate().unwrap();
        refused(with(|t| t.grad_clip = -1.0), "train.grad_clip");
        refused(with(|t| t.grad_clip = f64::INFINITY), "train.grad_clip");
        refused(
            with(|t| t.schedule = Schedule::Cosine { min_lr: 1.0 }),
            "train.schedule.min_lr",
        );
        refused(
            with(|t| {
                t.schedule = Schedule::Step {
                    step_size: 1,
                    gamma: f64::NAN,
                }
            }),
            "train.schedule.gamma",
        );
        refused(with(|t| t.optimizer.beta1 = 1.0), "train.optimizer.beta1");
        refused(with(|t| t.optimizer.eps = 0.0), "train.optimizer.eps");
        refused(with(|t| t.init_from = Some("".into())), "train.init_from");
        refused(
            with(|t| t.freeze_trunk_epochs = 2),
            "train.freeze_trunk_epochs",
        );
        with(|t| {
            t.init_from = Some("runs/pre".into());
            t.freeze_trunk_epochs = 2;
        })
        .validate()
        .unwrap();
    }

    #[test]
    fn task_model_and_physics() {
        let mut cfg = base();
        cfg.task = Task::Autoregressive {
            initial_step: 0,
            backprop_steps: None,
        };
        refused(cfg, "task.initial_step");
        let mut cfg = base();
        cfg.task = Task::Autoregressive {
            initial_step: 10,
            backprop_steps: Some(0),
        };
        refused(cfg, "task.backprop_steps");
        let with = |f: fn(&mut RunConfig)| {
            let mut cfg = base();
            f(&mut cfg);
            cfg
        };
        refused(with(|c| c.model.width = 0), "model.width");
        refused(with(|c| c.model.layers = 0), "model.layers");
        refused(with(|c| c.model.modes = vec![0]), "model.modes");
        refused(with(|c| c.model.lifting_ratio = 0), "model.lifting_ratio");
        refused(with(|c| c.model.width = usize::MAX / 2), "model.width");
        refused(with(|c| c.physics.w_data = 0.0), "physics.w_data");
        refused(with(|c| c.physics.w_ic = -1.0), "physics.w_ic");
        refused(
            with(|c| {
                c.physics.pde = Some(PdeSpec::Burgers {
                    nu: Some(-0.1),
                    convention: None,
                })
            }),
            "physics.pde.nu",
        );
        refused(
            with(|c| {
                c.physics.pde = Some(PdeSpec::DiffusionReaction {
                    nu: Some(0.5),
                    rho: Some(f64::INFINITY),
                })
            }),
            "physics.pde.rho",
        );
        refused(
            with(|c| {
                c.physics.pde = Some(PdeSpec::Darcy {
                    beta: Some(f64::NAN),
                })
            }),
            "physics.pde.beta",
        );
        let mut cfg = with(|c| c.physics.w_data = 0.0);
        cfg.physics.w_pde = 1.0;
        cfg.validate().unwrap();
    }
}
