//! A checkpoint: weights, optimizer state and `state.json`, committed
//! together.
use super::atomic::{rename, stage_with};
use super::{files, write_json, RunDir, RunDirError, Weights};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Current version of the run-directory format.
pub const FORMAT_VERSION: u32 = 1;

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
        }
    }
}

/// The files of one checkpoint, staged as temporaries beside their final
/// names until [`Checkpoint::commit`] renames them into place and writes
/// `state.json` last. Dropped uncommitted, it leaves the previous
/// checkpoint's files as they were (and its own temporaries behind).
///
/// Every write of a checkpoint goes through here, so that making the
/// commit atomic across files, or cleaning up temporaries, changes this
/// type alone.
pub struct Checkpoint<'a> {
    run: &'a RunDir,
    /// (temporary, final) paths.
    staged: Vec<(PathBuf, PathBuf)>,
}

impl<'a> Checkpoint<'a> {
    pub(super) fn new(run: &'a RunDir) -> Self {
        Self {
            run,
            staged: Vec::new(),
        }
    }

    /// Stages the model's weights as `which` (`model.safetensors` or
    /// `best.safetensors`).
    pub fn weights(&mut self, which: Weights, varmap: &VarMap) -> Result<(), RunDirError> {
        self.stage(which.file(), |path| varmap.save(path))
    }

    /// Stages `optimizer.safetensors` with the optimizer's own writer.
    pub fn optimizer<E: std::fmt::Display>(
        &mut self,
        save: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(), RunDirError> {
        self.stage(files::OPTIMIZER, save)
    }

    fn stage<E: std::fmt::Display>(
        &mut self,
        name: &str,
        write: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(), RunDirError> {
        let path = self.run.file(name);
        let tmp = stage_with(&path, write)?;
        self.staged.push((tmp, path));
        Ok(())
    }

    /// Renames the staged files into place, then writes `state`: the
    /// checkpoint exists once `state.json` says so.
    pub fn commit(self, state: &RunState) -> Result<(), RunDirError> {
        for (tmp, path) in &self.staged {
            rename(tmp, path)?;
        }
        write_json(&self.run.file(files::STATE), state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_written_last_and_staged_files_wait_for_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut ckpt = run.checkpoint();
        ckpt.optimizer(|p| std::fs::write(p, b"moments")).unwrap();
        assert!(
            !run.file(files::OPTIMIZER).exists(),
            "staged, not committed"
        );
        ckpt.commit(&RunState::start(7)).unwrap();
        assert_eq!(
            std::fs::read(run.file(files::OPTIMIZER)).unwrap(),
            b"moments"
        );
        assert_eq!(run.read_state().unwrap(), RunState::start(7));
        assert!(run.holds_run());
    }
}
