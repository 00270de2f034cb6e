//! The run directory: its file names, their formats and how each is
//! written, in one place for every command that reads or writes one.
//!
//! `fno train` fills a run directory (format version 2,
//! [`FORMAT_VERSION`]):
//!
//! | file | holds | written |
//! | --- | --- | --- |
//! | `.lock` | the writing process's id, `flock`ed while it runs | by `train` |
//! | `config.toml` | the fully resolved configuration | at the start of a run |
//! | `normalizer.json` | [`Normalizers`] fitted on the training split | at the start of a run |
//! | `normalizer-<source>.json` | a multi-source run's [`Normalizers`] per source, in place of `normalizer.json` | at the start of a run |
//! | `checkpoint-<E>/model.safetensors` | weights after epoch `E` | with each checkpoint |
//! | `checkpoint-<E>/best.safetensors` | weights of the epoch with the lowest test loss | with each checkpoint (linked from the previous one when not improved) |
//! | `checkpoint-<E>/optimizer.safetensors` | AdamW moments and step count | with each checkpoint |
//! | `state.json` | [`RunState`]: epoch, step, seed, best loss, the checkpoint directory, and what a fine-tuned run took from its pretrained run | last: the commit point |
//! | `metrics.jsonl` | one [`EpochRecord`] per line | after each epoch |
//!
//! Other commands add their reports ([`files`]): `eval.json` beside the
//! run, `finetune-I/` and `inverse-I/` directories per sample.
//!
//! **Checkpoints are one commit.** A [`Checkpoint`] writes its files
//! into a new directory `checkpoint-<E>/` (`E` = epochs completed) and
//! fsyncs each file and the directory; then it writes `state.json.tmp`
//! naming that directory, fsyncs it, renames it over `state.json` and
//! fsyncs the run directory. That rename is the commit point: before it a
//! reader sees the previous checkpoint whole, after it the new one whole.
//! Only then is the previous checkpoint's directory removed (and any
//! directory a crash left unpublished, by the next checkpoint).
//!
//! **Readers follow the pointer:** resume, [`RunDir::load_weights`]
//! (eval, predict, finetune, inverse) and [`RunDir::read_with`] read
//! `state.json` and open the files in the directory it names. A run
//! without `state.json` has no committed checkpoint (`--resume` starts it
//! from the beginning). Format 1 (no `checkpoint` in `state.json`, files
//! beside it) is still read, and a resumed format-1 run moves to format 2
//! at its next checkpoint; a newer format is refused naming its version.
//!
//! Every other file is written to `NAME.tmp` in the same directory,
//! fsynced and renamed over `NAME` ([`write_atomic`]): a process killed at
//! any moment leaves the old or the new file, never half of one.
//!
//! **One writer:** `fno train` holds an advisory lock ([`RunDir::lock`])
//! on `.lock` for the whole run; a second writer is refused naming the
//! first's process id.
mod atomic;
mod checkpoint;
mod fault;
pub mod files;
mod lock;
mod metrics;
mod reports;

pub use atomic::{write_atomic, write_atomic_with};
pub use checkpoint::{Checkpoint, InitRecord, RunState, FORMAT_VERSION};
pub use lock::RunLock;
pub use metrics::EpochRecord;
pub use reports::{create_dir, holds_files, write_json, write_json_lines};

use crate::data::Normalizer;
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What can go wrong reading or writing a run directory's files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunDirError {
    /// The operating system refused a read, write or rename.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error, part of this error's message (not
        /// its source, which would print the reason twice in a chain).
        error: std::io::Error,
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
    /// Another process holds the run directory's lock.
    #[error("{} is in use by {holder}", dir.display())]
    InUse {
        /// The run directory.
        dir: PathBuf,
        /// "process N", or "another process" where its id is unknown.
        holder: String,
    },
}

impl RunDirError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |error| Self::Io {
            path: path.to_path_buf(),
            error,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

    /// Reads the normalisers of source `source` of a multi-source run
    /// (`normalizer-<source>.json`).
    pub fn read_source_normalizers(&self, source: &str) -> Result<Normalizers, RunDirError> {
        read_json(&self.file(&files::source_normalizer(source)))
    }

    /// Writes the normalisers of source `source` of a multi-source run.
    pub fn write_source_normalizers(
        &self,
        source: &str,
        normalizers: &Normalizers,
    ) -> Result<(), RunDirError> {
        write_json(&self.file(&files::source_normalizer(source)), normalizers)
    }

    /// Reads `state.json`; a format newer than this build's is refused.
    pub fn read_state(&self) -> Result<RunState, RunDirError> {
        let path = self.file(files::STATE);
        let state: RunState = read_json(&path)?;
        if state.version > FORMAT_VERSION {
            return Err(RunDirError::format(&path)(format!(
                "run-directory format version {} is newer than this fno reads ({FORMAT_VERSION})",
                state.version
            )));
        }
        Ok(state)
    }

