//! Test-time physics fine-tuning of one instance (PINO's "instance-wise
//! fine-tuning"): a copy of a trained model is optimised on a single input
//! with the PDE and initial-condition losses only, optionally anchored to
//! the pretrained prediction by `α · mean((G_θ(a) − G_θ₀(a))²)` (normalised
//! units). The truth, which every readable file holds, is used for
//! reporting only, never in the loss.
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use ndarray::ArrayD;
use serde::Serialize;

use crate::data::writer::OutputFile;
use crate::data::{DataError, PdebenchFile, Task};
use crate::model::ModelKind;
use crate::train::config::ConfigError;
use crate::train::losses::relative_l2_per_sample;
use crate::train::optim::{named_vars, AdamW, AdamWConfig};
use crate::train::physics::PhysicsTerm;
use crate::train::run::Predictor;
use crate::train::TrainError;

/// How to fine-tune.
#[derive(Debug, Clone, PartialEq)]
pub struct FinetuneOptions {
    /// Optimiser steps.
    pub steps: usize,
    /// AdamW learning rate (constant after the warm-up).
    pub lr: f64,
    /// Weight α of the anchor to the pretrained prediction
    /// ([`DEFAULT_ANCHOR`] by default); 0 disables it.
    pub anchor: f64,
    /// Weight of the mean square PDE residual.
    pub w_pde: f64,
    /// Weight of the mean square initial-condition misfit.
    pub w_ic: f64,
    /// Residual grid as factors of the data grid per model axis; `None`
    /// keeps the run's `physics.pde_resolution`, or, where that is the
    /// data grid, refines time by [`DEFAULT_TIME_FACTOR`]
    /// ([`residual_factors`]).
    pub pde_resolution: Option<Vec<usize>>,
    /// Steps over which the learning rate rises linearly to `lr`
    /// ([`DEFAULT_WARMUP`] by default); 0 starts at `lr`.
    pub warmup: usize,
}

/// The default learning-rate warm-up, in steps. AdamW's first steps move
/// every weight by about lr whatever the gradient's size; on a
/// well-trained model that alone raised the error eightfold within two
/// steps (docs/history/physics.md), and the residual then had to undo it.
pub const DEFAULT_WARMUP: usize = 20;

/// The default number of optimiser steps. On a well-trained model the
/// first tens of steps trade the whole trajectory for the initial
/// condition and the residual (the error rises 3- to 10-fold), and the
/// residual then pulls it back below where it started; 200 steps ended
/// some instances half-way back, 8% worse than the pretrained prediction
/// (Burgers) and 7% (Navier–Stokes). With 500 no instance of either set
/// ends more than 2% worse (docs/history/physics.md, "Fine-tuning that
/// does not hurt").
pub const DEFAULT_STEPS: usize = 500;

impl Default for FinetuneOptions {
    /// The defaults `fno finetune` uses: [`DEFAULT_STEPS`] AdamW steps at lr 1e-3,
    /// w_pde = 1, w_ic = 10, the residual grid of [`residual_factors`],
    /// the anchor α = [`DEFAULT_ANCHOR`] and [`DEFAULT_WARMUP`] steps of
    /// warm-up.
    fn default() -> Self {
        Self {
            steps: DEFAULT_STEPS,
            lr: 1e-3,
            anchor: DEFAULT_ANCHOR,
            w_pde: 1.0,
            w_ic: 10.0,
            pde_resolution: None,
            warmup: DEFAULT_WARMUP,
        }
    }
}

/// How much finer than the data the default residual grid is in time
/// (space-time tasks). The residual's minimiser is off the truth mainly
/// because of the time difference at the stored dt: on the Burgers data
/// of docs/history/physics.md the truth's own residual falls 2- to 140-fold
/// when dt is quartered, and fine-tuning with it lowers the error where
/// the data grid's residual raises it. The model is queried there with
/// `forward_to`, at 4× the cost per step of the data grid's residual.
pub const DEFAULT_TIME_FACTOR: usize = 4;

/// The default anchor weight α (PINO's anchor to the operator's own
/// prediction). Without it, fine-tuning a well-trained model makes some
/// instances worse: the discrete residual of the truth itself is not
/// zero (on PDEBench-style Burgers data 95–100% of it sits in the first
/// frames, the fast viscous decay of the initial condition's high
/// wavenumbers, which no central difference at the stored dt resolves),
/// so the residual's minimiser is off the truth, and AdamW's normalised
/// steps move every weight by about lr per step even where the residual
/// is flat. The anchor pulls the flat directions back to the pretrained
/// prediction and leaves the directions the residual sees strongly free
/// (measured in docs/history/physics.md, "Fine-tuning that does not hurt").
pub const DEFAULT_ANCHOR: f64 = 0.1;

/// One optimiser step of the curve.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneStep {
    /// Step number, from 0 (the loss before the update of that step).
    pub step: usize,
    /// Total loss.
    pub loss: f64,
    /// Mean square PDE residual.
    pub pde: f64,
    /// Mean square initial-condition misfit.
    pub ic: f64,
    /// Relative L2 error to the truth.
    pub rel_l2: f64,
}

