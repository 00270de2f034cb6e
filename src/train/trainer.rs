//! The training loop: supervised, physics-informed or hybrid training with
//! checkpoints, exact resume, divergence detection and per-epoch metrics.
use super::checkpoint::{with_atomic_path, write_atomic, RunState, RUN_FORMAT_VERSION};
use super::config::{LossKind, RunConfig};
use super::init::seeded_var_builder;
use super::optim::{clip_grad_norm, named_vars, AdamW};
use super::physics::PhysicsTerm;
use super::run::{files, rollout, Normalizers};
use super::TrainError;
use crate::data::loader::{for_each_batch, BatchPlan};
use crate::data::{Normalizer, NormalizerFit, PdebenchFile, Split, Task};
use crate::model::{inference, Fno, ModelConfig};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 0.
    pub epoch: usize,
    /// Mean training loss (normalised units).
    pub train_loss: f64,
    /// Mean test loss (normalised units, same loss as training).
    pub test_loss: f64,
    /// Mean relative L2 error on the test set, in physical units.
    pub test_rel_l2: f64,
    /// Learning rate used in this epoch.
    pub lr: f64,
    /// Seconds spent in this epoch (training and testing).
    pub wall_s: f64,
    /// Training samples per second.
    pub samples_per_s: f64,
}

/// What [`train`] tells its caller as it goes.
pub trait Progress {
    /// Training starts (or resumes) at `first_epoch` of `epochs`.
    fn start(&mut self, _params: usize, _first_epoch: usize, _epochs: usize, _batches: usize) {}
    /// A training batch finished.
    fn batch(&mut self, _loss: f64, _lr: f64, _samples_per_s: f64) {}
    /// An epoch finished.
    fn epoch(&mut self, _record: &EpochRecord) {}
}

/// Reports nothing (tests, library users).
pub struct Silent;
impl Progress for Silent {}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Trainable parameters.
    pub params: usize,
    /// The last epoch's record.
    pub last: Option<EpochRecord>,
    /// Best test loss and its epoch.
    pub best: Option<(f64, usize)>,
    /// Training samples and test samples.
    pub samples: (usize, usize),
}

/// The data of a run: files, indices and shapes, resolved once.
struct Plan {
    train_file: PdebenchFile,
    test_file: Option<PdebenchFile>,
    train_indices: Vec<usize>,
    /// Training-split samples whose targets are not used (physics only).
    unlabelled_indices: Vec<usize>,
    test_indices: Vec<usize>,
    steps: usize,
}

impl Plan {
    fn test_file(&self) -> &PdebenchFile {
        self.test_file.as_ref().unwrap_or(&self.train_file)
    }
}

/// Derives `dims`, channels and per-axis modes from the data and the task.
pub fn resolve_model(cfg: &mut RunConfig, file: &PdebenchFile) -> Result<(), TrainError> {
    let info = file.info();
    let frames = info
        .num_frames
        .div_ceil(cfg.data.reduced_resolution_t.max(1));
    cfg.task.validate(info, frames)?;
    let (cin, cout) = cfg.task.channels(info);
    let dims = cfg.task.model_dims(info.spatial_shape.len());
    let m: &mut ModelConfig = &mut cfg.model;
    m.dims = dims;
    m.in_channels = cin;
    m.out_channels = cout;
    if m.modes.len() == 1 && dims > 1 {
        m.modes = vec![m.modes[0]; dims];
    }
    m.validate()?;
    Ok(())
}

fn open_plan(cfg: &RunConfig) -> Result<Plan, TrainError> {
    let train_file = PdebenchFile::open(&cfg.data.train)?;
    let test_file = cfg.data.test.as_ref().map(PdebenchFile::open).transpose()?;
    let mut train_indices = train_file.select(&cfg.data.selection(Split::Train))?;
    let mut unlabelled_indices = Vec::new();
    if let Some(max) = cfg.data.max_train_samples {
        let rest = train_indices.split_off(max.max(1).min(train_indices.len()));
        unlabelled_indices = rest;
    }
    let wanted = cfg.physics.unlabelled_samples;
    if unlabelled_indices.len() < wanted {
        return Err(TrainError::Config(super::config::ConfigError::Invalid {
            field: "physics.unlabelled_samples",
            reason: format!(
                "{wanted} unlabelled samples asked for but the training split of {} has {} beyond data.max_train_samples",
                cfg.data.train.display(),
                unlabelled_indices.len()
            ),
        }));
    }
    unlabelled_indices.truncate(wanted);
    let test_indices = match &test_file {
        Some(f) => f.select(&cfg.data.selection(Split::Test))?,
        None => train_file.select(&cfg.data.selection(Split::Test))?,
    };
    let frames = train_file
        .info()
        .num_frames
        .div_ceil(cfg.data.reduced_resolution_t.max(1));
    let steps = match cfg.task {
        Task::Autoregressive { initial_step, .. } => frames - initial_step,
        _ => 1,
    };
    Ok(Plan {
        train_file,
        test_file,
        train_indices,
        unlabelled_indices,
        test_indices,
        steps,
    })
}

