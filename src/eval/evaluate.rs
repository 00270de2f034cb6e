//! Evaluation of a trained run on a file, at its training resolution and
//! at finer ones (zero-shot super-resolution): PDEBench metrics, energy
//! spectra, plots and `eval.json`.
use super::spectrum_table::SpectrumTable;
use super::window::{one_step_accumulator, RolloutAccumulator, WindowScores};
use super::{energy_spectrum, plot_field_2d_on, plot_loss_curve, plot_prediction_1d, plot_spectra};
use super::{EvalError, FieldAxes, Metrics, MetricsAccumulator, MetricsOptions};
use crate::data::loader::{for_each_batch, BatchPlan, LoaderError};
use crate::data::shard::Shard;
use crate::data::{Coordinates, DataError, FileInfo, PdebenchFile, Split, Task, TaskError};
use crate::dist::{Communicator, Single};
use crate::rundir::RunDir;
use crate::train::config::RunConfig;
use crate::train::fit::check_file_for_run;
use crate::train::run::Predictor;
use crate::train::window::window_ids;
use crate::train::TrainError;
use candle_core::Tensor;
use ndarray::{ArrayD, Axis, IxDyn};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What to evaluate.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// Extra grid sizes (points along the first spatial axis) to evaluate
    /// at, besides the training resolution. Each must divide the file's
    /// size: the data are read at stride `file size / N`.
    pub resolutions: Vec<usize>,
    /// Evaluate at most this many samples.
    pub max_samples: Option<usize>,
    /// Write plots here (no plots when `None`).
    pub plot_dir: Option<PathBuf>,
}

/// Results at one resolution.
#[derive(Debug, Clone, Serialize)]
pub struct ResolutionReport {
    /// The spatial grid evaluated on.
    pub grid: Vec<usize>,
    /// The stride used to read it.
    pub reduced_resolution: usize,
    /// Whether `grid` is the grid the model was trained on; false for a
    /// zero-shot grid, and when the run's training file can no longer be
    /// read to tell.
    pub training_resolution: bool,
    /// PDEBench metrics and relative L2 (for the window task, of the
    /// rollouts over whole trajectories).
    pub metrics: Metrics,
    /// The window task's one-step and rollout VRMSE (The Well's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowScores>,
    /// Mean energy spectra of the predictions' and truths' last frames,
    /// and their ratio per octave band of wavenumbers.
    pub spectrum: SpectrumTable,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The data file.
    pub data: PathBuf,
    /// Samples evaluated.
    pub samples: usize,
    /// One entry per resolution, the run's own stride first.
    pub results: Vec<ResolutionReport>,
    /// PNG files written.
    pub plots: Vec<PathBuf>,
}

