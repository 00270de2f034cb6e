//! The training loop: supervised, physics-informed or hybrid training with
//! checkpoints, exact resume, divergence detection and per-epoch metrics.
use super::config::RunConfig;
use super::epoch_end::{commit_epoch, ensure_finite, load_checkpoint, update, StepError};
use super::init::seeded_var_builder;
use super::init_from::{Pretrained, TrunkFreeze};
use super::losses::{loss, relative_l2_per_sample, scalar, weighted, Share};
use super::optim::{named_vars, AdamW};
use super::physics::PhysicsTerm;
use super::plan::{merged_over_ranks, shard_of, Plan};
use super::preflight::{check_training, resolve_model};
use super::refine::{even_points, refine};
use super::run::rollout;
use super::symmetry::averaged;
use super::window::{
    frames_from_output, one_step_target, window_ids, window_normalizers, window_settings,
};
use super::TrainError;
use crate::data::loader::{for_each_batch, Batch, BatchPlan};
use crate::data::well_normalizers::stats_normalizers;
use crate::data::{Augment, Normalizer, NormalizerFit, PdebenchFile, Split, Task};
use crate::dist::Communicator;
use crate::model::{inference, with_precision, Fno};
use crate::rundir::{EpochRecord, InitRecord, Normalizers, RunDir, RunState};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What [`train`] tells its caller as it goes.
pub trait Progress {
    /// Training starts (or resumes) at `first_epoch` of `epochs`.
    fn start(&mut self, _params: usize, _first_epoch: usize, _epochs: usize, _batches: usize) {}
    /// A training batch finished.
    fn batch(&mut self, _loss: f64, _lr: f64, _samples_per_s: f64) {}
    /// An epoch finished.
    fn epoch(&mut self, _record: &EpochRecord) {}
    /// Something about the run deserves a word before it starts (a
    /// physics parameter that contradicts the data file, say).
    fn warning(&mut self, _message: &str) {}
    /// Resuming was asked for, but the run has no committed checkpoint yet
    /// (it was stopped during its first epoch): it starts from the
    /// beginning.
    fn no_checkpoint(&mut self) {}
}

/// How [`train`] treats what the run directory already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new run; the directory must be empty or missing.
    Fresh,
    /// A new run that first removes an earlier run's files.
    Overwrite,
    /// Continue from the last checkpoint, or from the beginning where none
    /// was committed yet.
    Resume,
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
    /// What the run took from a pretrained run (`train.init_from`).
    pub init: Option<InitRecord>,
}

pub(super) fn open_plan(cfg: &RunConfig) -> Result<Plan, TrainError> {
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
    let frames_of = |f: &PdebenchFile| {
        f.info()
            .num_frames
            .div_ceil(cfg.data.reduced_resolution_t.max(1))
    };
    let frames = frames_of(&train_file);
    let steps = cfg.task.rollout_steps(frames);
    let test_frames = test_file.as_ref().map_or(frames, frames_of);
    let windows = window_ids(&cfg.task, frames).zip(window_ids(&cfg.task, test_frames));
    Ok(Plan {
        windows,
        train_file,
        test_file,
        train_indices,
        unlabelled_indices,
        test_indices,
        steps,
    })
}