/// Fits input and output normalisers on the training samples.
fn fit_normalizers(cfg: &RunConfig, plan: &Plan) -> Result<Normalizers, TrainError> {
    let (cin, cout) = (cfg.model.in_channels, cfg.model.out_channels);
    if !cfg.train.normalize {
        return Ok(Normalizers {
            input: Normalizer::identity(cin),
            output: Normalizer::identity(cout),
        });
    }
    let per_field = matches!(cfg.task, Task::Autoregressive { .. } | Task::SpaceTime);
    let mut input_fit = NormalizerFit::new(cin);
    let mut output_fit = NormalizerFit::new(cout);
    let res = cfg.data.resolution();
    for chunk in plan.train_indices.chunks(16) {
        for sample in plan.train_file.read_samples(chunk, &res)? {
            let ex = cfg.task.example(&sample)?;
            for (c, channel) in ex.input.outer_iter().enumerate() {
                if per_field {
                    output_fit.push(c % cout, channel.iter().copied());
                } else {
                    input_fit.push(c, channel.iter().copied());
                }
            }
            for (c, channel) in ex.target.outer_iter().enumerate() {
                output_fit.push(c % cout, channel.iter().copied());
            }
        }
    }
    let output = output_fit.finish();
    let input = if per_field {
        output.repeated(cin / cout.max(1))
    } else {
        input_fit.finish()
    };
    Ok(Normalizers { input, output })
}

/// The training loss between normalised prediction and target.
pub fn loss(kind: LossKind, pred: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let diff = (pred - target)?;
    match kind {
        LossKind::Mse => diff.sqr()?.mean_all(),
        LossKind::RelativeL2 => {
            let b = diff.dim(0)?;
            let num = diff.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
            let den = target.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
            (num / (den + 1e-12)?)?.mean_all()
        }
    }
}

/// Per-sample relative L2 error `‖p − y‖ / ‖y‖` over all channels and points.
pub fn relative_l2_per_sample(pred: &Tensor, target: &Tensor) -> candle_core::Result<Vec<f64>> {
    let b = pred.dim(0)?;
    let num = (pred - target)?.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
    let den = target.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
    let r = (num / (den + 1e-30)?)?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    Ok(r)
}

fn scalar(t: &Tensor) -> candle_core::Result<f64> {
    t.to_dtype(DType::F64)?.to_scalar::<f64>()
}