/// What can stop an evaluation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluateError {
    /// Loading the run or predicting failed.
    #[error(transparent)]
    Run(#[from] TrainError),
    /// Reading the data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Batching failed.
    #[error(transparent)]
    Loader(#[from] LoaderError),
    /// Metrics or plots failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Writing predictions failed.
    #[error(transparent)]
    Write(#[from] crate::data::mirror::MirrorError),
    /// A requested resolution is not a divisor of the file's grid.
    #[error("a grid of {requested} points along x does not divide the file's {available}; choose a size that divides it (e.g. {available}, {half})")]
    Resolution {
        /// What was asked.
        requested: usize,
        /// The file's size.
        available: usize,
        /// A valid example.
        half: usize,
    },
}

/// Evaluates `predictor` on `data`.
///
/// When `data` is the run's training file, only its held-out split is
/// used; any other file is evaluated whole. Each grid is reported as the
/// training resolution only if it is the grid the run was trained on.
pub fn evaluate(
    predictor: &Predictor,
    run_dir: &Path,
    data: &Path,
    opts: &EvalOptions,
) -> Result<EvalReport, EvaluateError> {
    evaluate_with(predictor, run_dir, data, opts, &Single)
}

/// [`evaluate`] as one process of the group `comm`: each process predicts
/// its part of every batch (see [`Shard`]) and the metric sums and spectra
/// are pooled, so every process returns the report of all the samples,
/// equal to one process's up to the order of the sums. Every process of
/// `comm` must call it with the same arguments; give `opts.plot_dir` to
/// one of them only. The first sample's plot needs that process to hold
/// it (rank 0 does, unless the first batch has fewer samples than there
/// are processes).
pub fn evaluate_with(
    predictor: &Predictor,
    run_dir: &Path,
    data: &Path,
    opts: &EvalOptions,
    comm: &dyn Communicator,
) -> Result<EvalReport, EvaluateError> {
    let cfg = &predictor.config;
    let file = PdebenchFile::open(data)?;
    check_file_for_run(cfg, file.info()).map_err(TrainError::from)?;
    let same_file = std::fs::canonicalize(data).ok() == std::fs::canonicalize(&cfg.data.train).ok();
    let indices = samples_to_evaluate(&file, cfg, same_file, opts)?;
    let trained_on = training_grid(cfg, same_file.then(|| file.info()));
    let mut results = Vec::new();
    let mut plots = Vec::new();
    let mut spectra = Vec::new();
    for stride in strides_to_evaluate(file.info(), cfg, opts)? {
        let pass = evaluate_at(predictor, &file, &indices, stride, comm)?;
        let label = grid_label(&pass.grid);
        if let (Some(dir), Some((p, y))) = (&opts.plot_dir, &pass.first) {
            let path = dir.join(format!("prediction_{label}.png"));
            if plot_sample(&path, p, y, &pass.axes)? {
                plots.push(path);
            }
        }
        spectra.extend(pass.spectra.mean_curves(&label));
        results.push(ResolutionReport {
            spectrum: pass.spectra.table(&pass.grid),
            training_resolution: trained_on.as_deref() == Some(&pass.grid[..]),
            grid: pass.grid,
            reduced_resolution: stride,
            metrics: pass.metrics,
            window: pass.window,
        });
    }
    if let Some(dir) = &opts.plot_dir {
        plots.extend(plot_summaries(dir, run_dir, &spectra)?);
    }
    Ok(EvalReport {
        data: data.to_path_buf(),
        samples: indices.len(),
        results,
        plots,
    })
}

/// The samples evaluated: the held-out split of the training file, or a
/// whole other file, at most `opts.max_samples` of them.
fn samples_to_evaluate(
    file: &PdebenchFile,
    cfg: &RunConfig,
    same_file: bool,
    opts: &EvalOptions,
) -> Result<Vec<usize>, EvaluateError> {
    let split = if same_file && cfg.data.test.is_none() {
        Split::Test
    } else {
        Split::All
    };
    let mut indices = file.select(&cfg.data.selection(split))?;
    if let Some(max) = opts.max_samples {
        indices.truncate(max.max(1));
    }
    Ok(indices)
}

/// The spatial grid the run was trained on: its training file's grid at
/// its stride. `training_file` is that file's description when it is
/// already open; otherwise the file is opened for its metadata. `None`
/// when the training file can no longer be read, so no grid can be called
/// the training grid.
fn training_grid(cfg: &RunConfig, training_file: Option<&FileInfo>) -> Option<Vec<usize>> {
    let grid = |info: &FileInfo| -> Vec<usize> {
        let stride = cfg.data.reduced_resolution.max(1);
        info.spatial_shape
            .iter()
            .map(|n| n.div_ceil(stride))
            .collect()
    };
    match training_file {
        Some(info) => Some(grid(info)),
        None => PdebenchFile::open(&cfg.data.train)
            .ok()
            .map(|f| grid(f.info())),
    }
}

/// The read strides to evaluate at: the run's own first, then one per
/// requested resolution, without repeats.
fn strides_to_evaluate(
    info: &FileInfo,
    cfg: &RunConfig,
    opts: &EvalOptions,
) -> Result<Vec<usize>, EvaluateError> {
    let full = info.spatial_shape.first().copied().unwrap_or(1);
    let mut strides = vec![cfg.data.reduced_resolution];
    for &n in &opts.resolutions {
        let r = stride_for(full, n)?;
        if !strides.contains(&r) {
            strides.push(r);
        }
    }
    Ok(strides)
}

/// What one pass over the samples at one stride gives.
struct Pass {
    /// The spatial grid of the predictions.
    grid: Vec<usize>,
    metrics: Metrics,
    /// The first sample's prediction and truth, `[T, C, X, ...]`, to plot.
    first: Option<(ArrayD<f32>, ArrayD<f32>)>,
    /// Summed energy spectra of the last frames.
    spectra: SpectrumSums,
    /// The coordinates the first sample's last frame is plotted against.
    axes: FieldAxes,
    /// The window task's scores.
    window: Option<WindowScores>,
}

/// Predicts every sample in `indices` at read stride `stride` and scores
/// the predictions.
fn evaluate_at(
    predictor: &Predictor,
    file: &PdebenchFile,
    indices: &[usize],
    stride: usize,
    comm: &dyn Communicator,
) -> Result<Pass, EvaluateError> {
    let cfg = &predictor.config;
    let info = file.info();
    let task = cfg.task;
    let mut res = cfg.data.resolution();
    res.reduced_resolution = stride;
    let frames = info.num_frames.div_ceil(res.reduced_resolution_t);
    let steps = task.rollout_steps(frames);
    let volume: f64 = info.domain.iter().map(|[lo, hi]| hi - lo).product();
    let mut acc = MetricsAccumulator::new(MetricsOptions {
        initial_step: usize::from(task == Task::SpaceTime),
        domain_volume: volume,
    })?;
    let plan = BatchPlan {
        indices: indices.to_vec(),
        batch_size: cfg.train.batch_size,
        shuffle_seed: None,
        epoch: 0,
        resolution: res,
        task,
        shard: Shard {
            rank: comm.rank(),
            size: comm.size(),
        },
        windows: None,
        augment: None,
    };
    let mut first: Option<(ArrayD<f32>, ArrayD<f32>)> = None;
    let mut spectra = SpectrumSums::default();
    let mut grid = Vec::new();
    let channels = info.fields.len();
    let mut bands = RolloutAccumulator::default();
    for_each_batch(
        file,
        &plan,
        &predictor.device,
        |batch| -> Result<(), EvaluateError> {
            let pred = predictor.predict(&batch.input, steps)?;
            let p = to_btc(&pred, &task, channels)?;
            let y = to_btc(&batch.target, &task, channels)?;
            acc.push(p.view(), y.view())?;
            if matches!(task, Task::Window { .. }) {
                bands.push(p.view(), y.view());
            }
            grid = p.shape()[3..].to_vec();
            spectra.add_last_frames(&p, &y)?;
            if first.is_none() {
                first = Some((
                    p.index_axis(Axis(0), 0).to_owned(),
                    y.index_axis(Axis(0), 0).to_owned(),
                ));
            }
            Ok(())
        },
    )?;
    if comm.size() > 1 {
        acc = pool_metrics(acc, comm)?;
        spectra = spectra.pooled(comm);
        grid = pool_grid(&grid, comm);
        bands = bands.pooled(comm);
    }
    let window = match task {
        Task::Window { .. } => Some(window_scores(predictor, file, indices, &res, comm, &bands)?),
        _ => None,
    };
    Ok(Pass {
        window,
        metrics: acc.finish()?,
        axes: plot_axes(&file.coordinates(&res)?, &task),
        grid,
        first,
        spectra,
    })
}

/// The window task's scores: every window of `indices` predicted one step
/// (`n_steps_output` frames) and scored, with the rollouts' `bands`.
fn window_scores(
    predictor: &Predictor,
    file: &PdebenchFile,
    indices: &[usize],
    res: &crate::data::Resolution,
    comm: &dyn Communicator,
    bands: &RolloutAccumulator,
) -> Result<WindowScores, EvaluateError> {
    let cfg = &predictor.config;
    let info = file.info();
    let frames = info.num_frames.div_ceil(res.reduced_resolution_t.max(1));
    let ids = window_ids(&cfg.task, frames)
        .ok_or(TrainError::Task(TaskError::NeedsTime { task: "window" }))?;
    let volume: f64 = info.domain.iter().map(|[lo, hi]| hi - lo).product();
    let mut acc = one_step_accumulator(volume)?;
    let plan = BatchPlan {
        indices: ids.of(indices),
        batch_size: cfg.train.batch_size,
        shuffle_seed: None,
        epoch: 0,
        resolution: *res,
        task: cfg.task,
        shard: Shard {
            rank: comm.rank(),
            size: comm.size(),
        },
        windows: Some(ids),
        augment: None,
    };
    let channels = info.fields.len();
    for_each_batch(
        file,
        &plan,
        &predictor.device,
        |batch| -> Result<(), EvaluateError> {
            let pred = predictor.predict(&batch.input, ids.n_out)?;
            let p = to_btc(&pred, &cfg.task, channels)?;
            let y = to_btc(&batch.target, &cfg.task, channels)?;
            acc.push(p.view(), y.view())?;
            Ok(())
        },
    )?;
    if comm.size() > 1 {
        acc = pool_metrics(acc, comm)?;
    }
    Ok(WindowScores {
        windows: plan.indices.len(),
        one_step: acc.finish()?,
        fields: info.fields.clone(),
        rollout: bands.finish(),
    })
}

/// The metrics of every process's samples: their sums gathered and added
/// in rank order, so that every process ends with the same numbers.
fn pool_metrics(
    mine: MetricsAccumulator,
    comm: &dyn Communicator,
) -> Result<MetricsAccumulator, EvaluateError> {
    let mut pooled = MetricsAccumulator::new(mine.options())?;
    for parts in comm.all_gather_f64(&mine.to_parts()) {
        pooled.merge_parts(&parts)?;
    }
    Ok(pooled)
}

/// The prediction grid, from the first process that predicted anything (a
/// process whose parts of the batches were all empty has none).
fn pool_grid(mine: &[usize], comm: &dyn Communicator) -> Vec<usize> {
    let mine: Vec<f64> = mine.iter().map(|&n| n as f64).collect();
    comm.all_gather_f64(&mine)
        .into_iter()
        .find(|grid| !grid.is_empty())
        .map(|grid| grid.iter().map(|&n| n as usize).collect())
        .unwrap_or_default()
}

/// `[16, 16]` → `16x16`.
fn grid_label(grid: &[usize]) -> String {
    grid.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// The coordinates of a plotted last frame: the file's grid at the read
/// stride, and the final time when the task predicts a trajectory (a
/// one-shot output's frame has no time worth naming).
fn plot_axes(coords: &Coordinates, task: &Task) -> FieldAxes {
    let axis = |i: usize| coords.space.get(i).cloned().unwrap_or_default();
    let time = match task {
        Task::Autoregressive { .. } | Task::SpaceTime => coords.time.last().copied(),
        Task::Window { .. } => {
            let last = task.initial_step() + task.rollout_steps(coords.time.len());
            coords.time.get(last.saturating_sub(1)).copied()
        }
        _ => None,
    };
    FieldAxes {
        x: axis(0),
        y: axis(1),
        time,
    }
}

/// The energy spectrum and loss plots, after all resolutions.
fn plot_summaries(
    dir: &Path,
    run_dir: &Path,
    spectra: &[(String, Vec<f64>)],
) -> Result<Vec<PathBuf>, EvaluateError> {
    let mut plots = Vec::new();
    let path = dir.join("spectrum.png");
    plot_spectra(&path, spectra)?;
    plots.push(path);
    let curve = loss_curve(run_dir);
    if !curve.is_empty() {
        let path = dir.join("loss.png");
        plot_loss_curve(&path, &curve)?;
        plots.push(path);
    }
    Ok(plots)
}

/// The read stride that gives `n` points along an axis of `full` points.
pub(crate) fn stride_for(full: usize, n: usize) -> Result<usize, EvaluateError> {
    if n == 0 || !full.is_multiple_of(n) {
        return Err(EvaluateError::Resolution {
            requested: n,
            available: full,
            half: full / 2,
        });
    }
    Ok(full / n)
}

/// A model output or target as `[B, T, C, X, ...]` for the metrics.
pub(crate) fn to_btc(
    t: &Tensor,
    task: &Task,
    channels: usize,
) -> Result<ArrayD<f32>, EvaluateError> {
    let shape = t.dims().to_vec();
    let data = t.flatten_all()?.to_vec1::<f32>()?;
    let arr =
        ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|_| EvalError::ShapeMismatch {
            what: "prediction",
            expected: shape.clone(),
            got: shape.clone(),
        })?;
    match task {
        Task::SpaceTime => {
            // [B, C, X.., T] -> [B, T, C, X..]
            let nd = shape.len();
            let mut order = vec![0, nd - 1, 1];
            order.extend(2..nd - 1);
            Ok(arr.permuted_axes(order).as_standard_layout().into_owned())
        }
        _ => {
            let b = shape[0];
            let mut new_shape = vec![b, shape[1] / channels.max(1), channels.max(1)];
            new_shape.extend_from_slice(&shape[2..]);
            arr.into_shape_with_order(IxDyn(&new_shape)).map_err(|_| {
                EvaluateError::Eval(EvalError::WrongRank {
                    what: "prediction channels (a multiple of the file's fields)",
                    expected: "[B, T * C, X, (Y, (Z))]",
                    got: shape,
                })
            })
        }
    }
}

/// Energy spectra of predictions and truths, summed over samples and
/// channels.
#[derive(Debug, Default)]
struct SpectrumSums {
    prediction: Vec<f64>,
    truth: Vec<f64>,
    count: usize,
}

impl SpectrumSums {
    /// Adds the spectra of the last frame of every sample and channel of
    /// `[B, T, C, X, ...]` predictions `p` and truths `y`.
    fn add_last_frames(&mut self, p: &ArrayD<f32>, y: &ArrayD<f32>) -> Result<(), EvaluateError> {
        let last = p.shape()[1] - 1;
        for (ps, ys) in p.outer_iter().zip(y.outer_iter()) {
            for (pc, yc) in ps
                .index_axis(Axis(0), last)
                .outer_iter()
                .zip(ys.index_axis(Axis(0), last).outer_iter())
            {
                add_into(&mut self.prediction, &energy_spectrum(pc)?);
                add_into(&mut self.truth, &energy_spectrum(yc)?);
                self.count += 1;
            }
        }
        Ok(())
    }

    /// The sums of every process of `comm`, added in rank order.
    fn pooled(self, comm: &dyn Communicator) -> Self {
        let mut mine = vec![self.count as f64];
        mine.extend(&self.prediction);
        mine.extend(&self.truth);
        let mut pooled = Self::default();
        for parts in comm.all_gather_f64(&mine) {
            let Some((&count, curves)) = parts.split_first() else {
                continue;
            };
            let (prediction, truth) = curves.split_at(curves.len() / 2);
            add_into(&mut pooled.prediction, prediction);
            add_into(&mut pooled.truth, truth);
            pooled.count += count as usize;
        }
        pooled
    }

    /// The mean prediction and truth spectra, labelled with the grid.
    fn mean_curves(&self, grid_label: &str) -> [(String, Vec<f64>); 2] {
        [
            (
                format!("prediction {grid_label}"),
                self.mean(&self.prediction),
            ),
            (format!("truth {grid_label}"), self.mean(&self.truth)),
        ]
    }

    /// The mean spectra on `grid` as `eval.json`'s table.
    fn table(&self, grid: &[usize]) -> SpectrumTable {
        SpectrumTable::new(self.mean(&self.prediction), self.mean(&self.truth), grid)
    }

    /// `sum` divided by the number of spectra added.
    fn mean(&self, sum: &[f64]) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        sum.iter().map(|v| v / n).collect()
    }
}

fn add_into(acc: &mut Vec<f64>, v: &[f64]) {
    if acc.len() < v.len() {
        acc.resize(v.len(), 0.0);
    }
    acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
}

/// Plots channel 0 of the last frame of one sample against `axes`; false
/// if the grid is 3D.
fn plot_sample(
    path: &Path,
    p: &ArrayD<f32>,
    y: &ArrayD<f32>,
    axes: &FieldAxes,
) -> Result<bool, EvaluateError> {
    let last = p.shape()[0] - 1;
    let pf = p
        .index_axis(Axis(0), last)
        .index_axis(Axis(0), 0)
        .to_owned();
    let yf = y
        .index_axis(Axis(0), last)
        .index_axis(Axis(0), 0)
        .to_owned();
    match pf.ndim() {
        1 => {
            let x: Vec<f64> = axes.x.iter().copied().take(pf.len()).collect();
            let pv: Vec<f64> = pf.iter().map(|&v| f64::from(v)).collect();
            let yv: Vec<f64> = yf.iter().map(|&v| f64::from(v)).collect();
            plot_prediction_1d(path, &x, &pv, &yv)?;
            Ok(true)
        }
        2 => {
            let as_2d = |a: ArrayD<f32>, shape: &[usize]| {
                a.into_dimensionality::<ndarray::Ix2>()
                    .map_err(|_| EvalError::WrongRank {
                        what: "plotted field",
                        expected: "[X, Y]",
                        got: shape.to_vec(),
                    })
            };
            let (pf, yf) = (as_2d(pf, p.shape())?, as_2d(yf, y.shape())?);
            plot_field_2d_on(path, axes, pf.view(), yf.view())?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Train and test loss per epoch from the run's `metrics.jsonl`.
fn loss_curve(run_dir: &Path) -> Vec<(&'static str, Vec<(f64, f64)>)> {
    let records = RunDir::new(run_dir).read_metrics();
    if records.is_empty() {
        return Vec::new();
    }
    vec![
        (
            "train loss",
            records
                .iter()
                .map(|r| (r.epoch as f64, r.train_loss))
                .collect(),
        ),
        (
            "test loss",
            records
                .iter()
                .map(|r| (r.epoch as f64, r.test_loss))
                .collect(),
        ),
    ]
}
