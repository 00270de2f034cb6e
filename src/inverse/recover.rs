//! Gradient-based recovery of an input through a frozen operator: Adam,
//! then optionally L-BFGS.
use super::lbfgs::{minimize, LbfgsConfig};
use super::objective::{Iterate, Objective, TermValues};
use super::param::Parametrization;
use super::InverseError;
use crate::model::Fno;
use crate::rundir::Normalizers;
use crate::train::optim::{AdamW, AdamWConfig};
use crate::train::run::Predictor;
use candle_core::{DType, Tensor, Var};
use candle_nn::VarBuilder;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;

/// A trained operator whose weights are constants, so back-propagation
/// reaches its input without computing weight gradients.
pub struct FrozenOperator {
    model: Fno,
    normalizers: Normalizers,
}

impl FrozenOperator {
    /// Copies the weights of a loaded run.
    pub fn new(predictor: &Predictor) -> Result<Self, InverseError> {
        let weights: HashMap<String, Tensor> = predictor
            .varmap
            .data()
            .lock()
            .map_err(|_| InverseError::Poisoned)?
            .iter()
            .map(|(name, var)| (name.clone(), var.as_tensor().detach()))
            .collect();
        let vb = VarBuilder::from_tensors(weights, DType::F32, &predictor.device);
        let model =
            Fno::new(&predictor.config.model, vb).map_err(crate::train::TrainError::from)?;
        Ok(Self {
            model,
            normalizers: predictor.normalizers.clone(),
        })
    }

    /// The prediction, in physical units, for a physical input `[B, C, grid..]`.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor, InverseError> {
        let x = self.normalizers.input.encode(input)?;
        let y = self
            .model
            .forward(&x)
            .map_err(crate::train::TrainError::from)?;
        Ok(self.normalizers.output.decode(&y)?)
    }
}

/// Optimiser settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecoverConfig {
    /// Adam steps.
    pub steps: usize,
    /// L-BFGS iterations after Adam.
    pub lbfgs_steps: usize,
    /// Adam's initial learning rate, decayed by a cosine to 1% of it.
    pub lr: f64,
    /// Final sharpness of a two-valued coefficient's sigmoid
    /// ([`Parametrization::sharpness`]); 1 keeps the plain sigmoid.
    pub sharpen: f64,
}

/// One point of the optimisation history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// Iteration (Adam steps, then L-BFGS iterations).
    pub iteration: usize,
    /// `adam` or `lbfgs`.
    pub phase: &'static str,
    /// Every term at this iterate.
    pub values: TermValues,
}

/// The result of a recovery.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// The recovered physical input `[1, C, grid..]`, before binarisation.
    pub input: Tensor,
    /// Loss terms along the way.
    pub history: Vec<HistoryPoint>,
}

/// Evaluates the objective for the unconstrained `z` at a sigmoid
/// sharpness.
pub fn evaluate(
    op: &FrozenOperator,
    param: &Parametrization,
    objective: &Objective,
    z: &Tensor,
    sharpness: f64,
) -> Result<(Tensor, TermValues), InverseError> {
    let input = param.physical(z, sharpness)?;
    let scaled = param.scaled(z, sharpness)?;
    let output = op.forward(&input)?;
    Ok(objective.evaluate(&Iterate {
        input: &input,
        scaled: &scaled,
        output: &output,
    })?)
}

/// Minimises `objective` over the input, from the unconstrained `z0`.
pub fn recover(
    op: &FrozenOperator,
    param: &Parametrization,
    objective: &Objective,
    z0: &Tensor,
    config: &RecoverConfig,
) -> Result<Recovery, InverseError> {
    let z = Var::from_tensor(&z0.to_dtype(DType::F32)?)?;
    let mut history = Vec::with_capacity(config.steps + config.lbfgs_steps);
    let mut adam = AdamW::new(
        vec![("input".to_owned(), z.clone())],
        AdamWConfig {
            weight_decay: 0.0,
            ..AdamWConfig::default()
        },
    )?;
    let progress_at = |step: usize| step as f64 / config.steps.max(1) as f64;
    for step in 0..config.steps {
        let progress = progress_at(step);
        let sharpness = param.sharpness(progress, config.sharpen);
        let (loss, values) = evaluate(op, param, objective, z.as_tensor(), sharpness)?;
        if !values.total.is_finite() {
            return Err(InverseError::Diverged {
                iteration: step,
                loss: values.total,
            });
        }
        history.push(HistoryPoint {
            iteration: step,
            phase: "adam",
            values,
        });
        let grads = loss.backward()?;
        let lr = config.lr * (0.01 + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
        adam.step(&grads, lr)?;
        if let Some(limit) = param.z_limit() {
            z.set(&z.as_tensor().clamp(-limit, limit)?)?;
        }
    }
    let last_sharpness = param.sharpness(progress_at(config.steps), config.sharpen);
    if config.lbfgs_steps > 0 {
        let shape = z.dims().to_vec();
        let device = z.device().clone();
        let mut x: Vec<f64> = z
            .as_tensor()
            .flatten_all()?
            .to_dtype(DType::F64)?
            .to_vec1()?;
        let last: RefCell<Option<TermValues>> = RefCell::new(None);
        let done = RefCell::new(Vec::new());
        let objective_at = |v: &[f64]| -> Result<(f64, Vec<f64>), InverseError> {
            let t = Var::from_tensor(
                &Tensor::from_slice(v, shape.as_slice(), &device)?.to_dtype(DType::F32)?,
            )?;
            let (loss, values) = evaluate(op, param, objective, t.as_tensor(), last_sharpness)?;
            let grads = loss.backward()?;
            let g = grads
                .get(&t)
                .map(|g| g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>())
                .transpose()?
                .unwrap_or_else(|| vec![0.0; v.len()]);
            let total = values.total;
            *last.borrow_mut() = Some(values);
            Ok((total, g))
        };
        let lbfgs = LbfgsConfig {
            iterations: config.lbfgs_steps,
            ..LbfgsConfig::default()
        };
        minimize(&mut x, &lbfgs, objective_at, |_| {
            if let Some(v) = last.borrow().clone() {
                done.borrow_mut().push(v);
            }
        })?;
        for (i, values) in done.into_inner().into_iter().enumerate() {
            history.push(HistoryPoint {
                iteration: config.steps + i,
                phase: "lbfgs",
                values,
            });
        }
        z.set(&Tensor::from_slice(&x, shape.as_slice(), &device)?.to_dtype(DType::F32)?)?;
    }
    Ok(Recovery {
        input: param.physical(z.as_tensor(), last_sharpness)?,
        history,
    })
}
