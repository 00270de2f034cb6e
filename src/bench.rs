//! Timing of the forward pass and of one training step, behind `fno bench`.
//!
//! The training step is deliberately minimal (MSE loss, the AdamW update
//! `fno train` runs, with `torch.optim.AdamW`'s default hyper-parameters) so
//! that it measures the model, not a trainer: forward, backward, optimizer
//! update.
//!
//! Under an MPI launcher each process times the step of a data-parallel
//! job on its share of the batch, with the gradient all-reduce `fno train`
//! runs; the all-reduce's own time is reported beside the step's (on one
//! process it is skipped, and its time is that of the check that skips it).
//!
//! It sits above [`crate::model`] and [`crate::train`] because it times
//! the one with the other's optimizer.
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use serde::Serialize;

use crate::dist::Communicator;
use crate::model::{inference, with_precision, Fno, ModelConfig, ModelError, Precision};
use crate::spectral::cuda_transforms;
use crate::train::all_reduce::all_reduce_gradients;
use crate::train::optim::{named_vars, AdamW, AdamWConfig};
use crate::train::TrainError;

/// `torch.optim.AdamW`'s default learning rate, which the reference
/// benchmark uses.
pub const LEARNING_RATE: f64 = 1e-3;

/// What to time: a model, a problem size and how many repetitions.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The model to build (randomly initialised).
    pub model: ModelConfig,
    /// Grid points along every axis.
    pub size: usize,
    /// Samples per batch: the global batch, which the processes of a
    /// data-parallel job share equally.
    pub batch: usize,
    /// Timed repetitions of the forward pass and of the training step.
    pub steps: usize,
    /// Untimed repetitions of each before the timed ones.
    pub warmup: usize,
    /// What the training step keeps for its backward pass (as
    /// `train.precision`).
    pub precision: Precision,
}

/// The figures `fno bench` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Trainable scalars in the model.
    pub params: usize,
    /// Median wall time of one forward pass, milliseconds.
    pub forward_ms: f64,
    /// Median wall time of forward + backward + gradient all-reduce +
    /// AdamW update, milliseconds.
    pub train_step_ms: f64,
    /// Median wall time of the step's gradient all-reduce alone,
    /// milliseconds (included in `train_step_ms`).
    pub all_reduce_ms: f64,
    /// Processes the step ran on, each on `batch / ranks` samples.
    pub ranks: usize,
    /// What summed the gradients: `none` (one process), `mpi` or `nccl`.
    pub collectives: String,
    /// The precision the training step kept its activations in.
    pub precision: Precision,
    /// How the spectral convolutions transformed their grids: `rustfft`
    /// (the CPU's pruned FFTs), or on CUDA `cufft` or `direct`
    /// (`--cuda-transforms`).
    pub transforms: &'static str,
    /// Peak resident memory of the process (`VmHWM`), MiB; `None` where
    /// `/proc/self/status` is unavailable.
    pub peak_rss_mb: Option<f64>,
}

/// The AdamW that `fno train` steps with, over every variable of `map`,
/// with `torch.optim.AdamW`'s defaults (weight decay 0.01) so that the
/// update does the same work as the reference's.
pub fn optimizer(map: &VarMap) -> Result<AdamW, TrainError> {
    let vars = named_vars(map)?;
    let config = AdamWConfig {
        weight_decay: 0.01,
        ..AdamWConfig::default()
    };
    Ok(AdamW::new(vars, config)?)
}

/// One optimisation step at learning rate `lr` on the MSE between
/// `model(x)` and `y`, with the gradients of `vars` (the model's, in name
/// order) summed over the processes of `comm` (each scaled by its share, `1 / comm.size()`, of equal parts);
/// returns the loss summed over processes, before the update, and the
/// seconds the all-reduce took.
///
/// # Shapes
/// - `x`: `[batch, in_channels, x, (y, (z))]`
/// - `y`: `[batch, out_channels, x, (y, (z))]`
pub fn train_step(
    model: &Fno,
    opt: &mut AdamW,
    vars: &[Var],
    lr: f64,
    x: &Tensor,
    y: &Tensor,
    comm: &dyn Communicator,
) -> Result<(f64, f64), TrainError> {
    let share = 1.0 / comm.size() as f64;
    let loss = (candle_nn::loss::mse(&model.forward(x)?, y)? * share)?;
    let mut grads = loss.backward()?;
    let local = f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
    let start = Instant::now();
    let total = all_reduce_gradients(comm, &mut grads, vars, local)?;
    let reduce = start.elapsed().as_secs_f64();
    opt.step(&grads, lr)?;
    Ok((total, reduce))
}

