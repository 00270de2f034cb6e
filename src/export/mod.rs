//! Exporting a trained run to another library: neuraloperator 2.0.0's
//! `neuralop.models.FNO` (`fno export --format neuraloperator`).
//!
//! [`export_neuraloperator`] writes a directory:
//!
//! | file | holds |
//! | --- | --- |
//! | `model.safetensors` | the state dict `FNO.load_state_dict(strict=True)` takes ([`state_dict`]) |
//! | `fno_kwargs.json` | `FNO(**kwargs)` rebuilding the architecture ([`manifest::fno_kwargs`]) |
//! | `normalizer.json` | the run's input and output normalisers and how to apply them |
//! | `export.json` | versions, source run and weights, the grid of exact agreement, caveats |
//!
//! Settings neuraloperator cannot reproduce are refused naming them
//! ([`support`]). The mapping is documented in
//! `docs/neuraloperator-export.md`; the script
//! `benches/reference/neuraloperator/check_export.py` loads an export into
//! neuraloperator and compares its outputs with `fno predict`.
mod error;
pub mod manifest;
pub mod spectral;
pub mod state_dict;
pub mod support;

pub use error::ExportError;

use crate::data::{PdebenchFile, Task};
use crate::rundir::{
    create_dir, files as run_files, write_atomic, write_json, RunDir, RunDirError, Weights,
};
use crate::train::config::RunConfig;
use crate::train::multi::view::{pick_source, source_view, SOURCES};
use crate::train::run::Predictor;
use candle_core::Device;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// File names inside an export directory.
pub mod files {
    /// The safetensors state dict.
    pub const STATE_DICT: &str = "model.safetensors";
    /// `FNO(...)`'s keyword arguments.
    pub const KWARGS: &str = "fno_kwargs.json";
    /// The normalisers.
    pub const NORMALIZERS: &str = "normalizer.json";
    /// What was exported, from where, with which caveats.
    pub const RECORD: &str = "export.json";
}

/// How to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Which weights of the run (default: the best).
    pub weights: Weights,
    /// The grid on which the coordinate channels are made to agree exactly
    /// (one entry per model axis); `None` takes the run's training grid,
    /// read from its training file.
    pub grid: Option<Vec<usize>>,
    /// Replace the files of a non-empty output directory.
    pub overwrite: bool,
    /// The source of a multi-source run (`data.sources`) to export: the
    /// shared Fourier blocks with that source's lifting, projection and
    /// normalisers. Required for such a run, refused for another.
    pub source: Option<String>,
}

/// What [`export_neuraloperator`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The export directory.
    pub dir: PathBuf,
    /// Tensors in the state dict.
    pub tensors: usize,
    /// The grid the coordinate channels agree on; `None` without them.
    pub grid: Option<Vec<usize>>,
    /// `FNO(...)`'s keyword arguments.
    pub kwargs: serde_json::Value,
}

/// Exports the run in `run` to the directory `out` for neuraloperator
/// 2.0.0's `FNO` (see the module docs for the files). Refuses settings
/// without a neuraloperator equivalent before reading any weight, and
/// writes nothing unless the whole export is ready; each file is written
/// atomically.
pub fn export_neuraloperator(
    run: &Path,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportReport, ExportError> {
    let config = read_config(run)?;
    let picked = pick_source(&config, opts.source.as_deref()).map_err(ExportError::Source)?;
    let (config, embeddings) = match picked {
        None => (config, String::new()),
        Some(s) => (source_view(&config, s), format!("{SOURCES}.{}.", s.name())),
    };
    support::check_supported(&config.model)?;
    let grid = match (config.model.grid_channels, &opts.grid) {
        (false, _) => None,
        (true, Some(grid)) => Some(checked_grid(grid, &config)?),
        (true, None) => Some(training_grid(&config)?),
    };
    let predictor =
        Predictor::load_source(run, opts.weights, &Device::Cpu, opts.source.as_deref())?;
    let model = &predictor.config.model;
    let entries = state_dict::build(&predictor.varmap, model, grid.as_deref(), &embeddings)?;
    let bytes = state_dict::encode(&entries)?;
    let kwargs = manifest::fno_kwargs(model);
    let record = manifest::export_record(&manifest::Provenance {
        run,
        source: opts.source.as_deref(),
        weights: match opts.weights {
            Weights::Best => "best",
            Weights::Last => "last",
        },
        task: serde_json::to_value(predictor.config.task)
            .map_err(|e| ExportError::Encode(format!("the task: {e}")))?,
        grid: grid.as_deref(),
        layers: model.layers,
        channel_mlp: model.channel_mlp_hidden() > 0,
    });

    prepare_dir(out, opts.overwrite)?;
    let path = out.join(files::STATE_DICT);
    write_atomic(&path, &bytes).map_err(|error| RunDirError::Io { path, error })?;
    write_json(&out.join(files::KWARGS), &kwargs)?;
    write_json(
        &out.join(files::NORMALIZERS),
        &manifest::normalizers(&predictor.normalizers),
    )?;
    write_json(&out.join(files::RECORD), &record)?;
    Ok(ExportReport {
        dir: out.to_path_buf(),
        tensors: entries.len(),
        grid,
        kwargs,
    })
}

/// The run's `config.toml`, without its weights.
fn read_config(run: &Path) -> Result<RunConfig, ExportError> {
    let dir = RunDir::new(run);
    let text = dir.read_config()?;
    let origin = dir.file(run_files::CONFIG).display().to_string();
    RunConfig::from_toml(&text, &origin, &[]).map_err(|e| crate::train::TrainError::from(e).into())
}

/// Creates `out`, refusing one that holds anything unless `overwrite`.
fn prepare_dir(out: &Path, overwrite: bool) -> Result<(), ExportError> {
    let holds_files = match std::fs::read_dir(out) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => {
            return Err(RunDirError::Io {
                path: out.to_path_buf(),
                error,
            }
            .into())
        }
    };
    if holds_files && !overwrite {
        return Err(ExportError::NotEmpty(out.to_path_buf()));
    }
    Ok(create_dir(out)?)
}

/// `grid` if it has one positive entry per model axis.
fn checked_grid(grid: &[usize], config: &RunConfig) -> Result<Vec<usize>, ExportError> {
    let dims = config.model.dims;
    if grid.len() != dims || grid.contains(&0) {
        return Err(ExportError::Grid(format!(
            "the grid {grid:?} needs {dims} positive sizes, one per axis of the model"
        )));
    }
    Ok(grid.to_vec())
}

/// The grid the run was trained on: its training file's grid at the
/// run's strides, with the frames as the last axis for the space-time
/// task.
fn training_grid(config: &RunConfig) -> Result<Vec<usize>, ExportError> {
    let unreadable = |e: crate::data::DataError| {
        ExportError::Grid(format!(
            "the coordinate channels are matched on the training grid, and the training \
             file cannot be read ({e}); give the grid to match them on"
        ))
    };
    let file = PdebenchFile::open(&config.data.train).map_err(unreadable)?;
    let coords = file
        .coordinates(&config.data.resolution())
        .map_err(unreadable)?;
    let mut grid: Vec<usize> = coords.space.iter().map(Vec::len).collect();
    if matches!(config.task, Task::SpaceTime) {
        grid.push(coords.time.len());
    }
    checked_grid(&grid, config)
}