/// Trains a model as `cfg` says on `device`, writing the run into `out`.
/// With `resume` it continues a run in `out` from its last checkpoint,
/// exactly as if it had not stopped (same batches, same optimiser state).
pub fn train(
    cfg: &RunConfig,
    out: &Path,
    resume: bool,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<TrainReport, TrainError> {
    let device = device.clone();
    let state_path = out.join(files::STATE);
    if !resume && state_path.exists() {
        return Err(TrainError::RunExists {
            dir: out.to_path_buf(),
        });
    }
    std::fs::create_dir_all(out).map_err(|source| TrainError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut cfg = cfg.clone();
    let plan = open_plan(&cfg)?;
    resolve_model(&mut cfg, &plan.train_file)?;
    let varmap = VarMap::new();
    let model = Fno::new(
        &cfg.model,
        seeded_var_builder(&varmap, cfg.train.seed, DType::F32, &device),
    )?;
    let vars = named_vars(&varmap)?;
    let var_list: Vec<candle_core::Var> = vars.iter().map(|(_, v)| v.clone()).collect();
    let mut optimizer = AdamW::new(vars, cfg.train.optimizer)?;

    let (normalizers, mut state) = if resume {
        let state: RunState = read_json(&state_path)?;
        let normalizers: Normalizers = read_json(&out.join(files::NORMALIZER))?;
        let model_path = out.join(files::MODEL);
        let mut vm = varmap.clone();
        vm.load(&model_path).map_err(|e| TrainError::Checkpoint {
            path: model_path,
            reason: e.to_string(),
        })?;
        let opt_path = out.join(files::OPTIMIZER);
        optimizer
            .load(&opt_path)
            .map_err(|e| TrainError::Checkpoint {
                path: opt_path.clone(),
                reason: e.to_string(),
            })?;
        if optimizer.steps() != state.step {
            return Err(TrainError::Checkpoint {
                path: opt_path,
                reason: format!(
                    "optimizer is at step {} but state.json says {}: the checkpoint is inconsistent",
                    optimizer.steps(),
                    state.step
                ),
            });
        }
        truncate_metrics(&out.join(files::METRICS), state.epoch)?;
        (normalizers, state)
    } else {
        let normalizers = fit_normalizers(&cfg, &plan)?;
        write_json(&out.join(files::NORMALIZER), &normalizers)?;
        let state = RunState {
            version: RUN_FORMAT_VERSION,
            epoch: 0,
            step: 0,
            seed: cfg.train.seed,
            best: None,
        };
        (normalizers, state)
    };
    write_atomic(&out.join(files::CONFIG), cfg.to_toml().as_bytes()).map_err(|source| {
        TrainError::Io {
            path: out.join(files::CONFIG),
            source,
        }
    })?;

    let physics = if cfg.physics.active() {
        Some(PhysicsTerm::new(
            &cfg.physics,
            &cfg.task,
            &plan.train_file,
            &cfg.data.resolution(),
        )?)
    } else {
        None
    };
    let labelled: HashSet<usize> = plan.train_indices.iter().copied().collect();
    let mut epoch_indices = plan.train_indices.clone();
    epoch_indices.extend_from_slice(&plan.unlabelled_indices);
    let params = model.num_parameters();
    let batches = epoch_indices.len().div_ceil(cfg.train.batch_size);
    progress.start(params, state.epoch, cfg.train.epochs, batches);
    let mut last = None;
    let backprop = match cfg.task {
        Task::Autoregressive { backprop_steps, .. } => backprop_steps,
        _ => None,
    };
    for epoch in state.epoch..cfg.train.epochs {
        let started = Instant::now();
        let lr = cfg.train.schedule.lr(
            cfg.train.lr,
            epoch,
            cfg.train.epochs,
            cfg.train.warmup_epochs,
        );
        let train_plan = BatchPlan {
            indices: epoch_indices.clone(),
            batch_size: cfg.train.batch_size,
            shuffle_seed: Some(cfg.train.seed),
            epoch,
            resolution: cfg.data.resolution(),
            task: cfg.task,
        };
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        let mut step = state.step;
        for_each_batch(
            &plan.train_file,
            &train_plan,
            &device,
            |batch| -> Result<(), TrainError> {
                let x = normalizers.input.encode(&batch.input)?;
                let y = normalizers.output.encode_stacked(&batch.target)?;
                let pred = rollout(&model, &cfg.task, &x, plan.steps, backprop)?;
                let l = match &physics {
                    None => loss(cfg.train.loss, &pred, &y)?,
                    Some(term) => {
                        let rows: Vec<u32> = (0..batch.indices.len() as u32)
                            .filter(|&i| labelled.contains(&batch.indices[i as usize]))
                            .collect();
                        let mut total = Tensor::zeros((), pred.dtype(), pred.device())?;
                        if !rows.is_empty() && cfg.physics.w_data > 0.0 {
                            let rows = Tensor::new(rows.as_slice(), &device)?;
                            let data = loss(
                                cfg.train.loss,
                                &pred.index_select(&rows, 0)?,
                                &y.index_select(&rows, 0)?,
                            )?;
                            total = (total + (data * cfg.physics.w_data)?)?;
                        }
                        let p = term.losses(
                            &model,
                            &x,
                            &batch.input,
                            Some(&pred),
                            &normalizers.output,
                        )?;
                        ((total + (p.pde * cfg.physics.w_pde)?)? + (p.ic * cfg.physics.w_ic)?)?
                    }
                };
                let value = scalar(&l)?;
                if !value.is_finite() {
                    return Err(TrainError::Diverged {
                        epoch,
                        step,
                        loss: value,
                    });
                }
                let mut grads = l.backward()?;
                if cfg.train.grad_clip > 0.0 {
                    clip_grad_norm(&mut grads, &var_list, cfg.train.grad_clip)?;
                }
                optimizer.step(&grads, lr)?;
                step += 1;
                let n = batch.indices.len();
                loss_sum += value * n as f64;
                seen += n;
                progress.batch(
                    value,
                    lr,
                    seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
                );
                Ok(())
            },
        )?;
        let train_wall = started.elapsed().as_secs_f64();
        let (test_loss, test_rel_l2) =
            evaluate_normalised(&cfg, &plan, &model, &normalizers, &device)?;
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            test_loss,
            test_rel_l2,
            lr,
            wall_s: started.elapsed().as_secs_f64(),
            samples_per_s: seen as f64 / train_wall.max(1e-9),
        };
        append_metrics(&out.join(files::METRICS), &record)?;
        let improved = state.best.is_none_or(|(b, _)| test_loss < b);
        if improved {
            state.best = Some((test_loss, epoch));
            save_varmap(&varmap, &out.join(files::BEST))?;
        }
        save_varmap(&varmap, &out.join(files::MODEL))?;
        let opt_path = out.join(files::OPTIMIZER);
        with_atomic_path(&opt_path, |p| optimizer.save(p)).map_err(|e| TrainError::Checkpoint {
            path: opt_path.clone(),
            reason: e.to_string(),
        })?;
        state.epoch = epoch + 1;
        state.step = step;
        // state.json goes last: it is the commit point of the checkpoint.
        write_json(&state_path, &state)?;
        progress.epoch(&record);
        last = Some(record);
    }
    Ok(TrainReport {
        run_dir: out.to_path_buf(),
        params,
        last,
        best: state.best,
        samples: (plan.train_indices.len(), plan.test_indices.len()),
    })
}

/// Test loss (normalised) and relative L2 (physical) over the test set.
fn evaluate_normalised(
    cfg: &RunConfig,
    plan: &Plan,
    model: &Fno,
    normalizers: &Normalizers,
    device: &Device,
) -> Result<(f64, f64), TrainError> {
    let test_plan = BatchPlan {
        indices: plan.test_indices.clone(),
        batch_size: cfg.train.batch_size,
        shuffle_seed: None,
        epoch: 0,
        resolution: cfg.data.resolution(),
        task: cfg.task,
    };
    let (mut loss_sum, mut rel_sum, mut n) = (0.0, 0.0, 0usize);
    for_each_batch(
        plan.test_file(),
        &test_plan,
        device,
        |batch| -> Result<(), TrainError> {
            let x = normalizers.input.encode(&batch.input)?;
            let y = normalizers.output.encode_stacked(&batch.target)?;
            // Validation never differentiates: keep nothing for a backward pass.
            let pred = inference(|| rollout(model, &cfg.task, &x, plan.steps, None))?.detach();
            let b = batch.indices.len();
            loss_sum += scalar(&loss(cfg.train.loss, &pred, &y)?)? * b as f64;
            let physical = normalizers.output.decode_stacked(&pred)?;
            rel_sum += relative_l2_per_sample(&physical, &batch.target)?
                .iter()
                .sum::<f64>();
            n += b;
            Ok(())
        },
    )?;
    Ok((loss_sum / n.max(1) as f64, rel_sum / n.max(1) as f64))
}

fn save_varmap(varmap: &VarMap, path: &Path) -> Result<(), TrainError> {
    with_atomic_path(path, |p| varmap.save(p)).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, text.as_bytes()).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn append_metrics(path: &Path, record: &EpochRecord) -> Result<(), TrainError> {
    let line = serde_json::to_string(record).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let io = |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    writeln!(f, "{line}").map_err(io)
}

/// Drops metric lines of epochs after the checkpoint (a run killed between
/// writing its metrics line and its checkpoint would otherwise repeat them).
fn truncate_metrics(path: &Path, epochs_done: usize) -> Result<(), TrainError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| serde_json::from_str::<EpochRecord>(l).is_ok_and(|r| r.epoch < epochs_done))
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, kept.as_bytes()).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}