    /// The directory of the committed checkpoint, as `state.json` names
    /// it; none without `state.json` or in format 1.
    pub fn committed_checkpoint(&self) -> Result<Option<String>, RunDirError> {
        if !self.holds_run() {
            return Ok(None);
        }
        Ok(self.read_state()?.checkpoint)
    }

    /// The path of a checkpoint file (weights, optimizer) of the committed
    /// checkpoint: inside the directory `state.json` names, or beside it in
    /// format 1 and in a directory without `state.json`.
    pub fn checkpoint_file(&self, name: &str) -> Result<PathBuf, RunDirError> {
        Ok(match self.committed_checkpoint()? {
            Some(dir) => self.dir.join(dir).join(name),
            None => self.file(name),
        })
    }

    /// Removes checkpoint directories other than the committed one, which
    /// a process killed after its commit can leave behind; the next
    /// checkpoint would remove them too.
    pub fn remove_stale_checkpoints(&self) -> Result<(), RunDirError> {
        match self.committed_checkpoint()? {
            Some(keep) => checkpoint::remove_others(self, &keep, false),
            None => Ok(()),
        }
    }

    /// Takes the run's lock for as long as the returned guard lives,
    /// creating the directory if needed; another process holding it is an
    /// [`RunDirError::InUse`].
    pub fn lock(&self) -> Result<RunLock, RunDirError> {
        lock::lock(self)
    }

    /// Whether the directory holds nothing but its lock (or is missing).
    pub fn is_empty(&self) -> Result<bool, RunDirError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(RunDirError::io(&self.dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(RunDirError::io(&self.dir))?;
            if entry.file_name() != files::LOCK {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Removes the files of a run (and their temporaries, checkpoint
    /// directories and `eval.json`), leaving anything else in the
    /// directory; for a fresh run asked to replace an old one.
    pub fn clear(&self) -> Result<(), RunDirError> {
        let owned = [
            files::CONFIG,
            files::NORMALIZER,
            files::STATE,
            files::METRICS,
            files::MODEL,
            files::BEST,
            files::OPTIMIZER,
            files::EVAL,
        ];
        let entries = std::fs::read_dir(&self.dir).map_err(RunDirError::io(&self.dir))?;
        for entry in entries {
            let entry = entry.map_err(RunDirError::io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let removed = if name.starts_with(files::CHECKPOINT_PREFIX) {
                std::fs::remove_dir_all(&path)
            } else if owned
                .iter()
                .any(|f| name == *f || name.strip_suffix(".tmp") == Some(*f))
                || files::is_source_normalizer(name.strip_suffix(".tmp").unwrap_or(&name))
            {
                std::fs::remove_file(&path)
            } else {
                continue;
            };
            removed.map_err(RunDirError::io(&path))?;
        }
        Ok(())
    }

    /// Loads `which` weights of the committed checkpoint into `varmap`,
    /// whose variables must already exist with the saved names and shapes.
    pub fn load_weights(&self, varmap: &mut VarMap, which: Weights) -> Result<(), RunDirError> {
        let mut path = self.checkpoint_file(which.file())?;
        if !path.exists() {
            path = self.checkpoint_file(files::MODEL)?;
        }
        varmap
            .load(&path)
            .map_err(|e| RunDirError::format(&path)(e.to_string()))
    }

    /// Reads the committed checkpoint's file `name` with a reader that
    /// wants a path (the optimizer's state); its error is reported against
    /// the file.
    pub fn read_with<E: std::fmt::Display>(
        &self,
        name: &str,
        read: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(), RunDirError> {
        let path = self.checkpoint_file(name)?;
        read(&path).map_err(|e| RunDirError::format(&path)(e.to_string()))
    }

    /// Starts the checkpoint after `epoch` epochs, in a fresh directory.
    pub fn checkpoint(&self, epoch: usize) -> Result<Checkpoint<'_>, RunDirError> {
        Checkpoint::new(self, epoch)
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

    #[test]
    fn format_one_is_read_beside_state_and_a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let v1 = r#"{"version":1,"epoch":2,"step":6,"seed":0,"best":[0.5,1]}"#;
        std::fs::write(run.file(files::STATE), v1).unwrap();
        assert_eq!(run.read_state().unwrap().epoch, 2);
        assert_eq!(
            run.checkpoint_file(files::MODEL).unwrap(),
            dir.path().join(files::MODEL)
        );
        std::fs::write(run.file(files::STATE), v1.replace(":1,", ":3,")).unwrap();
        let err = run.read_state().unwrap_err().to_string();
        assert!(err.contains("format version 3"), "{err}");
    }

    #[test]
    fn clear_removes_the_run_and_leaves_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        assert!(run.is_empty().unwrap());
        std::fs::write(run.file(files::LOCK), b"1").unwrap();
        assert!(run.is_empty().unwrap(), "the lock alone is empty");
        for f in [files::METRICS, "state.json.tmp", "notes.txt"] {
            std::fs::write(run.file(f), b"x").unwrap();
        }
        std::fs::create_dir(run.file("checkpoint-3")).unwrap();
        assert!(!run.is_empty().unwrap());
        run.clear().unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec![".lock", "notes.txt"]);
    }
}
