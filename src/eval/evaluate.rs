//! Evaluation of a trained run on a file, at its training resolution and
//! at finer ones (zero-shot super-resolution): PDEBench metrics, energy
//! spectra, plots and `eval.json`.
use super::{energy_spectrum, plot_field_2d, plot_loss_curve, plot_prediction_1d, plot_spectra};
use super::{EvalError, Metrics, MetricsAccumulator, MetricsOptions};
use crate::data::loader::{for_each_batch, BatchPlan, LoaderError};
use crate::data::{DataError, PdebenchFile, Split, Task};
use crate::rundir::RunDir;
use crate::train::run::Predictor;
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
    /// Whether this is the resolution the model was trained at.
    pub training_resolution: bool,
    /// PDEBench metrics and relative L2.
    pub metrics: Metrics,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The data file.
    pub data: PathBuf,
    /// Samples evaluated.
    pub samples: usize,
    /// One entry per resolution, the training resolution first.
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
/// used; any other file is evaluated whole.
pub fn evaluate(
    predictor: &Predictor,
    run_dir: &Path,
    data: &Path,
    opts: &EvalOptions,
) -> Result<EvalReport, EvaluateError> {
    let cfg = &predictor.config;
    let file = PdebenchFile::open(data)?;
    let info = file.info();
    let same_file = std::fs::canonicalize(data).ok() == std::fs::canonicalize(&cfg.data.train).ok();
    let split = if same_file && cfg.data.test.is_none() {
        Split::Test
    } else {
        Split::All
    };
    let mut indices = file.select(&cfg.data.selection(split))?;
    if let Some(max) = opts.max_samples {
        indices.truncate(max.max(1));
    }
    let full = info.spatial_shape.first().copied().unwrap_or(1);
    let mut strides = vec![(cfg.data.reduced_resolution, true)];
    for &n in &opts.resolutions {
        let r = stride_for(full, n)?;
        if !strides.iter().any(|(s, _)| *s == r) {
            strides.push((r, false));
        }
    }
    let volume: f64 = info.domain.iter().map(|[lo, hi]| hi - lo).product();
    let mut results = Vec::new();
    let mut plots = Vec::new();
    let mut spectra = Vec::new();
    for (stride, training) in strides {
        let mut res = cfg.data.resolution();
        res.reduced_resolution = stride;
        let frames = info.num_frames.div_ceil(res.reduced_resolution_t);
        let task = cfg.task;
        let steps = match task {
            Task::Autoregressive { initial_step, .. } => frames.saturating_sub(initial_step),
            _ => 1,
        };
        let mut acc = MetricsAccumulator::new(MetricsOptions {
            initial_step: usize::from(task == Task::SpaceTime),
            domain_volume: volume,
        })?;
        let plan = BatchPlan {
            indices: indices.clone(),
            batch_size: cfg.train.batch_size,
            shuffle_seed: None,
            epoch: 0,
            resolution: res,
            task,
        };
        let mut first: Option<(ArrayD<f32>, ArrayD<f32>)> = None;
        let mut spectrum_sums: (Vec<f64>, Vec<f64>, usize) = (Vec::new(), Vec::new(), 0);
        let mut grid = Vec::new();
        for_each_batch(
            &file,
            &plan,
            &predictor.device,
            |batch| -> Result<(), EvaluateError> {
                let pred = predictor.predict(&batch.input, steps)?;
                let c = info.fields.len();
                let p = to_btc(&pred, &task, c)?;
                let y = to_btc(&batch.target, &task, c)?;
                acc.push(p.view(), y.view())?;
                grid = p.shape()[3..].to_vec();
                accumulate_spectra(&p, &y, &mut spectrum_sums)?;
                if first.is_none() {
                    first = Some((
                        p.index_axis(Axis(0), 0).to_owned(),
                        y.index_axis(Axis(0), 0).to_owned(),
                    ));
                }
                Ok(())
            },
        )?;
        let metrics = acc.finish()?;
        let label = grid
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("x");
        if let (Some(dir), Some((p, y))) = (&opts.plot_dir, &first) {
            let path = dir.join(format!("prediction_{label}.png"));
            if plot_sample(&path, p, y, &file, stride)? {
                plots.push(path);
            }
        }
        let n = spectrum_sums.2.max(1) as f64;
        spectra.push((
            format!("prediction {label}"),
            spectrum_sums.0.iter().map(|v| v / n).collect::<Vec<f64>>(),
        ));
        spectra.push((
            format!("truth {label}"),
            spectrum_sums.1.iter().map(|v| v / n).collect::<Vec<f64>>(),
        ));
        results.push(ResolutionReport {
            grid,
            reduced_resolution: stride,
            training_resolution: training,
            metrics,
        });
    }
    if let Some(dir) = &opts.plot_dir {
        let path = dir.join("spectrum.png");
        plot_spectra(&path, &spectra)?;
        plots.push(path);
        let curve = loss_curve(run_dir);
        if !curve.is_empty() {
            let path = dir.join("loss.png");
            plot_loss_curve(&path, &curve)?;
            plots.push(path);
        }
    }
    Ok(EvalReport {
        data: data.to_path_buf(),
        samples: indices.len(),
        results,
        plots,
    })
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

/// Adds the energy spectra of the last frame of every sample and channel.
fn accumulate_spectra(
    p: &ArrayD<f32>,
    y: &ArrayD<f32>,
    sums: &mut (Vec<f64>, Vec<f64>, usize),
) -> Result<(), EvaluateError> {
    let last = p.shape()[1] - 1;
    for (ps, ys) in p.outer_iter().zip(y.outer_iter()) {
        for (pc, yc) in ps
            .index_axis(Axis(0), last)
            .outer_iter()
            .zip(ys.index_axis(Axis(0), last).outer_iter())
        {
            add_into(&mut sums.0, &energy_spectrum(pc)?);
            add_into(&mut sums.1, &energy_spectrum(yc)?);
            sums.2 += 1;
        }
    }
    Ok(())
}

fn add_into(acc: &mut Vec<f64>, v: &[f64]) {
    if acc.len() < v.len() {
        acc.resize(v.len(), 0.0);
    }
    acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
}

/// Plots channel 0 of the last frame of one sample; false if the grid is 3D.
fn plot_sample(
    path: &Path,
    p: &ArrayD<f32>,
    y: &ArrayD<f32>,
    file: &PdebenchFile,
    stride: usize,
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
            let coords = file.info().coordinates.space[0]
                .iter()
                .copied()
                .step_by(stride);
            let x: Vec<f64> = coords.take(pf.len()).collect();
            let pv: Vec<f64> = pf.iter().map(|&v| f64::from(v)).collect();
            let yv: Vec<f64> = yf.iter().map(|&v| f64::from(v)).collect();
            plot_prediction_1d(path, &x, &pv, &yv)?;
            Ok(true)
        }
        2 => {
            let pf =
                pf.into_dimensionality::<ndarray::Ix2>()
                    .map_err(|_| EvalError::WrongRank {
                        what: "plotted field",
                        expected: "[X, Y]",
                        got: p.shape().to_vec(),
                    })?;
            let yf =
                yf.into_dimensionality::<ndarray::Ix2>()
                    .map_err(|_| EvalError::WrongRank {
                        what: "plotted field",
                        expected: "[X, Y]",
                        got: y.shape().to_vec(),
                    })?;
            plot_field_2d(path, pf.view(), yf.view())?;
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