/// Fits input and output normalisers on the training samples, or takes
/// them from a Well data set's `stats.yaml`.
/// Under data parallelism each rank fits its own contiguous part of the
/// training samples (reading only those) and the ranks' moments are
/// merged in rank order, so every rank ends with the same normalisers.
pub(super) fn fit_normalizers(
    cfg: &RunConfig,
    plan: &Plan,
    comm: &dyn Communicator,
) -> Result<Normalizers, TrainError> {
    let (cin, cout) = (cfg.model.in_channels, cfg.model.out_channels);
    if !cfg.train.normalize {
        return Ok(Normalizers {
            input: Normalizer::identity(cin),
            output: Normalizer::identity(cout),
        });
    }
    if let Some(settings) = window_settings(&cfg.task) {
        return window_normalizers(settings, plan, &cfg.data.resolution(), comm);
    }
    // A Well data set's stats.yaml normalises as The Well's benchmark does.
    if let Some((input, output)) = stats_normalizers(plan.train_file.info(), &cfg.task)? {
        return Ok(Normalizers { input, output });
    }
    let per_field = matches!(cfg.task, Task::Autoregressive { .. } | Task::SpaceTime);
    let mut input_fit = NormalizerFit::new(cin);
    let mut output_fit = NormalizerFit::new(cout);
    let res = cfg.data.resolution();
    let shard = shard_of(comm);
    for chunk in shard.part(&plan.train_indices).chunks(16) {
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
    if comm.size() > 1 {
        input_fit = merged_over_ranks(&input_fit, cin, comm);
        output_fit = merged_over_ranks(&output_fit, cout, comm);
    }
    let output = output_fit.finish();
    let input = if per_field {
        output.repeated(cin / cout.max(1))
    } else {
        input_fit.finish()
    };
    Ok(Normalizers { input, output })
}

/// Whether a run starts from the checkpoint in `run` (true) or from the
/// beginning, after checking what the directory holds against `start`.
pub(super) fn decide_start(
    run: &RunDir,
    start: Start,
    progress: &mut dyn Progress,
) -> Result<bool, TrainError> {
    Ok(match start {
        Start::Resume if run.holds_run() => true,
        Start::Resume => {
            progress.no_checkpoint();
            false
        }
        Start::Fresh if !run.is_empty()? => {
            return Err(TrainError::RunExists {
                dir: run.path().to_path_buf(),
            })
        }
        Start::Fresh => false,
        Start::Overwrite => {
            run.clear()?;
            false
        }
    })
}

/// Refuses a global batch that the processes cannot share evenly.
pub(super) fn check_world(cfg: &RunConfig, comm: &dyn Communicator) -> Result<(), TrainError> {
    let (batch, size) = (cfg.train.batch_size, comm.size());
    if batch % size != 0 {
        return Err(TrainError::Config(super::config::ConfigError::Invalid {
            field: "train.batch_size",
            reason: format!(
                "the global batch of {batch} samples cannot be split evenly over {size} processes"
            ),
        }));
    }
    Ok(())
}

/// [`super::train_with`] for a run with one data file: the loop this file
/// holds.
pub(crate) fn train_one_source(
    cfg: &RunConfig,
    out: &Path,
    start: Start,
    device: &Device,
    progress: &mut dyn Progress,
    comm: &dyn Communicator,
) -> Result<TrainReport, TrainError> {
    check_world(cfg, comm)?;
    let on_device = crate::dist::for_device(comm, device);
    let comm = on_device.comm();
    // Before the run directory is touched: data that do not fit the run,
    // a model larger than memory.
    check_training(cfg, device, &mut |warning| progress.warning(&warning))?;
    if let Some(note) = on_device.note().filter(|_| comm.is_root()) {
        progress.warning(note);
    }
    let run = RunDir::new(out);
    // A pretrained run that does not fit is refused before the run
    // directory is touched; a resume continues from its own checkpoint.
    let pretrained = if start == Start::Resume && run.holds_run() {
        None
    } else {
        Pretrained::load(cfg)?
    };
    let writes = comm.is_root();
    let _lock = writes.then(|| run.lock()).transpose()?;
    let resume = if writes {
        decide_start(&run, start, progress)?
    } else {
        false
    };
    // Every rank follows rank 0's reading of the directory.
    let mut decision = [f64::from(u8::from(resume))];
    comm.broadcast_f64(0, &mut decision);
    let resume = decision[0] > 0.0;
    let mut cfg = cfg.clone();
    let plan = open_plan(&cfg)?;
    resolve_model(&mut cfg, &plan.train_file)?;
    let mut trainer = Trainer::new(&cfg, &plan, device, comm)?;
    let mut state = if resume {
        trainer.resume(&run)?
    } else {
        trainer.start(&run, writes, pretrained)?
    };
    let params = trainer.model.num_parameters();
    let batches = trainer.epoch_indices.len().div_ceil(cfg.train.batch_size);
    progress.start(params, state.epoch, cfg.train.epochs, batches);
    let mut last = None;
    for epoch in state.epoch..cfg.train.epochs {
        let record = trainer.epoch(epoch, &mut state, progress)?;
        // Nothing of an epoch that broke the model is kept: the metrics
        // line and the checkpoint wait until it is known to be finite.
        ensure_finite(&trainer.optimizer, &record, &state)?;
        if !writes {
            commit_epoch(
                &run,
                &mut state,
                &record,
                false,
                &trainer.varmap,
                &trainer.optimizer,
            )?;
            last = Some(record);
            continue;
        }
        if resume && last.is_none() {
            // Only now that an epoch succeeded does a resume touch the
            // run: drop metrics of epochs after the checkpoint, save the
            // configuration with its overrides.
            run.truncate_metrics(epoch)?;
            run.write_config(&cfg.to_toml())?;
        }
        run.append_metrics(&record)?;
        commit_epoch(
            &run,
            &mut state,
            &record,
            true,
            &trainer.varmap,
            &trainer.optimizer,
        )?;
        progress.epoch(&record);
        last = Some(record);
    }
    if writes {
        run.remove_stale_checkpoints()?;
    }
    Ok(TrainReport {
        run_dir: out.to_path_buf(),
        params,
        last,
        best: state.best,
        samples: (plan.train_indices.len(), plan.test_indices.len()),
        init: state.init,
    })
}

/// The state of a training run between epochs: the model, its optimiser
/// and everything each batch needs.
struct Trainer<'a> {
    cfg: &'a RunConfig,
    /// The processes training together; this one reads its part of each
    /// batch.
    comm: &'a dyn Communicator,
    plan: &'a Plan,
    device: Device,
    varmap: VarMap,
    model: Fno,
    var_list: Vec<Var>,
    optimizer: AdamW,
    /// Fitted by [`Trainer::start`] or read by [`Trainer::resume`].
    normalizers: Normalizers,
    physics: Option<PhysicsTerm>,
    /// Training samples whose targets enter the loss.
    labelled: HashSet<usize>,
    /// Labelled then unlabelled samples, shuffled per epoch.
    epoch_indices: Vec<usize>,
    /// Autoregressive runs train through the last k steps only.
    backprop: Option<usize>,
    /// The Fourier blocks held as they are for the first epochs.
    freeze: TrunkFreeze,
}

