//! What a task makes of a stored sample, and why it may not: the
//! (input, target) pair every task yields, the task errors, and the
//! time-major stacking of frames as channels. Below the tasks
//! (task.rs) and The Well's windows (window.rs), which both use them.
use ndarray::ArrayD;

/// A task that cannot be built from a file.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum TaskError {
    /// A frame index beyond the trajectory.
    #[error("`{setting}` = {value} is out of range: each sample has {frames} frames (after the time stride)")]
    FrameOutOfRange {
        /// The setting's name.
        setting: &'static str,
        /// Its value.
        value: i64,
        /// Frames in the file (after striding).
        frames: usize,
    },
    /// A trajectory too short for one window of the window task.
    #[error("`task.n_steps_input` = {input} plus `task.n_steps_output` = {output} need {needed} frames but each sample has {frames} (after the time stride)")]
    TooShortForWindow {
        /// `task.n_steps_input`.
        input: usize,
        /// `task.n_steps_output`.
        output: usize,
        /// Frames one window spans.
        needed: usize,
        /// Frames in the file (after striding).
        frames: usize,
    },
    /// A window setting of zero.
    #[error("`{setting}` must be at least 1")]
    Zero {
        /// The setting's name.
        setting: &'static str,
    },
    /// The fields constant in time do not share the frames' grid.
    #[error("the fields constant in time have grid {constant:?} but the frames {frames:?}")]
    ConstantGrid {
        /// The constant fields' shape.
        constant: Vec<usize>,
        /// The stacked frames' shape.
        frames: Vec<usize>,
    },
    /// The task needs a trajectory and the file holds one frame.
    #[error("task `{task}` needs a time series but the file has a single frame per sample")]
    NeedsTime {
        /// The task's name.
        task: &'static str,
    },
}

/// One (input, target) pair, channels first: `[C, X, (Y, (Z))]`, with a
/// trailing time axis for the space-time task.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The model's input.
    pub input: ArrayD<f32>,
    /// What the model should output. Autoregressive: the frames after the
    /// initial window, stacked time-major as channels `[(T - k) * C, X...]`.
    pub target: ArrayD<f32>,
}

/// `[T, C, X..]` to `[T * C, X..]`, time-major.
pub(crate) fn stack_time_as_channels(frames: &ArrayD<f32>) -> ArrayD<f32> {
    let shape = frames.shape();
    let mut new_shape = vec![shape[0] * shape[1]];
    new_shape.extend_from_slice(&shape[2..]);
    let standard = frames.as_standard_layout().into_owned();
    standard
        .into_shape_with_order(new_shape)
        .unwrap_or_else(|e| unreachable!("a standard-layout reshape keeps the element count: {e}"))
}
