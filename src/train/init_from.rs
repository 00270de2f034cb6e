//! Fine-tuning from a pretrained run (`train.init_from`): the new model
//! takes the pretrained run's Fourier blocks (the trunk, which must have the
//! same shapes) and its lifting and projection (the embeddings) where the
//! new data's channels give them the same shapes; an embedding that does
//! not fit keeps this run's seeded initialisation. Optionally the trunk
//! stays frozen for the first `train.freeze_trunk_epochs` epochs.
//!
//! The normalisers are not taken over: the new run fits its own on its
//! own data.
use super::config::{ConfigError, RunConfig};
use super::optim::named_vars;
use super::preflight::resolve_model;
use super::run::Predictor;
use super::TrainError;
use crate::data::PdebenchFile;
use crate::model::{Factorization, ModelConfig};
use crate::rundir::InitRecord;
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use std::collections::BTreeMap;

/// The part of the model that the Fourier blocks (`blocks.*`) form.
const TRUNK: &str = "trunk";

/// The part of the model a variable belongs to: `trunk` for the Fourier
/// blocks, else the first component of its name (`lifting`, `projection`).
fn part_of(name: &str) -> &str {
    match name.split('.').next().unwrap_or(name) {
        "blocks" => TRUNK,
        part => part,
    }
}

/// The weights of a pretrained run, read and checked against the model of
/// the run that starts from them.
pub struct Pretrained {
    record: InitRecord,
    tensors: BTreeMap<String, Tensor>,
}

impl Pretrained {
    /// Reads the run `cfg.train.init_from` names (none when it names none)
    /// and checks its trunk against the model `cfg` gives on its training
    /// data. `cfg` may be unresolved (as the user wrote it).
    pub fn load(cfg: &RunConfig) -> Result<Option<Self>, TrainError> {
        let Some(dir) = &cfg.train.init_from else {
            return Ok(None);
        };
        let mut resolved = cfg.clone();
        resolve_model(&mut resolved, &PdebenchFile::open(&cfg.data.train)?)?;
        let which = cfg.train.init_weights;
        let source =
            Predictor::load_trunk(dir, which, &Device::Cpu).map_err(|e| ConfigError::Invalid {
                field: "train.init_from",
                reason: format!(
                    "{} is not a trained run that fno can read: {e}",
                    dir.display()
                ),
            })?;
        check_trunk(&source.config.model, &resolved.model, dir)?;
        let tensors = named_vars(&source.varmap)?
            .into_iter()
            .map(|(name, var)| (name, var.as_tensor().clone()))
            .collect();
        Ok(Some(Self {
            record: InitRecord {
                from: dir.clone(),
                weights: which,
                copied: Vec::new(),
                fresh: Vec::new(),
            },
            tensors,
        }))
    }

    /// Copies the trunk into `varmap` (a freshly initialised model of the
    /// configuration checked by [`Pretrained::load`]), and each other part
    /// whose every tensor has the pretrained shape; says which parts were
    /// copied and which keep their fresh initialisation.
    pub fn copy_into(self, varmap: &VarMap) -> Result<InitRecord, TrainError> {
        let vars = named_vars(varmap)?;
        let mut parts: BTreeMap<&str, Vec<(&Var, &Tensor)>> = BTreeMap::new();
        let mut misfits: BTreeMap<&str, String> = BTreeMap::new();
        for (name, var) in &vars {
            let part = part_of(name);
            match self.tensors.get(name) {
                Some(t) if t.shape() == var.shape() => {
                    parts.entry(part).or_default().push((var, t));
                }
                found => {
                    let had = found.map_or("none".into(), |t| format!("{:?}", t.dims()));
                    misfits.entry(part).or_insert(format!(
                        "`{name}` has shape {:?} here and {had} in the pretrained run",
                        var.dims()
                    ));
                }
            }
        }
        if let Some(why) = misfits.get(TRUNK) {
            // The settings were compared in `load`; this is the backstop.
            return Err(trunk_error("model", why.clone(), &self.record.from));
        }
        let mut record = self.record;
        for (part, pairs) in parts {
            if misfits.contains_key(part) {
                continue;
            }
            for (var, t) in pairs {
                var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
            }
            record.copied.push(part.to_string());
        }
        record.fresh = misfits.into_keys().map(str::to_string).collect();
        Ok(record)
    }
}