/// Builds the model on `device` and times `cfg.steps` forward passes and
/// training steps (each after `cfg.warmup` untimed ones, each timed until
/// the device has finished) on random data, on this process's share of
/// the batch among the processes of `comm`; reports medians. Every process
/// of `comm` must call it with the same `cfg`.
///
/// # Errors
///
/// [`ModelError::InvalidConfig`] if the size, batch or step count is 0,
/// or the processes cannot share the batch equally.
pub fn run(
    cfg: &BenchConfig,
    device: &Device,
    comm: &dyn Communicator,
) -> Result<BenchReport, TrainError> {
    for (field, value) in [
        ("size", cfg.size),
        ("batch", cfg.batch),
        ("steps", cfg.steps),
    ] {
        if value == 0 {
            return Err(ModelError::InvalidConfig {
                field,
                reason: "must be at least 1".into(),
            }
            .into());
        }
    }
    let ranks = comm.size();
    if !cfg.batch.is_multiple_of(ranks) {
        return Err(ModelError::InvalidConfig {
            field: "batch",
            reason: format!(
                "{} samples cannot be shared equally by {ranks} processes",
                cfg.batch
            ),
        }
        .into());
    }
    let batch = cfg.batch / ranks;
    let on_device = crate::dist::for_device(comm, device);
    let comm = on_device.comm();
    let device = device.clone();
    let map = VarMap::new();
    let model = Fno::new(
        &cfg.model,
        VarBuilder::from_varmap(&map, DType::F32, &device),
    )?;
    let grid = vec![cfg.size; cfg.model.dims];
    let shape = |channels: usize| [&[batch, channels][..], &grid].concat();
    let x = Tensor::randn(0f32, 1.0, shape(cfg.model.in_channels), &device)?;
    let y = Tensor::randn(0f32, 1.0, shape(cfg.model.out_channels), &device)?;

    let mut forward = Vec::with_capacity(cfg.steps);
    for i in 0..cfg.warmup + cfg.steps {
        let start = Instant::now();
        // As the reference's forward pass runs under `torch.no_grad()`.
        let out = inference(|| model.forward(&x))?;
        // GPU work is asynchronous: wait for it before reading the clock
        // (a no-op on the CPU).
        device.synchronize()?;
        let elapsed = start.elapsed();
        drop(out);
        if i >= cfg.warmup {
            forward.push(elapsed.as_secs_f64() * 1e3);
        }
    }

    let mut opt = optimizer(&map)?;
    let vars: Vec<Var> = named_vars(&map)?.into_iter().map(|(_, v)| v).collect();
    let mut train = Vec::with_capacity(cfg.steps);
    let mut reduce = Vec::with_capacity(cfg.steps);
    for i in 0..cfg.warmup + cfg.steps {
        let start = Instant::now();
        let (_, reduce_s) = with_precision(cfg.precision, || {
            train_step(&model, &mut opt, &vars, LEARNING_RATE, &x, &y, comm)
        })?;
        device.synchronize()?;
        if i >= cfg.warmup {
            train.push(start.elapsed().as_secs_f64() * 1e3);
            reduce.push(reduce_s * 1e3);
        }
    }

    Ok(BenchReport {
        params: model.num_parameters(),
        forward_ms: median(&mut forward),
        train_step_ms: median(&mut train),
        all_reduce_ms: median(&mut reduce),
        ranks,
        collectives: comm.backend(&device).into(),
        precision: cfg.precision,
        transforms: if device.is_cuda() {
            cuda_transforms().name()
        } else {
            "rustfft"
        },
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Peak resident set size of this process in MiB, from `VmHWM` in
/// `/proc/self/status`; `None` where that file does not exist or lacks it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Median of a non-empty sample (mean of the two middle values if even).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Single;

    #[test]
    fn median_of_odd_and_even_samples() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn tiny_run_reports_sane_figures() {
        let cfg = BenchConfig {
            model: ModelConfig {
                dims: 1,
                modes: vec![4],
                width: 4,
                layers: 1,
                ..ModelConfig::default()
            },
            size: 16,
            batch: 2,
            steps: 2,
            warmup: 1,
            precision: Precision::Bf16,
        };
        let report = run(&cfg, &Device::Cpu, &Single).unwrap();
        assert!(report.params > 0 && report.forward_ms > 0.0 && report.train_step_ms > 0.0);
        assert_eq!(report.ranks, 1);
        assert_eq!(report.precision, Precision::Bf16);
        assert!(report.all_reduce_ms < report.train_step_ms);
        assert!(run(&BenchConfig { steps: 0, ..cfg }, &Device::Cpu, &Single).is_err());
    }

    #[test]
    fn training_step_lowers_the_loss() {
        let cfg = ModelConfig {
            modes: vec![4],
            width: 8,
            layers: 2,
            ..ModelConfig::default()
        };
        let map = VarMap::new();
        let model = Fno::new(
            &cfg,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let x = Tensor::randn(0f32, 1.0, (4, 1, 32), &Device::Cpu).unwrap();
        let y = (x.clone() * 0.5).unwrap();
        let mut opt = optimizer(&map).unwrap();
        let vars: Vec<Var> = map.all_vars();
        let mut step = || {
            train_step(&model, &mut opt, &vars, 1e-2, &x, &y, &Single)
                .unwrap()
                .0
        };
        let first = step();
        let mut last = first;
        for _ in 0..20 {
            last = step();
        }
        assert!(last < first, "loss went from {first} to {last}");
    }
}
