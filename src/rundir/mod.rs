//! The run directory: its file names, their formats and how each is
//! written, in one place for every command that reads or writes one.
//!
//! `fno train` fills a run directory:
//!
//! | file | holds | written |
//! | --- | --- | --- |
//! | `config.toml` | the fully resolved configuration | at the start of a run |
//! | `normalizer.json` | [`Normalizers`] fitted on the training split | at the start of a run |
//! | `model.safetensors` | weights after the last completed epoch | with each checkpoint |
//! | `best.safetensors` | weights of the epoch with the lowest test loss | with a checkpoint that improves |
//! | `optimizer.safetensors` | AdamW moments and step count | with each checkpoint |
//! | `state.json` | [`RunState`]: epoch, step, seed, best loss | last in each checkpoint |
//! | `metrics.jsonl` | one [`EpochRecord`] per line | after each epoch |
//!
//! Other commands add their reports ([`files`]): `eval.json` beside the
//! run, `finetune-I/` and `inverse-I/` directories per sample.
//!
//! Every file is written to `NAME.tmp` in the same directory and renamed
//! over `NAME` ([`write_atomic`]): a rename within one file system is
//! atomic, so a process killed at any moment leaves the old or the new
//! file, never half of one. A checkpoint's files are staged by a
//! [`Checkpoint`] and committed together, `state.json` last: a run
//! resumes from what `state.json` describes.
mod atomic;
mod checkpoint;
pub mod files;
mod metrics;
mod reports;

pub use atomic::{write_atomic, write_atomic_with};
pub use checkpoint::{Checkpoint, RunState, FORMAT_VERSION};
pub use metrics::EpochRecord;
pub use reports::{create_dir, write_json, write_json_lines};

use crate::data::Normalizer;
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What can go wrong reading or writing a run directory's files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunDirError {
    /// The operating system refused a read, write or rename.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A file is corrupt, inconsistent with the others, or could not be
    /// encoded.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl RunDirError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn format(path: &Path) -> impl FnOnce(String) -> Self + '_ {
        move |reason| Self::Format {
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// The input and output normalisers of a run (`normalizer.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizers {
    /// Applied to model inputs.
    pub input: Normalizer,
    /// Applied to targets; its inverse to predictions.
    pub output: Normalizer,
}

/// Which weights of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    /// The epoch with the lowest test loss (`best.safetensors`; loading
    /// falls back to the last where a run has none).
    #[default]
    Best,
    /// The last completed epoch (`model.safetensors`).
    Last,
}

impl Weights {
    fn file(self) -> &'static str {
        match self {
            Self::Best => files::BEST,
            Self::Last => files::MODEL,
        }
    }
}

/// A run directory, by path; nothing is read until asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    dir: PathBuf,
}

impl RunDir {
    /// The run directory at `dir` (which need not exist yet).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The path of one of its files ([`files`]).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether it holds a run: `state.json`, the commit point of the first
    /// checkpoint, exists.
    pub fn holds_run(&self) -> bool {
        self.file(files::STATE).exists()
    }

    /// Creates the directory and its parents.
    pub fn create(&self) -> Result<(), RunDirError> {
        create_dir(&self.dir)
    }

    /// The text of `config.toml`.
    pub fn read_config(&self) -> Result<String, RunDirError> {
        let path = self.file(files::CONFIG);
        std::fs::read_to_string(&path).map_err(RunDirError::io(&path))
    }

    /// Writes `config.toml`.
    pub fn write_config(&self, toml: &str) -> Result<(), RunDirError> {
        let path = self.file(files::CONFIG);
        write_atomic(&path, toml.as_bytes()).map_err(RunDirError::io(&path))
    }

    /// Reads `normalizer.json`.
    pub fn read_normalizers(&self) -> Result<Normalizers, RunDirError> {
        read_json(&self.file(files::NORMALIZER))
    }

