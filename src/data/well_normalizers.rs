//! A task's normalisers from a Well data set's `stats.yaml`, used by
//! training in place of statistics fitted on the training samples.
use super::error::Result;
use super::reader::FileInfo;
use super::{Normalizer, Task};

/// The (input, output) normalisers of `task` on the data set `info`
/// describes, from its `stats.yaml`: the frames' channels take the
/// time-varying fields' `mean` and `std`, the input channels those of the
/// fields constant in time, an autoregressive window the frames' repeated.
/// `None` when the data set is not The Well's or has no `stats.yaml`.
pub fn stats_normalizers(info: &FileInfo, task: &Task) -> Result<Option<(Normalizer, Normalizer)>> {
    let Some(well) = &info.well else {
        return Ok(None);
    };
    let Some(stats) = &well.stats else {
        return Ok(None);
    };
    let frames = stats.normalizer(well.fields.iter().filter(|f| f.time_varying))?;
    let inputs = stats.normalizer(well.fields.iter().filter(|f| !f.time_varying))?;
    let has_inputs = !info.input_fields.is_empty();
    Ok(Some(match *task {
        Task::Autoregressive { initial_step, .. } => (frames.repeated(initial_step), frames),
        Task::OneShot { .. } if has_inputs => (inputs, frames),
        Task::Inverse { .. } if has_inputs => (frames, inputs),
        Task::OneShot { .. } | Task::Inverse { .. } | Task::SpaceTime => (frames.clone(), frames),
        // Its normalisers may mix stats.yaml with fitted deltas: see `window_stats`.
        Task::Window { .. } => return Ok(None),
    }))
}

/// What a Well data set's `stats.yaml` gives the window task.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStats {
    /// The time-varying fields' channels (`mean`, `std`).
    pub frames: Normalizer,
    /// The channels of the fields constant in time.
    pub constants: Normalizer,
    /// The frames' changes (`mean_delta`, `std_delta`), when the file has them.
    pub delta: Option<Normalizer>,
}

/// The window task's statistics from the `stats.yaml` of the data set
/// `info` describes; `None` when it is not The Well's or has none.
pub fn window_stats(info: &FileInfo) -> Result<Option<WindowStats>> {
    let Some(well) = &info.well else {
        return Ok(None);
    };
    let Some(stats) = &well.stats else {
        return Ok(None);
    };
    let varying = || well.fields.iter().filter(|f| f.time_varying);
    Ok(Some(WindowStats {
        frames: stats.normalizer(varying())?,
        constants: stats.normalizer(well.fields.iter().filter(|f| !f.time_varying))?,
        delta: stats.delta_normalizer(varying())?,
    }))
}
