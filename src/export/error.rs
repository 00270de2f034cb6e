//! What can stop an export.
use std::path::PathBuf;

/// Why a run could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A setting of the run has no equivalent in the target library.
    #[error("`{setting}` = {value} cannot be exported to neuraloperator 2.0.0: {reason}")]
    Unsupported {
        /// The run's setting (`model.padding`).
        setting: &'static str,
        /// Its value in the run.
        value: String,
        /// Why the target has no equivalent.
        reason: String,
    },
    /// The grid the coordinate channels are matched on is unusable or
    /// unknown.
    #[error("{0}")]
    Grid(String),
    /// The source asked for is not one of the run's, or a multi-source
    /// run was not asked for one.
    #[error(transparent)]
    Source(crate::train::config::ConfigError),
    /// The run could not be loaded (config, normalisers, weights).
    #[error(transparent)]
    Run(#[from] crate::train::TrainError),
    /// A weight the model needs is missing from the loaded variables.
    #[error("the run's weights hold no `{0}`")]
    MissingWeight(String),
    /// The output directory already holds files.
    #[error("{} is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// A file of the run could not be read, or one of the export written.
    #[error(transparent)]
    RunDir(#[from] crate::rundir::RunDirError),
    /// Encoding the state dict failed.
    #[error("encoding the state dict: {0}")]
    Encode(String),
}