    /// Writes `normalizer.json`.
    pub fn write_normalizers(&self, normalizers: &Normalizers) -> Result<(), RunDirError> {
        write_json(&self.file(files::NORMALIZER), normalizers)
    }

    /// Reads `state.json`.
    pub fn read_state(&self) -> Result<RunState, RunDirError> {
        read_json(&self.file(files::STATE))
    }

    /// Loads `which` weights into `varmap`, whose variables must already
    /// exist with the saved names and shapes.
    pub fn load_weights(&self, varmap: &mut VarMap, which: Weights) -> Result<(), RunDirError> {
        let mut path = self.file(which.file());
        if !path.exists() {
            path = self.file(files::MODEL);
        }
        varmap
            .load(&path)
            .map_err(|e| RunDirError::format(&path)(e.to_string()))
    }

    /// Reads the file `name` with a reader that wants a path (the
    /// optimizer's state); its error is reported against the file.
    pub fn read_with<E: std::fmt::Display>(
        &self,
        name: &str,
        read: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(), RunDirError> {
        let path = self.file(name);
        read(&path).map_err(|e| RunDirError::format(&path)(e.to_string()))
    }

    /// Starts a checkpoint of this run.
    pub fn checkpoint(&self) -> Checkpoint<'_> {
        Checkpoint::new(self)
    }

    /// Appends one line to `metrics.jsonl`.
    pub fn append_metrics(&self, record: &EpochRecord) -> Result<(), RunDirError> {
        metrics::append(&self.file(files::METRICS), record)
    }

    /// Drops the lines of `metrics.jsonl` from epoch `epochs_done` on: a
    /// run killed between writing its metrics line and its checkpoint
    /// would otherwise repeat them when resumed.
    pub fn truncate_metrics(&self, epochs_done: usize) -> Result<(), RunDirError> {
        metrics::truncate(&self.file(files::METRICS), epochs_done)
    }

    /// The records of `metrics.jsonl` that parse; none if it is missing.
    pub fn read_metrics(&self) -> Vec<EpochRecord> {
        metrics::read(&self.file(files::METRICS))
    }

    /// Writes a command's report (`eval.json`) into the run directory and
    /// returns its path.
    pub fn write_report<T: Serialize>(
        &self,
        name: &str,
        report: &T,
    ) -> Result<PathBuf, RunDirError> {
        let path = self.file(name);
        write_json(&path, report)?;
        Ok(path)
    }

    /// Where `fno finetune` writes for sample `sample` unless told.
    pub fn finetune_dir(&self, sample: usize) -> PathBuf {
        self.dir.join(format!("finetune-{sample}"))
    }

    /// Where `fno inverse` writes for sample `sample` unless told.
    pub fn inverse_dir(&self, sample: usize) -> PathBuf {
        self.dir.join(format!("inverse-{sample}"))
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, RunDirError> {
    let text = std::fs::read_to_string(path).map_err(RunDirError::io(path))?;
    serde_json::from_str(&text).map_err(|e| RunDirError::format(path)(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_weights_fall_back_to_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let saved = VarMap::new();
        saved
            .get(
                2,
                "w",
                candle_nn::Init::Const(3.0),
                candle_core::DType::F32,
                &candle_core::Device::Cpu,
            )
            .unwrap();
        saved.save(run.file(files::MODEL)).unwrap();
        let mut loaded = VarMap::new();
        loaded
            .get(
                2,
                "w",
                candle_nn::Init::Const(0.0),
                candle_core::DType::F32,
                &candle_core::Device::Cpu,
            )
            .unwrap();
        run.load_weights(&mut loaded, Weights::Best).unwrap();
        let w = loaded.data().lock().unwrap()["w"]
            .as_tensor()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(w, vec![3.0, 3.0]);
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = RunDir::new(dir.path()).read_state().unwrap_err();
        assert!(err.to_string().contains("state.json"), "{err}");
    }
}
