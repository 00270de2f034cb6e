//! Training: optimiser, learning-rate schedules, the loop, and the physics
//! terms of the loss ([`physics`]).
//!
//! [`trainer::train`] runs a configuration ([`config::RunConfig`]) into a
//! run directory ([`crate::rundir`]); [`run::Predictor`] loads one back.
mod adamw_inplace;
mod adamw_params;
pub mod config;
mod config_error;
#[cfg(test)]
mod config_props;
#[cfg(feature = "cuda")]
mod cuda;
pub mod init;
pub mod optim;
pub mod physics;
pub mod run;
pub mod schedule;
pub mod trainer;
mod validate;

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
    /// The model configuration is invalid or a forward pass failed.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// A physics residual could not be set up or evaluated.
    #[error(transparent)]
    Physics(#[from] crate::physics::PhysicsError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A run file could not be read or written.
    #[error(transparent)]
    RunDir(#[from] crate::rundir::RunDirError),
    /// The loss became NaN or infinite; the last checkpoint is intact.
    #[error("training diverged at epoch {epoch}, step {step}: loss is {loss}; the last checkpoint (previous epoch) is intact — lower train.lr or set train.grad_clip")]
    Diverged {
        /// Epoch (from 0).
        epoch: usize,
        /// Optimiser step.
        step: u64,
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