impl<'a> Trainer<'a> {
    /// A freshly initialised model and optimiser for `cfg` on `device`.
    fn new(
        cfg: &'a RunConfig,
        plan: &'a Plan,
        device: &Device,
        comm: &'a dyn Communicator,
    ) -> Result<Self, TrainError> {
        let varmap = VarMap::new();
        let model = Fno::new(
            &cfg.model,
            seeded_var_builder(&varmap, cfg.train.seed, DType::F32, device),
        )?;
        let vars = named_vars(&varmap)?;
        let var_list = vars.iter().map(|(_, v)| v.clone()).collect();
        let freeze = TrunkFreeze::new(cfg, &vars);
        let optimizer = AdamW::new(vars, cfg.train.optimizer)?;
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
        let mut epoch_indices = plan.train_indices.clone();
        epoch_indices.extend_from_slice(&plan.unlabelled_indices);
        if let Some((train_windows, _)) = &plan.windows {
            // The window task trains on every window of every trajectory.
            epoch_indices = train_windows.of(&epoch_indices);
        }
        let (cin, cout) = (cfg.model.in_channels, cfg.model.out_channels);
        Ok(Self {
            cfg,
            comm,
            plan,
            device: device.clone(),
            varmap,
            model,
            var_list,
            optimizer,
            normalizers: Normalizers {
                input: Normalizer::identity(cin),
                output: Normalizer::identity(cout),
            },
            physics,
            labelled: match &plan.windows {
                Some(_) => epoch_indices.iter().copied().collect(),
                None => plan.train_indices.iter().copied().collect(),
            },
            epoch_indices,
            backprop: match cfg.task {
                Task::Autoregressive { backprop_steps, .. } => backprop_steps,
                _ => None,
            },
            freeze,
        })
    }

