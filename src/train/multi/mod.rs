//! Multi-source pretraining (`[[data.sources]]`): one model trained on
//! several data files of different PDE families at once.
//!
//! The model is a shared trunk, the Fourier blocks (`blocks.*`), with a
//! lifting and a projection per source (`sources.<name>.lifting.*`,
//! `sources.<name>.projection.*`), so families with different fields and
//! channel counts share the blocks (the idea of multiple-physics
//! pretraining, McCabe et al. 2023, with embeddings per source rather
//! than per field). Every source is a single-source run of its own as far
//! as data go ([`view::source_view`]): its file, split, task, normalisers
//! (fitted on its own training samples) and validation. Each step's batch
//! comes from one source, as grids differ between sources; which source,
//! and which samples, is drawn from the seed and the epoch
//! ([`schedule::epoch_schedule`]), so data parallelism, resume and
//! reproducibility work as for one source.
pub mod schedule;
pub mod view;

use super::config::{ConfigError, RunConfig};
use super::epoch_end::{commit_epoch, ensure_finite, load_checkpoint, update, StepError};
use super::init::seeded_var_builder;
use super::losses::{loss, scalar, weighted};
use super::optim::{named_vars, AdamW};
use super::plan::{shard_of, Plan};
use super::preflight::{check_training, resolve_model};
use super::run::rollout;
use super::trainer::{
    check_world, decide_start, evaluate_normalised, fit_normalizers, open_plan, Progress, Start,
    TrainReport,
};
use super::TrainError;
use crate::data::loader::{stack, to_tensor};
use crate::data::{PdebenchFile, Task};
use crate::dist::Communicator;
use crate::model::Fno;
use crate::rundir::{EpochRecord, Normalizers, RunDir, RunState};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use schedule::epoch_schedule;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use view::{source_model, source_view};

/// One source of the run: its view as a single-source run and its model.
struct Source {
    name: String,
    weight: f64,
    /// The source's view, resolved against its data.
    cfg: RunConfig,
    plan: Plan,
    model: Fno,
    normalizers: Normalizers,
}

/// Resolves every source against its data (channels, padding, the
/// checks a single-source run passes before it starts), writes what it
/// derived into `cfg.data.sources` and returns each source's view.
/// Sources must give the model the same number of axes.
fn resolve_sources(
    cfg: &mut RunConfig,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<Vec<RunConfig>, TrainError> {
    let base = cfg.clone();
    let mut views: Vec<RunConfig> = Vec::new();
    for source in &mut cfg.data.sources {
        let name = source.name();
        let mut view = source_view(&base, source);
        let file = PdebenchFile::open(&source.file).map_err(|e| ConfigError::Invalid {
            field: "data.sources.file",
            reason: format!("source {name:?}: {e}"),
        })?;
        check_training(&view, device, &mut |w| {
            progress.warning(&format!("source {name:?}: {w}"))
        })?;
        resolve_model(&mut view, &file)?;
        if let Some(first) = views.first() {
            let (a, b) = (first.model.dims, view.model.dims);
            if a != b {
                let first_name = first.data.train.display();
                return Err(ConfigError::Invalid {
                    field: "data.sources",
                    reason: format!(
                        "source {name:?} gives the model {b} axes but the first source ({first_name}) gives it {a}: every source must have as many axes (grids and channels may differ)"
                    ),
                }
                .into());
            }
        }
        source.in_channels = view.model.in_channels;
        source.out_channels = view.model.out_channels;
        source.padding = view.model.padding.clone();
        views.push(view);
    }
    if let Some(first) = views.first() {
        cfg.model = first.model.clone();
    }
    Ok(views)
}

/// Trains the multi-source run `cfg` (see the module docs); called by
/// [`super::train_with`] when `data.sources` is set, with the
/// same contract.
pub(super) fn train_sources(
    cfg: &RunConfig,
    out: &Path,
    start: Start,
    device: &Device,
    progress: &mut dyn Progress,
    comm: &dyn Communicator,
) -> Result<TrainReport, TrainError> {
    check_world(cfg, comm)?;
    let mut cfg = cfg.clone();
    let views = resolve_sources(&mut cfg, device, progress)?;
    let run = RunDir::new(out);
    let writes = comm.is_root();
    let _lock = writes.then(|| run.lock()).transpose()?;
    let resume = writes && decide_start(&run, start, progress)?;
    let mut decision = [f64::from(u8::from(resume))];
    comm.broadcast_f64(0, &mut decision);
    let resume = decision[0] > 0.0;
    let mut trainer = MultiTrainer::new(&cfg, views, device, comm)?;
    let mut state = if resume {
        trainer.resume(&run)?
    } else {
        trainer.start(&run, writes)?
    };
    let params = trainer
        .varmap
        .all_vars()
        .iter()
        .map(|v| v.elem_count())
        .sum();
    let batches = trainer.schedule(0).len();
    progress.start(params, state.epoch, cfg.train.epochs, batches);
    let mut last = None;
    for epoch in state.epoch..cfg.train.epochs {
        let record = trainer.epoch(epoch, &mut state, progress)?;
        ensure_finite(&trainer.optimizer, &record, &state)?;
        if writes {
            if resume && last.is_none() {
                run.truncate_metrics(epoch)?;
                run.write_config(&cfg.to_toml())?;
            }
            run.append_metrics(&record)?;
        }
        commit_epoch(
            &run,
            &mut state,
            &record,
            writes,
            &trainer.varmap,
            &trainer.optimizer,
        )?;
        if writes {
            progress.epoch(&record);
        }
        last = Some(record);
    }
    if writes {
        run.remove_stale_checkpoints()?;
    }
    let count = |f: fn(&Plan) -> usize| trainer.sources.iter().map(|s| f(&s.plan)).sum();
    Ok(TrainReport {
        run_dir: out.to_path_buf(),
        params,
        last,
        best: state.best,
        samples: (
            count(|p| p.train_indices.len()),
            count(|p| p.test_indices.len()),
        ),
        init: None,
    })
}

/// The model of every source on one variable map, and their optimiser.
struct MultiTrainer<'a> {
    cfg: &'a RunConfig,
    comm: &'a dyn Communicator,
    device: Device,
    sources: Vec<Source>,
    varmap: VarMap,
    var_list: Vec<Var>,
    optimizer: AdamW,
}

