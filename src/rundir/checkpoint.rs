//! A checkpoint: weights and optimizer state in their own directory,
//! published by one rename of `state.json`.
use super::atomic::{rename, stage_with, sync, write_synced};
use super::fault::{reach, Point};
use super::{files, RunDir, RunDirError, Weights};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Current version of the run-directory format: 2 keeps each checkpoint's
/// files in `checkpoint-<epoch>/`, named by `state.json`; 1 kept them
/// beside `state.json` (still read).
pub const FORMAT_VERSION: u32 = 2;

/// Progress of a run, saved with every checkpoint as `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Format version of the run directory.
    pub version: u32,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: u64,
    /// Seed of the run; each epoch's shuffle derives from (seed, epoch), so
    /// this is the whole RNG state.
    pub seed: u64,
    /// Best test loss so far, and the epoch it was reached.
    pub best: Option<(f64, usize)>,
    /// The directory, inside the run, that holds this checkpoint's files;
    /// none in format 1, whose files sit beside `state.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// What a run started from a pretrained one (`train.init_from`) took
    /// from it; none for a run initialised from its seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<InitRecord>,
}

/// The parts of a model a run copied from a pretrained run and the parts
/// it initialised afresh, saved in `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRecord {
    /// The pretrained run's directory.
    pub from: PathBuf,
    /// Which of its weights were read.
    pub weights: Weights,
    /// Parts copied from it (`trunk`, `lifting`, `projection`).
    pub copied: Vec<String>,
    /// Parts initialised from this run's seed because their shapes differ.
    pub fresh: Vec<String>,
}

impl RunState {
    /// The state of a run that has not finished an epoch.
    pub fn start(seed: u64) -> Self {
        Self {
            version: FORMAT_VERSION,
            epoch: 0,
            step: 0,
            seed,
            best: None,
            checkpoint: None,
            init: None,
        }
    }
}

/// The files of one checkpoint, written and flushed into a directory of
/// their own, `checkpoint-<epoch>/`, that no reader looks at until
/// [`Checkpoint::commit`] renames a `state.json` naming it into place.
/// Dropped uncommitted (a failed write, a full disk), it removes its
/// directory and leaves the previous checkpoint as it was; a directory a
/// crash left unpublished is removed by the next checkpoint.
pub struct Checkpoint<'a> {
    run: &'a RunDir,
    /// Its directory's name inside the run.
    name: String,
    /// Whether best weights were written into it.
    has_best: bool,
    /// Whether `state.json` names it: then it is kept when dropped.
    published: bool,
}