/// What fine-tuning did.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneReport {
    /// The file.
    pub data: PathBuf,
    /// The sample's index in the file.
    pub sample: usize,
    /// The options used.
    pub steps: usize,
    /// Learning rate.
    pub lr: f64,
    /// Anchor weight.
    pub anchor: f64,
    /// The equation.
    pub pde: String,
    /// Relative L2 to the truth of the pretrained prediction.
    pub rel_l2_before: f64,
    /// Relative L2 to the truth after fine-tuning.
    pub rel_l2_after: f64,
    /// Mean square residual before.
    pub residual_before: f64,
    /// Mean square residual after.
    pub residual_after: f64,
    /// Loss, residual and error at every step, and after the last.
    pub curve: Vec<FinetuneStep>,
}

/// The fine-tuned prediction and the truth, physical units, in the task's
/// layout without the batch axis (`[C, X.., T]` space-time, `[C, X..]`
/// one-shot).
pub struct FinetuneOutput {
    /// The report.
    pub report: FinetuneReport,
    /// The pretrained prediction.
    pub before: ArrayD<f32>,
    /// The fine-tuned prediction.
    pub after: ArrayD<f32>,
    /// The truth.
    pub truth: ArrayD<f32>,
}

fn scalar(t: &Tensor) -> Result<f64, TrainError> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

fn to_array(t: &Tensor) -> Result<ArrayD<f32>, TrainError> {
    let t = t.squeeze(0)?.to_dtype(DType::F32)?;
    let shape = t.dims().to_vec();
    let data = t.flatten_all()?.to_vec1::<f32>()?;
    ArrayD::from_shape_vec(shape, data).map_err(|e| TrainError::Tensor(candle_core::Error::wrap(e)))
}

/// The residual grid's factors per model axis: the ones asked for, else
/// the run's `physics.pde_resolution` where it refines the data grid,
/// else, for a space-time task, the
/// data grid in space and [`DEFAULT_TIME_FACTOR`] times finer in time
/// (a one-shot task keeps its data grid).
pub fn residual_factors(
    asked: Option<&[usize]>,
    run: &[usize],
    task: &Task,
    spatial_dims: usize,
) -> Vec<usize> {
    match asked {
        Some(factors) => factors.to_vec(),
        None if run.iter().any(|&f| f > 1) => run.to_vec(),
        None => match task {
            Task::SpaceTime => {
                let mut factors = vec![1; spatial_dims];
                factors.push(DEFAULT_TIME_FACTOR);
                factors
            }
            _ => Vec::new(),
        },
    }
}

/// The learning rate of step `step` (from 0) with a linear warm-up over
/// `warmup` steps: lr·(step + 1)/(warmup + 1), then lr.
fn warmed_up(lr: f64, warmup: usize, step: usize) -> f64 {
    if step >= warmup {
        lr
    } else {
        lr * (step + 1) as f64 / (warmup + 1) as f64
    }
}

