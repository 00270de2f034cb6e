//! Errors of evaluation: metrics, spectra and plots.
//!
//! Shapes travel with every variant, so a message read in a log still says
//! which array was wrong and how.
use std::path::PathBuf;

/// What went wrong while computing metrics or spectra, or writing a plot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Two arrays that must agree in shape do not (prediction against truth,
    /// or a batch against the batches before it).
    #[error("{what}: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// Which pair of arrays disagrees.
        what: &'static str,
        /// The shape required.
        expected: Vec<usize>,
        /// The shape found.
        got: Vec<usize>,
    },
    /// An array has a number of axes the operation does not handle.
    #[error("{what}: shape {got:?} has the wrong rank; expected {expected}")]
    WrongRank {
        /// Which array.
        what: &'static str,
        /// The accepted layouts, such as `[B, T, C, X, (Y, (Z))]`.
        expected: &'static str,
        /// The shape found.
        got: Vec<usize>,
    },
    /// An axis that needs at least one entry has none.
    #[error("{what}: shape {shape:?} has an empty axis")]
    EmptyAxis {
        /// Which array.
        what: &'static str,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// The time axis is not longer than the number of input frames to drop.
    #[error(
        "{frames} time frames leave nothing to score after dropping initial_step = {initial_step}"
    )]
    TooFewFrames {
        /// Length of the time axis.
        frames: usize,
        /// Input frames that are dropped before scoring.
        initial_step: usize,
    },
    /// [`MetricsAccumulator::finish`](super::MetricsAccumulator::finish) was
    /// called before any sample was pushed.
    #[error("no samples were pushed, so there is nothing to average")]
    NoSamples,
    /// A setting is out of its valid range.
    #[error("invalid `{field}`: {reason}")]
    InvalidOption {
        /// The setting's name.
        field: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// A plot was asked for with nothing drawable in it.
    #[error("{path}: nothing to plot in {what}: {reason}")]
    NothingToPlot {
        /// The PNG that was to be written.
        path: PathBuf,
        /// Which input is empty.
        what: &'static str,
        /// Why nothing can be drawn, such as "no finite positive values".
        reason: &'static str,
    },
    /// The plotting backend failed while drawing or encoding the image.
    #[error("{path}: cannot draw plot: {reason}")]
    Plot {
        /// The PNG that was to be written.
        path: PathBuf,
        /// The backend's message.
        reason: String,
    },
    /// Writing the PNG (or moving it into place) failed.
    #[error("{path}: cannot write")]
    Io {
        /// The file that could not be written.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
}
