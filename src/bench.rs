//! Timing of the forward pass and of one training step, behind `fno bench`.
//!
//! The training step is deliberately minimal (MSE loss, the AdamW update
//! `fno train` runs, with `torch.optim.AdamW`'s default hyper-parameters) so
//! that it measures the model, not a trainer: forward, backward, optimizer
//! update.
//!
//! It sits above [`crate::model`] and [`crate::train`] because it times
//! the one with the other's optimizer.
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::Serialize;

use crate::model::{inference, Fno, ModelConfig, ModelError};
use crate::train::optim::{AdamW, AdamWConfig};

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
    /// Samples per batch.
    pub batch: usize,
    /// Timed repetitions of the forward pass and of the training step.
    pub steps: usize,
    /// Untimed repetitions of each before the timed ones.
    pub warmup: usize,
}

/// The figures `fno bench` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Trainable scalars in the model.
    pub params: usize,
    /// Median wall time of one forward pass, milliseconds.
    pub forward_ms: f64,
    /// Median wall time of forward + backward + AdamW update, milliseconds.
    pub train_step_ms: f64,
    /// Peak resident memory of the process (`VmHWM`), MiB; `None` where
    /// `/proc/self/status` is unavailable.
    pub peak_rss_mb: Option<f64>,
}

/// The AdamW that `fno train` steps with, over every variable of `map`,
/// with `torch.optim.AdamW`'s defaults (weight decay 0.01) so that the
/// update does the same work as the reference's.
pub fn optimizer(map: &VarMap) -> Result<AdamW, ModelError> {
    // Names only order the optimizer's saved state, which a benchmark never
    // writes.
    let vars = map
        .all_vars()
        .into_iter()
        .enumerate()
        .map(|(i, var)| (format!("{i:04}"), var))
        .collect();
    let config = AdamWConfig {
        weight_decay: 0.01,
        ..AdamWConfig::default()
    };
    Ok(AdamW::new(vars, config)?)
}

/// One optimisation step at learning rate `lr` on the MSE between
/// `model(x)` and `y`; returns the loss before the update.
///
/// # Shapes
/// - `x`: `[batch, in_channels, x, (y, (z))]`
/// - `y`: `[batch, out_channels, x, (y, (z))]`
pub fn train_step(
    model: &Fno,
    opt: &mut AdamW,
    lr: f64,
    x: &Tensor,
    y: &Tensor,
) -> Result<f32, ModelError> {
    let loss = candle_nn::loss::mse(&model.forward(x)?, y)?;
    opt.step(&loss.backward()?, lr)?;
    Ok(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?)
}

/// Builds the model on `device` and times `cfg.steps` forward passes and
/// training steps (each after `cfg.warmup` untimed ones, each timed until
/// the device has finished) on random data; reports medians.
pub fn run(cfg: &BenchConfig, device: &Device) -> Result<BenchReport, ModelError> {
    for (field, value) in [
        ("size", cfg.size),
        ("batch", cfg.batch),
        ("steps", cfg.steps),
    ] {
        if value == 0 {
            return Err(ModelError::InvalidConfig {
                field,
                reason: "must be at least 1".into(),
            });
        }
    }
    let device = device.clone();
    let map = VarMap::new();
    let model = Fno::new(
        &cfg.model,
        VarBuilder::from_varmap(&map, DType::F32, &device),
    )?;
    let grid = vec![cfg.size; cfg.model.dims];
    let shape = |channels: usize| [&[cfg.batch, channels][..], &grid].concat();
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
    let mut train = Vec::with_capacity(cfg.steps);
    for i in 0..cfg.warmup + cfg.steps {
        let start = Instant::now();
        train_step(&model, &mut opt, LEARNING_RATE, &x, &y)?;
        device.synchronize()?;
        if i >= cfg.warmup {
            train.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }

    Ok(BenchReport {
        params: model.num_parameters(),
        forward_ms: median(&mut forward),
        train_step_ms: median(&mut train),
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
        };
        let report = run(&cfg, &Device::Cpu).unwrap();
        assert!(report.params > 0 && report.forward_ms > 0.0 && report.train_step_ms > 0.0);
        assert!(run(&BenchConfig { steps: 0, ..cfg }, &Device::Cpu).is_err());
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
        let first = train_step(&model, &mut opt, 1e-2, &x, &y).unwrap();
        let mut last = first;
        for _ in 0..20 {
            last = train_step(&model, &mut opt, 1e-2, &x, &y).unwrap();
        }
        assert!(last < first, "loss went from {first} to {last}");
    }
}
