//! A trained run loaded back from its directory ([`crate::rundir`]),
//! ready to predict.
use super::config::{RunConfig, SourceConfig};
use super::multi::view::{pick_source, source_model, source_view};
use super::symmetry::averaged;
use super::window::{window_rollout, window_settings};
use super::TrainError;
use crate::data::Task;
use crate::memory::{check_on, footprint, Footprint, Use};
use crate::model::{inference, Fno};
use crate::rundir::{files, Normalizers, RunDir, Weights};
use crate::spectral::ModeClip;
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

/// Receives the warnings of a [`Predictor`]: each grid too coarse for the
/// model's Fourier modes, once.
pub type WarningSink = Box<dyn Fn(&ModeClip) + Send + Sync>;

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
    /// The input grids already warned about, so that a clipped resolution
    /// is reported once, not once per batch.
    warned_grids: Mutex<HashSet<Vec<usize>>>,
    /// Where warnings go; none drops them.
    warnings: Option<WarningSink>,
}

impl Predictor {
    /// Loads a run directory (a single-source run).
    pub fn load(dir: &Path, weights: Weights, device: &Device) -> Result<Self, TrainError> {
        Self::load_source(dir, weights, device, None)
    }

    /// Loads source `source` of a multi-source run (`data.sources`) as a
    /// single-source run of its own: its configuration is the source's
    /// view ([`source_view`]), its model the shared Fourier blocks with the
    /// source's lifting and projection, its normalisers the source's. A
    /// single-source run is loaded with `source` none.
    pub fn load_source(
        dir: &Path,
        weights: Weights,
        device: &Device,
        source: Option<&str>,
    ) -> Result<Self, TrainError> {
        let run = RunDir::new(dir);
        let config = read_run_config(&run)?;
        let (config, normalizers, embeddings) = match pick_source(&config, source)? {
            None => (config.clone(), run.read_normalizers()?, None),
            Some(s) => (
                source_view(&config, s),
                run.read_source_normalizers(&s.name())?,
                Some(s.name()),
            ),
        };
        // The weights are allocated before they are read: an edited
        // config.toml could otherwise ask for more than the machine has.
        let weights_only = Footprint {
            optimizer: 0.0,
            activations: 0.0,
            ..footprint(&config.model, &[], 1, Use::Inference)
        };
        check_on(
            device,
            weights_only,
            "check the [model] section of the run's config.toml",
        )?;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let model = match &embeddings {
            None => Fno::new(&config.model, vb)?,
            Some(name) => source_model(&config.model, name, vb)?,
        };
        run.load_weights(&mut varmap, weights)?;
        Ok(Self {
            config,
            model,
            varmap,
            normalizers,
            device: device.clone(),
            warned_grids: Mutex::new(HashSet::new()),
            warnings: None,
        })
    }

    /// Loads a run for its Fourier blocks (`train.init_from`): a
    /// single-source run whole, a multi-source run through its first
    /// source. The blocks are shared by every source; the embeddings keep
    /// their `sources.<name>.` names, which a single-source model has not.
    pub fn load_trunk(dir: &Path, weights: Weights, device: &Device) -> Result<Self, TrainError> {
        let config = read_run_config(&RunDir::new(dir))?;
        let first = config.data.sources.first().map(SourceConfig::name);
        Self::load_source(dir, weights, device, first.as_deref())
    }

    /// Sends the predictor's warnings to `sink` (the library prints
    /// nothing itself).
    pub fn with_warnings(mut self, sink: impl Fn(&ModeClip) + Send + Sync + 'static) -> Self {
        self.warnings = Some(Box::new(sink));
        self
    }

    fn warn_if_clipped(&self, grid: &[usize], out_grid: &[usize]) {
        let Some(sink) = &self.warnings else {
            return;
        };
        let Some(clip) = self.model.clipped_modes(grid, out_grid) else {
            return;
        };
        // A poisoned lock only means another thread panicked while
        // inserting; the set is still usable.
        let mut warned = self
            .warned_grids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if warned.insert(grid.to_vec()) {
            sink(&clip);
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
    /// With `inference.symmetries` the prediction is the mean over their
    /// group ([`super::symmetry`]), one model call per element.
    ///
    /// The first time a grid is too small for the model's Fourier modes,
    /// a warning naming the modes kept goes to the sink given to
    /// [`Predictor::with_warnings`]; the prediction then uses the modes the
    /// grid holds.
    pub fn predict(&self, input: &Tensor, steps: usize) -> Result<Tensor, TrainError> {
        let grid = input.dims().get(2..).unwrap_or(&[]);
        self.warn_if_clipped(grid, grid);
        if let Some((n_in, delta)) = window_settings(&self.config.task) {
            return inference(|| {
                window_rollout(&self.model, &self.normalizers, n_in, delta, input, steps)
            });
        }
        averaged(&self.config.inference.symmetries, input, |gx, _| {
            let x = self.normalizers.input.encode(gx)?;
            let y = inference(|| rollout(&self.model, &self.config.task, &x, steps, None))?;
            Ok(self.normalizers.output.decode_stacked(&y)?)
        })
    }

    /// Predicts in physical units from a physical input `[B, C_in, grid..]`
    /// onto another grid, `[B, C_out, out_grid..]`: the model's spectral
    /// branch is evaluated there and its skip resampled (zero-shot
    /// super-resolution of the output, as neuraloperator's
    /// `output_shape`). One model call, so not for autoregressive runs,
    /// whose rollout feeds each prediction back on the input's grid.
    pub fn predict_to(&self, input: &Tensor, out_grid: &[usize]) -> Result<Tensor, TrainError> {
        self.warn_if_clipped(input.dims().get(2..).unwrap_or(&[]), out_grid);
        averaged(&self.config.inference.symmetries, input, |gx, g| {
            let x = self.normalizers.input.encode(gx)?;
            let y = inference(|| self.model.forward_to(&x, &g.grid(out_grid)))?;
            Ok(self.normalizers.output.decode(&y)?)
        })
    }
}

/// The configuration a run directory holds.
fn read_run_config(run: &RunDir) -> Result<RunConfig, TrainError> {
    Ok(RunConfig::from_toml(
        &run.read_config()?,
        &run.file(files::CONFIG).display().to_string(),
        &[],
    )?)
}

/// The sources of the run in `dir`; empty for a single-source run.
pub fn run_sources(dir: &Path) -> Result<Vec<SourceConfig>, TrainError> {
    Ok(read_run_config(&RunDir::new(dir))?.data.sources)
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
