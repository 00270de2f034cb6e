//! A trained run loaded back from its directory, ready to predict.
//!
//! The run directory holds everything needed to rebuild the model: the
//! resolved `config.toml`, `model.safetensors` (last epoch),
//! `best.safetensors` (best test loss), `normalizer.json` and
//! `state.json`.
use super::config::RunConfig;
use super::TrainError;
use crate::data::{Normalizer, Task};
use crate::model::{inference, Fno};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File names inside a run directory.
pub mod files {
    /// The fully resolved configuration.
    pub const CONFIG: &str = "config.toml";
    /// Weights after the last completed epoch.
    pub const MODEL: &str = "model.safetensors";
    /// Weights of the epoch with the lowest test loss.
    pub const BEST: &str = "best.safetensors";
    /// AdamW moments and step count.
    pub const OPTIMIZER: &str = "optimizer.safetensors";
    /// Input and output normalisers.
    pub const NORMALIZER: &str = "normalizer.json";
    /// Epoch, step, seed, best loss.
    pub const STATE: &str = "state.json";
    /// One JSON line per epoch.
    pub const METRICS: &str = "metrics.jsonl";
}

/// The input and output normalisers of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizers {
    /// Applied to model inputs.
    pub input: Normalizer,
    /// Applied to targets; its inverse to predictions.
    pub output: Normalizer,
}

/// Which weights to load from a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    /// The epoch with the lowest test loss (falls back to the last).
    #[default]
    Best,
    /// The last completed epoch.
    Last,
}

/// A model with its normalisers and configuration.
pub struct Predictor {
    /// The configuration the run was trained with.
    pub config: RunConfig,
    /// The operator.
    pub model: Fno,
    /// Its variables (for fine-tuning or saving).
    pub varmap: VarMap,
    /// Its normalisers.
    pub normalizers: Normalizers,
    /// Where it computes.
    pub device: Device,
    /// The (input, output) grids already warned about, so that a clipped
    /// resolution is reported once, not once per batch.
    warned_grids: Mutex<HashSet<Vec<usize>>>,
}

fn read_text(path: &Path) -> Result<String, TrainError> {
    std::fs::read_to_string(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl Predictor {
    /// Loads a run directory.
    pub fn load(dir: &Path, weights: Weights, device: &Device) -> Result<Self, TrainError> {
        let config_path = dir.join(files::CONFIG);
        let config = RunConfig::from_toml(
            &read_text(&config_path)?,
            &config_path.display().to_string(),
            &[],
        )?;
        let norm_path = dir.join(files::NORMALIZER);
        let normalizers: Normalizers =
            serde_json::from_str(&read_text(&norm_path)?).map_err(|e| TrainError::Checkpoint {
                path: norm_path.clone(),
                reason: e.to_string(),
            })?;
        let varmap = VarMap::new();
        let model = Fno::new(
            &config.model,
            VarBuilder::from_varmap(&varmap, DType::F32, device),
        )?;
        let best = dir.join(files::BEST);
        let path: PathBuf = match weights {
            Weights::Best if best.exists() => best,
            _ => dir.join(files::MODEL),
        };
        let mut vm = varmap.clone();
        vm.load(&path).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            config,
            model,
            varmap,
            normalizers,
            device: device.clone(),
            warned_grids: Mutex::new(HashSet::new()),
        })
    }

    fn warn_if_clipped(&self, grid: &[usize]) {
        let Some(clip) = self.model.clipped_modes(grid, grid) else {
            return;
        };
        // A poisoned lock only means another thread panicked while
        // inserting; the set is still usable.
        let mut warned = self
            .warned_grids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if warned.insert(grid.to_vec()) {
            eprintln!("warning: {clip}");
        }
    }

    /// The task the run was trained for.
    pub fn task(&self) -> Task {
        self.config.task
    }

    /// Predicts in physical units from a physical input `[B, C_in, grid..]`.
    /// Autoregressive runs roll out `steps` frames and return them stacked
    /// time-major as channels `[B, steps * C, grid..]`.
    ///
    /// Runs in an [`inference`] scope: nothing is kept for a backward pass,
    /// so the result cannot be differentiated.
    ///
    /// The first time a grid is too small for the model's Fourier modes,
    /// a warning naming the modes kept goes to stderr; the prediction then
    /// uses the modes the grid holds.
    pub fn predict(&self, input: &Tensor, steps: usize) -> Result<Tensor, TrainError> {
        self.warn_if_clipped(input.dims().get(2..).unwrap_or(&[]));
        let x = self.normalizers.input.encode(input)?;
        let y = inference(|| rollout(&self.model, &self.config.task, &x, steps, None))?;
        Ok(self.normalizers.output.decode_stacked(&y)?)
    }
}

/// Applies the model for the task: one call, or an autoregressive rollout
/// of `steps` frames. `backprop_steps` limits gradients to the last k steps.
/// Inputs and outputs are normalised.
pub fn rollout(
    model: &Fno,
    task: &Task,
    x: &Tensor,
    steps: usize,
    backprop_steps: Option<usize>,
) -> Result<Tensor, TrainError> {
    match *task {
        Task::Autoregressive { initial_step, .. } => {
            let c = x.dim(1)? / initial_step.max(1);
            let mut window = x.clone();
            let mut preds = Vec::with_capacity(steps);
            for s in 0..steps {
                if backprop_steps.is_some_and(|k| s + k == steps) {
                    // Gradients stop here: only the last k steps are trained through.
                    window = window.detach();
                }
                let pred = model.forward(&window)?;
                window = if initial_step > 1 {
                    Tensor::cat(
                        &[window.narrow(1, c, (initial_step - 1) * c)?, pred.clone()],
                        1,
                    )?
                } else {
                    pred.clone()
                };
                preds.push(pred);
            }
            Ok(Tensor::cat(&preds, 1)?)
        }
        _ => Ok(model.forward(x)?),
    }
}