    /// Begins a new run: takes the `pretrained` weights (read here if
    /// the caller expected a resume), fits the normalisers and, if this
    /// process `writes` the run, saves the configuration (which a resume
    /// without `--config` reads) and the normalisers, and drops the
    /// metrics of an earlier start that committed no checkpoint.
    fn start(
        &mut self,
        run: &RunDir,
        writes: bool,
        pretrained: Option<Pretrained>,
    ) -> Result<RunState, TrainError> {
        let pretrained = match pretrained {
            Some(p) => Some(p),
            None => Pretrained::load(self.cfg)?,
        };
        let init = pretrained.map(|p| p.copy_into(&self.varmap)).transpose()?;
        if writes {
            run.write_config(&self.cfg.to_toml())?;
        }
        self.normalizers = fit_normalizers(self.cfg, self.plan, self.comm)?;
        if writes {
            run.write_normalizers(&self.normalizers)?;
            run.truncate_metrics(0)?;
        }
        Ok(RunState {
            init,
            ..RunState::start(self.cfg.train.seed)
        })
    }

    /// Continues a run from its last checkpoint: weights, optimiser state
    /// and normalisers; reads only.
    fn resume(&mut self, run: &RunDir) -> Result<RunState, TrainError> {
        let state = load_checkpoint(run, &mut self.varmap, &mut self.optimizer)?;
        self.normalizers = run.read_normalizers()?;
        Ok(state)
    }

