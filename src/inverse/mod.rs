//! Inverse problems through a trained operator: recover the input (a
//! coefficient field or an initial condition) from observations of the
//! output.
//!
//! The trained forward operator is frozen ([`FrozenOperator`]) and the
//! input is found by gradient descent on a loss of named terms
//! ([`objective`]): the misfit at the observed points ([`observe`]) plus a
//! regulariser ([`regularize`]: total variation for piecewise-constant
//! coefficients, H1 for initial conditions). Bounded coefficients are
//! optimised through a sigmoid between their bounds and two-valued ones
//! binarised at the end ([`param`]). Adam runs first, then optionally
//! L-BFGS ([`lbfgs`]). The recovered input is scored against the truth and
//! checked with fno's own numerical solver ([`solver`]); [`session`] runs
//! the whole procedure and writes `inverse.json` and plots.
use crate::data::{DataError, TaskError};
use crate::eval::EvalError;
use crate::rundir::RunDirError;
use crate::solvers::SolverError;
use crate::train::TrainError;
use std::path::PathBuf;

pub mod lbfgs;
pub mod objective;
pub mod observe;
pub mod param;
pub mod problem;
pub mod recover;
pub mod regularize;
pub mod session;
pub mod solver;

pub use objective::PdeOutput;
pub use observe::Observe;
pub use param::{Bounds, Parametrization};
pub use recover::FrozenOperator;
pub use regularize::Regularizer;

/// The option of [`session::InverseOptions`] that an
/// [`InverseError::Setting`] refuses, so that a caller can name it in its
/// own terms (a command-line flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// The trained operators: none was given.
    Operators,
    /// The noise level.
    Noise,
    /// The weight of the physics residual.
    PdeWeight,
}

/// What can stop an inverse problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InverseError {
    /// The sample index is beyond the file.
    #[error("sample {sample} is out of range: {} holds {count} samples (0 to {})", path.display(), count.saturating_sub(1))]
    SampleOutOfRange {
        /// The data file.
        path: PathBuf,
        /// The requested sample.
        sample: usize,
        /// Samples in the file.
        count: usize,
    },
    /// The run was not trained for a map the inverse problem can use.
    #[error("the run's task is {task}; this needs a run with task.kind = \"{wanted}\"")]
    Task {
        /// The run's task.
        task: String,
        /// The task kind needed.
        wanted: &'static str,
    },
    /// The run does not fit the data file.
    #[error("the run in {} does not fit {}: {reason}", run.display(), data.display())]
    Mismatch {
        /// The run directory.
        run: PathBuf,
        /// The data file.
        data: PathBuf,
        /// What differs.
        reason: String,
    },
    /// An option has a value that cannot be used.
    #[error("{reason}")]
    Setting {
        /// Which option.
        setting: Setting,
        /// Why.
        reason: String,
    },
    /// A points file cannot be read or has a bad line.
    #[error("{} line {line}: {reason}", path.display())]
    Points {
        /// The file.
        path: PathBuf,
        /// Line number (from 1; 0 for the whole file).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error("the inverse loss is {loss} at iteration {iteration}; lower the learning rate")]
    Diverged {
        /// Iteration.
        iteration: usize,
        /// The loss.
        loss: f64,
    },
    /// Another thread panicked while holding the run's weights.
    #[error("the run's weights are unavailable (a thread panicked while holding them)")]
    Poisoned,
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// Writing the report or the history failed.
    #[error(transparent)]
    Write(#[from] RunDirError),
    /// Loading the run or running the model failed.
    #[error(transparent)]
    Run(#[from] TrainError),
    /// Reading the data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The task does not fit the file.
    #[error(transparent)]
    TaskData(#[from] TaskError),
    /// Plotting failed.
    #[error(transparent)]
    Plot(#[from] EvalError),
    /// The numerical solver failed on the recovered input.
    #[error("numerical solver: {0}")]
    Solver(#[from] SolverError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}