impl<'a> MultiTrainer<'a> {
    /// Opens each source's data and builds its model; the Fourier blocks
    /// are created once and shared.
    fn new(
        cfg: &'a RunConfig,
        views: Vec<RunConfig>,
        device: &Device,
        comm: &'a dyn Communicator,
    ) -> Result<Self, TrainError> {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, cfg.train.seed, DType::F32, device);
        let mut sources = Vec::with_capacity(views.len());
        for (source, view) in cfg.data.sources.iter().zip(views) {
            let name = source.name();
            let plan = open_plan(&view)?;
            let model = source_model(&view.model, &name, vb.clone())?;
            let (cin, cout) = (view.model.in_channels, view.model.out_channels);
            sources.push(Source {
                name,
                weight: source.weight,
                cfg: view,
                plan,
                model,
                normalizers: Normalizers {
                    input: crate::data::Normalizer::identity(cin),
                    output: crate::data::Normalizer::identity(cout),
                },
            });
        }
        let vars = named_vars(&varmap)?;
        let var_list = vars.iter().map(|(_, v)| v.clone()).collect();
        let optimizer = AdamW::new(vars, cfg.train.optimizer)?;
        Ok(Self {
            cfg,
            comm,
            device: device.clone(),
            sources,
            varmap,
            var_list,
            optimizer,
        })
    }

    /// Begins a new run: fits each source's normalisers on its own
    /// training samples and, if this process writes the run, saves the
    /// configuration and the normalisers.
    fn start(&mut self, run: &RunDir, writes: bool) -> Result<RunState, TrainError> {
        if writes {
            run.write_config(&self.cfg.to_toml())?;
        }
        for source in &mut self.sources {
            source.normalizers = fit_normalizers(&source.cfg, &source.plan, self.comm)?;
            if writes {
                run.write_source_normalizers(&source.name, &source.normalizers)?;
            }
        }
        if writes {
            run.truncate_metrics(0)?;
        }
        Ok(RunState::start(self.cfg.train.seed))
    }

    /// Continues from the last checkpoint; reads only.
    fn resume(&mut self, run: &RunDir) -> Result<RunState, TrainError> {
        let state = load_checkpoint(run, &mut self.varmap, &mut self.optimizer)?;
        for source in &mut self.sources {
            source.normalizers = run.read_source_normalizers(&source.name)?;
        }
        Ok(state)
    }

    /// The global batches of `epoch`.
    fn schedule(&self, epoch: usize) -> Vec<schedule::ScheduledBatch> {
        let train: Vec<&[usize]> = self
            .sources
            .iter()
            .map(|s| s.plan.train_indices.as_slice())
            .collect();
        let weights: Vec<f64> = self.sources.iter().map(|s| s.weight).collect();
        let t = &self.cfg.train;
        epoch_schedule(&train, &weights, t.batch_size, t.seed, epoch)
    }

    /// One epoch's steps, then every source's validation.
    fn epoch(
        &mut self,
        epoch: usize,
        state: &mut RunState,
        progress: &mut dyn Progress,
    ) -> Result<EpochRecord, TrainError> {
        let started = Instant::now();
        let t = &self.cfg.train;
        let lr = t.schedule.lr(t.lr, epoch, t.epochs, t.warmup_epochs);
        let shard = shard_of(self.comm);
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for batch in self.schedule(epoch) {
            let part = shard.part(&batch.indices);
            let share = part.len() as f64 / batch.indices.len().max(1) as f64;
            let value = if part.is_empty() {
                self.update(GradStore::default(), 0.0, lr)
            } else {
                self.step(batch.source, part, share, lr)
            };
            let value =
                value.map_err(|e| e.at(epoch, state, Some(&self.sources[batch.source].name)))?;
            state.step += 1;
            loss_sum += value * batch.indices.len() as f64;
            seen += batch.indices.len();
            progress.batch(
                value,
                lr,
                seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            );
        }
        let train_wall = started.elapsed().as_secs_f64();
        let mut per_source = BTreeMap::new();
        let (mut test_loss, mut test_rel_l2) = (0.0, 0.0);
        for s in &self.sources {
            let (l, r) = evaluate_normalised(
                &s.cfg,
                &s.plan,
                &s.model,
                &s.normalizers,
                &self.device,
                self.comm,
            )?;
            per_source.insert(format!("val_loss/{}", s.name), l);
            per_source.insert(format!("val_rel_l2/{}", s.name), r);
            test_loss += l / self.sources.len() as f64;
            test_rel_l2 += r / self.sources.len() as f64;
        }
        Ok(EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            test_loss,
            test_rel_l2,
            lr,
            wall_s: started.elapsed().as_secs_f64(),
            samples_per_s: seen as f64 / train_wall.max(1e-9),
            per_source,
        })
    }

    /// One optimiser step on this process's part (`indices`) of a batch of
    /// source `source`, weighted by its `share` of the batch.
    fn step(
        &mut self,
        source: usize,
        indices: &[usize],
        share: f64,
        lr: f64,
    ) -> Result<f64, StepError> {
        let s = &self.sources[source];
        let (input, target) = read_batch(&s.plan.train_file, indices, &s.cfg, &self.device)?;
        let x = s.normalizers.input.encode(&input)?;
        let y = s.normalizers.output.encode_stacked(&target)?;
        let backprop = match s.cfg.task {
            Task::Autoregressive { backprop_steps, .. } => backprop_steps,
            _ => None,
        };
        let pred = rollout(&s.model, &s.cfg.task, &x, s.plan.steps, backprop)?;
        let loss = weighted(loss(self.cfg.train.loss, &pred, &y)?, share)?;
        let value = scalar(&loss)?;
        if self.comm.size() == 1 && !value.is_finite() {
            return Err(StepError::NonFiniteLoss(value));
        }
        let grads = loss.backward()?;
        self.update(grads, value, lr)
    }

    /// Sums gradients and loss over the processes, clips, steps.
    fn update(&mut self, grads: GradStore, value: f64, lr: f64) -> Result<f64, StepError> {
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
}

/// Input and target of the samples `indices` of `file` for the task of
/// `cfg`, as tensors on `device`.
fn read_batch(
    file: &PdebenchFile,
    indices: &[usize],
    cfg: &RunConfig,
    device: &Device,
) -> Result<(Tensor, Tensor), TrainError> {
    let samples = file.read_samples(indices, &cfg.data.resolution())?;
    let mut inputs = Vec::with_capacity(samples.len());
    let mut targets = Vec::with_capacity(samples.len());
    for sample in &samples {
        let ex = cfg.task.example(sample)?;
        inputs.push(ex.input);
        targets.push(ex.target);
    }
    let input = to_tensor(stack(&inputs)?, device)?;
    let target = to_tensor(stack(&targets)?, device)?;
    Ok((input, target))
}