    /// One pass over the training samples, then the test set; advances
    /// `state.step` by the optimiser steps taken. Each global batch is one
    /// step on every rank, also on a rank whose part of it is empty.
    fn epoch(
        &mut self,
        epoch: usize,
        state: &mut RunState,
        progress: &mut dyn Progress,
    ) -> Result<EpochRecord, TrainError> {
        let started = Instant::now();
        self.freeze.enter(epoch);
        let t = &self.cfg.train;
        let lr = t.schedule.lr(t.lr, epoch, t.epochs, t.warmup_epochs);
        let train_plan = BatchPlan {
            indices: self.epoch_indices.clone(),
            batch_size: t.batch_size,
            shuffle_seed: Some(t.seed),
            epoch,
            resolution: self.cfg.data.resolution(),
            task: self.cfg.task,
            shard: shard_of(self.comm),
            windows: self.plan.windows.map(|(train, _)| train),
            augment: (!t.augment.is_empty()).then(|| Augment {
                transforms: t.augment.clone(),
                seed: t.seed,
                epoch,
            }),
        };
        let order = train_plan.order();
        let global: Vec<&[usize]> = order.chunks(t.batch_size.max(1)).collect();
        let (mut loss_sum, mut seen, mut steps) = (0.0, 0usize, 0usize);
        let mut account = |value: f64, n: usize, state: &mut RunState| {
            state.step += 1;
            loss_sum += value * n as f64;
            seen += n;
            let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-9);
            progress.batch(value, lr, rate);
        };
        let (plan, device) = (self.plan, self.device.clone());
        for_each_batch(
            &plan.train_file,
            &train_plan,
            &device,
            |batch| -> Result<(), TrainError> {
                let whole = global.get(steps).copied().unwrap_or_default();
                let share = self.share(&batch.indices, whole);
                let value = self
                    .step(&batch, share, lr)
                    .map_err(|e| e.at(epoch, state, None))?;
                account(value, whole.len(), state);
                steps += 1;
                Ok(())
            },
        )?;
        // Only the last global batch can be too small to reach every rank.
        for whole in &global[steps.min(global.len())..] {
            let value = self.empty_step(lr).map_err(|e| e.at(epoch, state, None))?;
            account(value, whole.len(), state);
        }
        let train_wall = started.elapsed().as_secs_f64();
        let (test_loss, test_rel_l2) = evaluate_normalised(
            self.cfg,
            self.plan,
            &self.model,
            &self.normalizers,
            &self.device,
            self.comm,
        )?;
        Ok(EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            test_loss,
            test_rel_l2,
            lr,
            wall_s: started.elapsed().as_secs_f64(),
            samples_per_s: seen as f64 / train_wall.max(1e-9),
            per_source: Default::default(),
        })
    }

    /// The weights that make this rank's part of a loss add up, over the
    /// ranks, to the loss of the `whole` batch: each term is a mean over
    /// samples (or over equally many points per sample), so a part counts
    /// by its share of the samples the term covers.
    fn share(&self, part: &[usize], whole: &[usize]) -> Share {
        let labelled = |ids: &[usize]| ids.iter().filter(|i| self.labelled.contains(i)).count();
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        Share {
            all: ratio(part.len(), whole.len()),
            labelled: ratio(labelled(part), labelled(whole)),
        }
    }

    /// One optimiser step on this rank's part of a batch; returns the
    /// batch's loss, or stops on a non-finite one.
    fn step(&mut self, batch: &Batch, share: Share, lr: f64) -> Result<f64, StepError> {
        let precision = self.cfg.train.precision;
        let loss = with_precision(precision, || self.batch_loss(batch, share))?;
        let value = scalar(&loss)?;
        if self.comm.size() == 1 && !value.is_finite() {
            // Alone, stop before differentiating a broken loss.
            return Err(StepError::NonFiniteLoss(value));
        }
        let grads = loss.backward()?;
        self.update(grads, value, lr)
    }

    /// The step of a rank whose part of the batch is empty: it adds
    /// nothing to the sums but takes the same update.
    fn empty_step(&mut self, lr: f64) -> Result<f64, StepError> {
        self.update(GradStore::default(), 0.0, lr)
    }

    /// Sums gradients and loss over the ranks, then clips and applies the
    /// update; returns the batch's loss.
    fn update(&mut self, mut grads: GradStore, value: f64, lr: f64) -> Result<f64, StepError> {
        self.freeze.apply(&mut grads);
        let clip = self.cfg.train.grad_clip;
        update(
            self.comm,
            &mut self.optimizer,
            &self.var_list,
            grads,
            value,
            lr,
            clip,
        )
    }

    /// This rank's part of the loss of a batch: the data loss, or with
    /// physics terms the weighted data loss of its labelled samples plus
    /// the residual and initial-condition terms of all of them, each
    /// weighted by its `share`.
    fn batch_loss(&self, batch: &Batch, share: Share) -> Result<Tensor, TrainError> {
        let cfg = self.cfg;
        let x = self.normalizers.input.encode(&batch.input)?;
        if let Some((n_in, delta)) = window_settings(&cfg.task) {
            let y = one_step_target(delta, &self.normalizers, &batch.input, &batch.target, n_in)?;
            let pred = self.model.forward(&x)?;
            return Ok(weighted(loss(cfg.train.loss, &pred, &y)?, share.all)?);
        }
        let y = self.normalizers.output.encode_stacked(&batch.target)?;
        let pred = rollout(&self.model, &cfg.task, &x, self.plan.steps, self.backprop)?;
        let Some(term) = &self.physics else {
            let mut data = loss(cfg.train.loss, &pred, &y)?;
            let weight = cfg.train.resolution_consistency;
            if weight > 0.0 {
                let fine = self.model.forward(&refine(&x)?)?;
                let consistency = loss(cfg.train.loss, &even_points(&fine)?, &y)?;
                data = (data + (consistency * weight)?)?;
            }
            return Ok(weighted(data, share.all)?);
        };
        let rows: Vec<u32> = (0..batch.indices.len() as u32)
            .filter(|&i| self.labelled.contains(&batch.indices[i as usize]))
            .collect();
        let mut total = Tensor::zeros((), pred.dtype(), pred.device())?;
        if !rows.is_empty() && cfg.physics.w_data > 0.0 {
            let rows = Tensor::new(rows.as_slice(), &self.device)?;
            let data = loss(
                cfg.train.loss,
                &pred.index_select(&rows, 0)?,
                &y.index_select(&rows, 0)?,
            )?;
            total = (total + weighted(data, cfg.physics.w_data * share.labelled)?)?;
        }
        let p = term.losses(
            &self.model,
            &x,
            &batch.input,
            Some(&pred),
            &self.normalizers.output,
        )?;
        let physics = ((p.pde * cfg.physics.w_pde)? + (p.ic * cfg.physics.w_ic)?)?;
        Ok((total + weighted(physics, share.all)?)?)
    }
}