impl<'a> Checkpoint<'a> {
    /// Starts the checkpoint after `epoch` epochs in a fresh directory.
    pub(super) fn new(run: &'a RunDir, epoch: usize) -> Result<Self, RunDirError> {
        let name = format!("{}{epoch}", files::CHECKPOINT_PREFIX);
        let dir = run.file(&name);
        if run.committed_checkpoint()?.as_deref() == Some(name.as_str()) {
            return Err(RunDirError::format(&dir)(
                "is the committed checkpoint and cannot be rewritten".into(),
            ));
        }
        remove_dir(&dir)?;
        std::fs::create_dir(&dir).map_err(RunDirError::io(&dir))?;
        Ok(Self {
            run,
            name,
            has_best: false,
            published: false,
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.run.file(&self.name).join(file)
    }

    /// Writes the model's weights as `which` (`model.safetensors` or
    /// `best.safetensors`).
    pub fn weights(&mut self, which: Weights, varmap: &VarMap) -> Result<(), RunDirError> {
        self.has_best |= which == Weights::Best;
        write_synced(&self.path(which.file()), |path| varmap.save(path))
    }

    /// Writes `optimizer.safetensors` with the optimizer's own writer.
    pub fn optimizer<E: std::fmt::Display>(
        &mut self,
        save: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(), RunDirError> {
        write_synced(&self.path(files::OPTIMIZER), save)
    }

    /// Publishes the checkpoint: carries the previous best weights over if
    /// none were written, flushes the directory, renames a `state.json`
    /// naming it into place (the commit point), then removes the previous
    /// checkpoint's files.
    pub fn commit(mut self, state: &RunState) -> Result<(), RunDirError> {
        let path = self.run.file(files::STATE);
        if let Some((loss, epoch)) = state.best.filter(|(loss, _)| !loss.is_finite()) {
            // JSON has no NaN: it would be written as `null`, which no
            // resume could read back.
            return Err(RunDirError::format(&path)(format!(
                "the best test loss {loss} (epoch {epoch}) is not finite; the checkpoint is not published"
            )));
        }
        let previous = self.run.committed_checkpoint()?;
        if !self.has_best {
            self.carry_best()?;
        }
        let dir = self.run.file(&self.name);
        sync(&dir).map_err(RunDirError::io(&dir))?;
        let state = RunState {
            version: FORMAT_VERSION,
            checkpoint: Some(self.name.clone()),
            ..state.clone()
        };
        let text = serde_json::to_string_pretty(&state)
            .map_err(|e| RunDirError::format(&path)(e.to_string()))?;
        let tmp = stage_with(&path, |tmp| std::fs::write(tmp, &text))?;
        reach(Point::BeforePublish);
        rename(&tmp, &path)?;
        self.published = true;
        reach(Point::AfterPublish);
        reach(Point::BeforeRemove);
        remove_others(self.run, &self.name, previous.is_none())
    }

    /// Links (or copies) the committed best weights into this checkpoint.
    fn carry_best(&self) -> Result<(), RunDirError> {
        let from = self.run.checkpoint_file(files::BEST)?;
        if !from.exists() {
            return Ok(());
        }
        let to = self.path(files::BEST);
        if std::fs::hard_link(&from, &to).is_err() {
            write_synced(&to, |tmp| std::fs::copy(&from, tmp).map(drop))?;
        }
        Ok(())
    }
}

impl Drop for Checkpoint<'_> {
    fn drop(&mut self) {
        if !self.published {
            // Unpublished files are useless; one that cannot be removed now
            // is removed by the next checkpoint.
            let _ = std::fs::remove_dir_all(self.run.file(&self.name));
        }
    }
}

/// Removes every checkpoint directory but `keep`: the previous one and
/// any left unpublished by a crash; with `legacy`, after the first
/// checkpoint of a run in format 1, that format's files.
pub(super) fn remove_others(run: &RunDir, keep: &str, legacy: bool) -> Result<(), RunDirError> {
    let root = run.path();
    let entries = std::fs::read_dir(root).map_err(RunDirError::io(root))?;
    for entry in entries {
        let entry = entry.map_err(RunDirError::io(root))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(files::CHECKPOINT_PREFIX) && name != keep {
            remove_dir(&entry.path())?;
        }
    }
    if legacy {
        for file in [files::MODEL, files::BEST, files::OPTIMIZER] {
            let path = run.file(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RunDirError::io(&path)(e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Removes a directory and its contents; a missing one is fine.
fn remove_dir(dir: &Path) -> Result<(), RunDirError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RunDirError::io(dir)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_written_last_and_staged_files_wait_for_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut ckpt = run.checkpoint(1).unwrap();
        ckpt.optimizer(|p| std::fs::write(p, b"moments")).unwrap();
        assert!(!run.holds_run(), "written, not committed");
        let mut state = RunState::start(7);
        state.epoch = 1;
        ckpt.commit(&state).unwrap();
        let optimizer = run.checkpoint_file(files::OPTIMIZER).unwrap();
        assert_eq!(
            optimizer,
            dir.path().join("checkpoint-1/optimizer.safetensors")
        );
        assert_eq!(std::fs::read(optimizer).unwrap(), b"moments");
        let read = run.read_state().unwrap();
        assert_eq!(read.checkpoint.as_deref(), Some("checkpoint-1"));
        assert_eq!(read.epoch, 1);
    }

    #[test]
    fn a_commit_removes_the_previous_checkpoint_and_carries_best_over() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut first = run.checkpoint(1).unwrap();
        first
            .weights(Weights::Best, &candle_nn::VarMap::new())
            .unwrap();
        first.commit(&RunState::start(1)).unwrap();
        let best = std::fs::read(run.checkpoint_file(files::BEST).unwrap()).unwrap();
        // A directory a crash left unpublished.
        std::fs::create_dir(dir.path().join("checkpoint-9")).unwrap();
        let mut second = run.checkpoint(2).unwrap();
        second.optimizer(|p| std::fs::write(p, b"m")).unwrap();
        second.commit(&RunState::start(1)).unwrap();
        assert!(!dir.path().join("checkpoint-1").exists());
        assert!(!dir.path().join("checkpoint-9").exists());
        let carried = run.checkpoint_file(files::BEST).unwrap();
        assert_eq!(carried, dir.path().join("checkpoint-2/best.safetensors"));
        assert_eq!(std::fs::read(carried).unwrap(), best);
    }

    #[test]
    fn a_non_finite_best_loss_is_never_published() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut state = RunState::start(1);
        state.best = Some((f64::NAN, 0));
        let err = run.checkpoint(1).unwrap().commit(&state).unwrap_err();
        assert!(err.to_string().contains("not finite"), "{err}");
        assert!(!run.holds_run());
    }

    #[test]
    fn a_checkpoint_dropped_uncommitted_removes_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut ckpt = run.checkpoint(2).unwrap();
        ckpt.optimizer(|p| std::fs::write(p, b"m")).unwrap();
        let err = ckpt
            .optimizer(|_| Err::<(), _>("No space left on device (os error 28)"))
            .unwrap_err();
        assert!(err.to_string().contains("os error 28"), "{err}");
        drop(ckpt);
        assert!(!dir.path().join("checkpoint-2").exists());
    }

    #[test]
    fn the_committed_checkpoint_is_never_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        run.checkpoint(1)
            .unwrap()
            .commit(&RunState::start(1))
            .unwrap();
        assert!(run.checkpoint(1).is_err());
    }
}