/// Fine-tunes `predictor` (which is modified: it is the copy) on sample
/// `sample` of `file`.
pub fn finetune(
    predictor: &Predictor,
    file: &PdebenchFile,
    sample: usize,
    opts: &FinetuneOptions,
) -> Result<FinetuneOutput, TrainError> {
    let cfg = &predictor.config;
    if cfg.model.kind != ModelKind::Fno {
        return Err(TrainError::Config(ConfigError::Invalid {
            field: "model.kind",
            reason: "\"unet\": test-time fine-tuning queries the model on a finer residual \
                     grid, which a U-Net cannot predict on; fine-tune a run with kind = \"fno\""
                .into(),
        }));
    }
    let info = file.info();
    if sample >= info.num_samples {
        return Err(TrainError::Data(DataError::SampleOutOfRange {
            path: info.path.clone(),
            index: sample,
            count: info.num_samples,
        }));
    }
    crate::train::fit::check_file_for_run(cfg, info)?;
    let res = cfg.data.resolution();
    let mut physics = cfg.physics.clone();
    physics.pde_resolution = residual_factors(
        opts.pde_resolution.as_deref(),
        &cfg.physics.pde_resolution,
        &cfg.task,
        info.spatial_shape.len(),
    );
    let term = PhysicsTerm::new(&physics, &cfg.task, file, &res)?;
    let ex = cfg.task.example(&file.read_sample(sample, &res)?)?;
    let device = &predictor.device;
    let batch = |a: ArrayD<f32>| -> Result<Tensor, TrainError> {
        Ok(crate::data::loader::to_tensor(
            a.insert_axis(ndarray::Axis(0)),
            device,
        )?)
    };
    let input = batch(ex.input)?;
    let truth = batch(ex.target)?;
    let norm = &predictor.normalizers;
    let x = norm.input.encode(&input)?;
    let model = &predictor.model;
    let pretrained = model.forward(&x)?.detach();
    let mut optimizer = AdamW::new(
        named_vars(&predictor.varmap)?,
        AdamWConfig {
            weight_decay: 0.0,
            ..cfg.train.optimizer
        },
    )?;
    let mut curve = Vec::with_capacity(opts.steps + 1);
    let mut last_pred = pretrained.clone();
    for step in 0..=opts.steps {
        let pred = model.forward(&x)?;
        let losses = term.losses(model, &x, &input, Some(&pred), &norm.output)?;
        let mut total = ((losses.pde.clone() * opts.w_pde)? + (losses.ic.clone() * opts.w_ic)?)?;
        if opts.anchor > 0.0 {
            let anchor = (&pred - &pretrained)?.sqr()?.mean_all()?;
            total = (total + (anchor * opts.anchor)?)?;
        }
        let value = scalar(&total)?;
        if !value.is_finite() {
            return Err(TrainError::FinetuneDiverged { step, loss: value });
        }
        let physical = norm.output.decode(&pred.detach())?;
        curve.push(FinetuneStep {
            step,
            loss: value,
            pde: scalar(&losses.pde)?,
            ic: scalar(&losses.ic)?,
            rel_l2: relative_l2_per_sample(&physical, &truth)?[0],
        });
        last_pred = pred.detach();
        if step < opts.steps {
            optimizer.step(&total.backward()?, warmed_up(opts.lr, opts.warmup, step))?;
        }
    }
    let before = norm.output.decode(&pretrained)?;
    let after = norm.output.decode(&last_pred)?;
    let (first, last) = (&curve[0], &curve[curve.len() - 1]);
    let report = FinetuneReport {
        data: info.path.clone(),
        sample,
        steps: opts.steps,
        lr: opts.lr,
        anchor: opts.anchor,
        pde: term.pde().name().to_string(),
        rel_l2_before: first.rel_l2,
        rel_l2_after: last.rel_l2,
        residual_before: first.pde,
        residual_after: last.pde,
        curve,
    };
    Ok(FinetuneOutput {
        report,
        before: to_array(&before)?,
        after: to_array(&after)?,
        truth: to_array(&truth)?,
    })
}

/// Writes a prediction in PDEBench's layout, atomically and checked to the
/// end ([`OutputFile`]): `tensor` `[1, T, X..]` for a single-channel
/// space-time prediction (`[C, X.., T]` moved back to time-major),
/// `[1, C, X..]` otherwise, with the file's `x-`, `y-`, `z-coordinate` and,
/// for trajectories, `t-coordinate` (float32, as PDEBench stores them).
pub fn write_prediction(
    path: &Path,
    prediction: &ArrayD<f32>,
    task: &Task,
    file: &PdebenchFile,
    res: &crate::data::Resolution,
) -> Result<(), TrainError> {
    let coords = file.coordinates(res)?;
    let tensor = match task {
        Task::SpaceTime if prediction.shape()[0] == 1 => {
            // [1, X.., T] -> [T, X..].
            let field = prediction.index_axis(ndarray::Axis(0), 0);
            let time = field.ndim() - 1;
            let mut order = vec![time];
            order.extend(0..time);
            field.permuted_axes(order).as_standard_layout().into_owned()
        }
        _ => prediction.clone(),
    }
    .insert_axis(ndarray::Axis(0));
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (dir, name.to_string_lossy()),
        _ => (Path::new("."), path.to_string_lossy()),
    };
    let out = OutputFile::create(dir, &name)?;
    let tensor = tensor.as_standard_layout();
    out.dataset("tensor", tensor.shape())?;
    out.write_whole("tensor", tensor.as_slice().unwrap_or_default())?;
    for (axis, name) in coords
        .space
        .iter()
        .zip(["x-coordinate", "y-coordinate", "z-coordinate"])
    {
        out.vector(name, axis)?;
    }
    if matches!(task, Task::SpaceTime) {
        out.vector("t-coordinate", &coords.time)?;
    }
    out.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_residual_grid_refines_time_unless_set() {
        let st = Task::SpaceTime;
        assert_eq!(residual_factors(None, &[], &st, 1), vec![1, 4]);
        assert_eq!(residual_factors(None, &[1, 1, 1], &st, 2), vec![1, 1, 4]);
        assert_eq!(residual_factors(None, &[2, 2], &st, 1), vec![2, 2]);
        assert_eq!(residual_factors(Some(&[1, 1]), &[2, 2], &st, 1), vec![1, 1]);
        let one_shot = Task::OneShot {
            input_frame: 0,
            output_frame: -1,
        };
        assert!(residual_factors(None, &[], &one_shot, 2).is_empty());
    }

    #[test]
    fn the_learning_rate_warms_up_linearly() {
        let rates: Vec<f64> = (0..5).map(|s| warmed_up(1.0, 3, s)).collect();
        assert_eq!(rates, vec![0.25, 0.5, 0.75, 1.0, 1.0]);
        assert_eq!(warmed_up(2.0, 0, 0), 2.0);
    }
}