/// Test loss (normalised) and relative L2 (physical) over the test set.
pub(super) fn evaluate_normalised(
    cfg: &RunConfig,
    plan: &Plan,
    model: &Fno,
    normalizers: &Normalizers,
    device: &Device,
    comm: &dyn Communicator,
) -> Result<(f64, f64), TrainError> {
    let windows = plan.windows.map(|(_, test)| test);
    let test_plan = BatchPlan {
        indices: match &windows {
            Some(ids) => ids.of(&plan.test_indices),
            None => plan.test_indices.clone(),
        },
        batch_size: cfg.train.batch_size,
        shuffle_seed: None,
        epoch: 0,
        resolution: cfg.data.resolution(),
        task: cfg.task,
        shard: shard_of(comm),
        windows,
        augment: None,
    };
    let window = window_settings(&cfg.task);
    let (mut loss_sum, mut rel_sum, mut n) = (0.0, 0.0, 0usize);
    for_each_batch(
        plan.test_file(),
        &test_plan,
        device,
        |batch| -> Result<(), TrainError> {
            let y = match window {
                // The window task is scored on its one-step pairs, as trained.
                Some((n_in, delta)) => {
                    one_step_target(delta, normalizers, &batch.input, &batch.target, n_in)?
                }
                None => normalizers.output.encode_stacked(&batch.target)?,
            };
            // Validation never differentiates: keep nothing for a backward
            // pass. The prediction, normalised and in physical units.
            let (pred, physical) = match cfg.inference.symmetries.as_slice() {
                [] => {
                    let x = normalizers.input.encode(&batch.input)?;
                    let pred =
                        inference(|| rollout(model, &cfg.task, &x, plan.steps, None))?.detach();
                    let physical = match window {
                        Some((n_in, delta)) => {
                            frames_from_output(delta, normalizers, &batch.input, &pred, n_in)?
                        }
                        None => normalizers.output.decode_stacked(&pred)?,
                    };
                    (pred, physical)
                }
                // A one-shot or inverse task (the config refuses others).
                symmetries => {
                    let physical = averaged(symmetries, &batch.input, |gx, _| {
                        let y = inference(|| model.forward(&normalizers.input.encode(gx)?))?;
                        Ok::<_, TrainError>(normalizers.output.decode(&y)?)
                    })?;
                    (normalizers.output.encode(&physical)?, physical)
                }
            };
            let b = batch.indices.len();
            loss_sum += scalar(&loss(cfg.train.loss, &pred, &y)?)? * b as f64;
            rel_sum += relative_l2_per_sample(&physical, &batch.target)?
                .iter()
                .sum::<f64>();
            n += b;
            Ok(())
        },
    )?;
    // Each rank evaluated its part of every batch: add up the sums.
    let mut sums = [loss_sum, rel_sum, n as f64];
    comm.all_reduce_sum_f64(&mut sums);
    let [loss_sum, rel_sum, n] = sums;
    Ok((loss_sum / n.max(1.0), rel_sum / n.max(1.0)))
}
