//! Training: optimiser, learning-rate schedules, the loop, and the physics
//! terms of the loss ([`physics`]).
//!
//! [`train`] runs a configuration ([`config::RunConfig`]) into a
//! run directory ([`crate::rundir`]); [`run::Predictor`] loads one back.
mod adamw_inplace;
mod adamw_params;
pub(crate) mod all_reduce;
pub mod config;
mod config_error;
#[cfg(test)]
mod config_props;
#[cfg(feature = "cuda")]
mod cuda;
mod entry;
mod epoch_end;
pub mod fit;
pub mod init;
pub mod init_from;
pub mod losses;
pub mod multi;
pub mod optim;
pub mod physics;
mod plan;
pub mod preflight;
mod refine;
pub mod run;
pub mod schedule;
pub mod sources;
pub mod symmetry;
pub mod trainer;
mod validate;
pub mod window;

pub use entry::{train, train_with};

use std::path::PathBuf;

/// What can stop training or loading a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A data file could not be read.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Batching failed.
    #[error(transparent)]
    Loader(#[from] crate::data::loader::LoaderError),
    /// The task does not fit the data.
    #[error(transparent)]
    Task(#[from] crate::data::TaskError),
    /// A data file does not fit the run (layout, strides, modes).
    #[error(transparent)]
    Fit(Box<fit::FitError>),
    /// The model would not fit in the memory available.
    #[error(transparent)]
    Memory(#[from] Box<crate::memory::TooLarge>),
    /// The model configuration is invalid or a forward pass failed.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// A physics residual could not be set up or evaluated.
    #[error(transparent)]
    Physics(#[from] crate::physics::PhysicsError),
    /// `inference.symmetries` cannot act on the input's grid.
    #[error(transparent)]
    Symmetry(#[from] symmetry::UnfitGrid),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A run file could not be read or written.
    #[error(transparent)]
    RunDir(#[from] crate::rundir::RunDirError),
    /// An output file (a prediction) could not be written.
    #[error(transparent)]
    Write(#[from] crate::data::writer::WriteError),
    /// An epoch produced a NaN or infinite loss, weight or optimiser
    /// moment; nothing of that epoch was saved.
    #[error("training diverged in epoch {epoch}: {what} is {value}; {}", resumable_after(*.resumable))]
    Diverged {
        /// Epoch (from 0).
        epoch: usize,
        /// The first non-finite quantity found: the loss at a step, the
        /// test loss, or a named weight or optimiser moment.
        what: String,
        /// Its value (or its first non-finite element).
        value: f64,
        /// Epochs completed by the last committed checkpoint, if any.
        resumable: Option<usize>,
    },
    /// Test-time fine-tuning produced a NaN or infinite loss.
    #[error("fine-tuning diverged at step {step}: the loss is {loss}; lower the learning rate")]
    FinetuneDiverged {
        /// Optimiser step.
        step: usize,
        /// The non-finite loss.
        loss: f64,
    },
    /// A fresh run was asked for in a directory that is not empty.
    #[error("{} is not empty", dir.display())]
    RunExists {
        /// The run directory.
        dir: PathBuf,
    },
    /// A lock was poisoned by a panic on another thread.
    #[error("internal lock poisoned by an earlier panic")]
    Poisoned,
}

/// What a diverged run still has: the checkpoint to resume from.
fn resumable_after(epochs: Option<usize>) -> String {
    match epochs {
        Some(n) => format!(
            "the last checkpoint ({n} epoch{} done) is intact; resume with a lower train.lr or with train.grad_clip set",
            if n == 1 { "" } else { "s" }
        ),
        None => "no checkpoint was committed yet; start again with a lower train.lr or with train.grad_clip set".into(),
    }
}

impl From<fit::FitError> for TrainError {
    fn from(err: fit::FitError) -> Self {
        Self::Fit(Box::new(err))
    }
}
