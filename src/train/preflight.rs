//! The checks a training run passes before anything is allocated or
//! written: the strides against the training file's grid, the test file
//! against the training file, the Fourier modes (or a U-Net's poolings)
//! against the training grid ([`super::fit`]), the model's memory against the machine's
//! ([`crate::memory`]), and a physics equation whose parameters contradict
//! the training file's (a warning, not a refusal: the user may mean it).
use super::config::RunConfig;
use super::fit::{check_model_grid, check_strides, check_test_file, frames, model_grid};
use super::symmetry::check_grid;
use super::TrainError;
use crate::data::{PdebenchFile, Task};
use crate::memory::{check_on, footprint, Use, SETTINGS_HINT};
use crate::model::ModelConfig;
use candle_core::Device;

/// Checks `cfg` against its data files and the memory of the machine that
/// runs it on `device`; sends each warning to `warn` (the library prints
/// nothing).
pub fn check_training(
    cfg: &RunConfig,
    device: &Device,
    warn: &mut dyn FnMut(String),
) -> Result<(), TrainError> {
    let train = PdebenchFile::open(&cfg.data.train)?;
    let info = train.info();
    let res = cfg.data.resolution();
    check_strides(&res, info)?;
    if let Some(path) = &cfg.data.test {
        check_test_file(&res, info, PdebenchFile::open(path)?.info())?;
    }
    let mut resolved = cfg.clone();
    resolve_model(&mut resolved, &train)?;
    let grid = model_grid(&cfg.task, &res, info);
    check_model_grid(&resolved.model, &grid)?;
    check_grid(&cfg.inference.symmetries, &grid)?;
    let batch = cfg.train.batch_size.clamp(1, info.num_samples.max(1));
    let mut needs = footprint(&resolved.model, &grid, batch, Use::Training);
    // An autoregressive rollout keeps every step it trains through.
    if let Task::Autoregressive {
        initial_step,
        backprop_steps,
    } = cfg.task
    {
        let steps = frames(info, &res).saturating_sub(initial_step).max(1);
        needs.activations *= backprop_steps.unwrap_or(steps).clamp(1, steps) as f64;
    }
    check_on(device, needs, SETTINGS_HINT)?;
    if let Some(spec) = &cfg.physics.pde {
        spec.disagreements(info).into_iter().for_each(&mut *warn);
    }
    Ok(())
}

/// Derives `dims`, channels and per-axis modes from the data and the task,
/// and on a Well data set per-axis padding from its boundary conditions.
pub fn resolve_model(cfg: &mut RunConfig, file: &PdebenchFile) -> Result<(), TrainError> {
    let info = file.info();
    let frames = info
        .num_frames
        .div_ceil(cfg.data.reduced_resolution_t.max(1));
    cfg.task.validate(info, frames)?;
    let (cin, cout) = cfg.task.channels(info);
    let dims = cfg.task.model_dims(info.spatial_shape.len());
    let m: &mut ModelConfig = &mut cfg.model;
    m.dims = dims;
    m.in_channels = cin;
    m.out_channels = cout;
    if m.modes.len() == 1 && dims > 1 {
        m.modes = vec![m.modes[0]; dims];
    }
    // On a Well data set one padding fraction follows the boundary
    // conditions: none along periodic axes (nor along a space-time
    // model's time axis when it is the only other).
    if let (Some(well), &[fraction]) = (&info.well, m.padding.as_slice()) {
        if dims > 1 {
            let mut per_axis = well.padding(fraction);
            per_axis.resize(dims, fraction);
            m.padding = per_axis;
        }
    }
    m.validate()?;
    Ok(())
}