/// Refuses a pretrained trunk whose shapes or computation differ from the
/// new model's, naming the first setting that differs.
fn check_trunk(
    source: &ModelConfig,
    new: &ModelConfig,
    dir: &std::path::Path,
) -> Result<(), TrainError> {
    // The rank sizes the blocks' weights only when they are Tucker tensors.
    let rank = |cfg: &ModelConfig| match cfg.factorization {
        Factorization::Tucker => cfg.rank.to_string(),
        Factorization::Dense | Factorization::PerAxis => "unused".to_string(),
    };
    let settings: [(&'static str, String, String); 9] = [
        (
            "model.kind",
            format!("{:?}", source.kind),
            format!("{:?}", new.kind),
        ),
        ("model.dims", source.dims.to_string(), new.dims.to_string()),
        (
            "model.width",
            source.width.to_string(),
            new.width.to_string(),
        ),
        (
            "model.layers",
            source.layers.to_string(),
            new.layers.to_string(),
        ),
        (
            "model.modes",
            format!("{:?}", source.modes),
            format!("{:?}", new.modes),
        ),
        (
            "model.channel_mlp_expansion",
            source.channel_mlp_expansion.to_string(),
            new.channel_mlp_expansion.to_string(),
        ),
        (
            "model.activation",
            format!("{:?}", source.activation),
            format!("{:?}", new.activation),
        ),
        (
            "model.factorization",
            format!("{:?}", source.factorization),
            format!("{:?}", new.factorization),
        ),
        ("model.rank", rank(source), rank(new)),
    ];
    match settings.into_iter().find(|(_, a, b)| a != b) {
        None => Ok(()),
        Some((field, had, wants)) => Err(trunk_error(
            field,
            format!("{wants} here but {had} in the pretrained run"),
            dir,
        )),
    }
}

fn trunk_error(field: &'static str, why: String, dir: &std::path::Path) -> TrainError {
    ConfigError::Invalid {
        field,
        reason: format!(
            "{why} ({}, train.init_from): the Fourier blocks can only be taken over with the same shapes",
            dir.display()
        ),
    }
    .into()
}

/// Keeps the Fourier blocks as they are during the first
/// `train.freeze_trunk_epochs` epochs by dropping their gradients before
/// the all-reduce: every rank drops the same ones, so none is summed, and
/// AdamW leaves a variable without a gradient alone (no moment update, no
/// weight decay).
pub(crate) struct TrunkFreeze {
    trunk: Vec<Var>,
    epochs: usize,
    active: bool,
}

impl TrunkFreeze {
    /// The freeze `cfg` asks for over the named variables of its model.
    pub(crate) fn new(cfg: &RunConfig, vars: &[(String, Var)]) -> Self {
        let trunk = vars
            .iter()
            .filter(|(name, _)| part_of(name) == TRUNK)
            .map(|(_, var)| var.clone())
            .collect();
        Self {
            trunk,
            epochs: cfg.train.freeze_trunk_epochs,
            active: false,
        }
    }

    /// Freezes or thaws the trunk for `epoch` (from 0): a resumed run is
    /// frozen again when it resumes inside the frozen epochs.
    pub(crate) fn enter(&mut self, epoch: usize) {
        self.active = epoch < self.epochs;
    }

    /// Drops the trunk's gradients while frozen.
    pub(crate) fn apply(&self, grads: &mut GradStore) {
        if self.active {
            for var in &self.trunk {
                grads.remove(var);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fno;
    use crate::rundir::Weights;
    use crate::train::init::seeded_var_builder;
    use candle_core::DType;

    fn model(in_channels: usize, width: usize, seed: u64) -> VarMap {
        let cfg = ModelConfig {
            modes: vec![4],
            width,
            layers: 2,
            in_channels,
            out_channels: in_channels,
            ..ModelConfig::default()
        };
        let varmap = VarMap::new();
        Fno::new(
            &cfg,
            seeded_var_builder(&varmap, seed, DType::F32, &Device::Cpu),
        )
        .unwrap();
        varmap
    }

    fn pretrained(varmap: &VarMap) -> Pretrained {
        Pretrained {
            record: InitRecord {
                from: "runs/pre".into(),
                weights: Weights::Best,
                copied: Vec::new(),
                fresh: Vec::new(),
            },
            tensors: named_vars(varmap)
                .unwrap()
                .into_iter()
                .map(|(n, v)| (n, v.as_tensor().clone()))
                .collect(),
        }
    }

    fn values(varmap: &VarMap) -> BTreeMap<String, Vec<f32>> {
        named_vars(varmap)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()))
            .collect()
    }

    #[test]
    fn same_channels_copy_every_tensor() {
        let source = model(1, 8, 1);
        let target = model(1, 8, 2);
        assert_ne!(values(&source), values(&target));
        let record = pretrained(&source).copy_into(&target).unwrap();
        assert_eq!(values(&source), values(&target));
        assert_eq!(record.copied, ["lifting", "projection", "trunk"]);
        assert!(record.fresh.is_empty());
    }

    #[test]
    fn other_channels_keep_the_trunk_and_make_new_embeddings() {
        let source = model(1, 8, 1);
        let target = model(3, 8, 2);
        let before = values(&target);
        let record = pretrained(&source).copy_into(&target).unwrap();
        assert_eq!(record.copied, ["trunk"]);
        assert_eq!(record.fresh, ["lifting", "projection"]);
        let (src, after) = (values(&source), values(&target));
        for (name, v) in &after {
            if name.starts_with("blocks.") {
                assert_eq!(v, &src[name], "{name}");
            } else {
                // Not even the tensors of a new embedding that happen to
                // fit (biases, the second layer) are taken over.
                assert_eq!(v, &before[name], "{name}");
            }
        }
    }

    #[test]
    fn a_trunk_of_other_shapes_is_refused_naming_the_setting() {
        let base = ModelConfig {
            modes: vec![4],
            width: 8,
            layers: 2,
            ..ModelConfig::default()
        };
        let dir = std::path::Path::new("runs/pre");
        check_trunk(&base, &base, dir).unwrap();
        let other_channels = ModelConfig {
            in_channels: 3,
            grid_channels: false,
            ..base.clone()
        };
        check_trunk(&base, &other_channels, dir).unwrap();
        // The rank sizes nothing in a dense model, and a Tucker model's weights.
        let rank = |rank: f64, factorization: Factorization| ModelConfig {
            rank,
            factorization,
            ..base.clone()
        };
        check_trunk(&base, &rank(0.5, Factorization::Dense), dir).unwrap();
        match check_trunk(
            &rank(0.2, Factorization::Tucker),
            &rank(0.5, Factorization::Tucker),
            dir,
        ) {
            Err(TrainError::Config(ConfigError::Invalid { field, .. })) => {
                assert_eq!(field, "model.rank")
            }
            other => panic!("expected model.rank refused, got {other:?}"),
        }
        for (new, field) in [
            (
                ModelConfig {
                    width: 16,
                    ..base.clone()
                },
                "model.width",
            ),
            (
                ModelConfig {
                    layers: 3,
                    ..base.clone()
                },
                "model.layers",
            ),
            (
                ModelConfig {
                    modes: vec![6],
                    ..base.clone()
                },
                "model.modes",
            ),
            (
                ModelConfig {
                    channel_mlp_expansion: 0.5,
                    ..base.clone()
                },
                "model.channel_mlp_expansion",
            ),
            (
                ModelConfig {
                    factorization: Factorization::PerAxis,
                    ..base.clone()
                },
                "model.factorization",
            ),
            (
                ModelConfig {
                    factorization: Factorization::Tucker,
                    ..base.clone()
                },
                "model.factorization",
            ),
        ] {
            match check_trunk(&base, &new, dir) {
                Err(TrainError::Config(ConfigError::Invalid { field: f, reason })) => {
                    assert_eq!(f, field);
                    assert!(reason.contains("runs/pre"), "{reason}");
                }
                other => panic!("{field}: expected a refusal, got {other:?}"),
            }
        }
        // The copy itself refuses a trunk that does not fit.
        let err = pretrained(&model(1, 8, 1))
            .copy_into(&model(1, 16, 2))
            .unwrap_err();
        assert!(err.to_string().contains("blocks."), "{err}");
    }

    #[test]
    fn a_frozen_trunk_loses_its_gradients_until_it_thaws() {
        let varmap = model(1, 8, 1);
        let vars = named_vars(&varmap).unwrap();
        let mut cfg = RunConfig::default();
        cfg.train.freeze_trunk_epochs = 2;
        let mut freeze = TrunkFreeze::new(&cfg, &vars);
        let all_grads = || {
            let mut grads = GradStore::default();
            for (_, v) in &vars {
                grads.insert(v, v.as_tensor().ones_like().unwrap());
            }
            grads
        };
        let kept = |grads: &GradStore| -> Vec<&str> {
            let mut parts: Vec<&str> = vars
                .iter()
                .filter(|(_, v)| grads.get(v).is_some())
                .map(|(n, _)| part_of(n))
                .collect();
            parts.dedup();
            parts
        };
        for (epoch, want) in [
            (0, vec!["lifting", "projection"]),
            (1, vec!["lifting", "projection"]),
            (2, vec!["trunk", "lifting", "projection"]),
        ] {
            freeze.enter(epoch);
            let mut grads = all_grads();
            freeze.apply(&mut grads);
            let mut got = kept(&grads);
            got.sort();
            let mut want = want;
            want.sort();
            assert_eq!(got, want, "epoch {epoch}");
        }
    }
}
