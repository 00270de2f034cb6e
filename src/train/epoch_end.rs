//! What both training loops (one data file, several sources) do when an
//! epoch ends: refuse a run that diverged, then record the epoch and
//! commit its checkpoint.
use super::optim::AdamW;
use super::TrainError;
use crate::rundir::{EpochRecord, RunDir, RunState, Weights};
use candle_nn::VarMap;

/// Epochs completed by the last committed checkpoint; none before the
/// first.
pub(super) fn committed_epochs(state: &RunState) -> Option<usize> {
    (state.epoch > 0).then_some(state.epoch)
}

/// Stops the run if the epoch left a non-finite weight or optimiser
/// moment, or one of `figures` (name, value) is not finite, naming the
/// first found (tensors first: they say where it broke); the last
/// committed checkpoint stays as it was.
pub(super) fn ensure_finite(
    optimizer: &AdamW,
    figures: &[(&str, f64)],
    record: &EpochRecord,
    state: &RunState,
) -> Result<(), TrainError> {
    let found = match optimizer.first_non_finite()? {
        Some(tensor) => Some(tensor),
        None => figures
            .iter()
            .find(|(_, v)| !v.is_finite())
            .map(|&(what, value)| (what.to_string(), value)),
    };
    match found {
        None => Ok(()),
        Some((what, value)) => Err(TrainError::Diverged {
            epoch: record.epoch,
            what,
            value,
            resumable: committed_epochs(state),
        }),
    }
}

/// Records the epoch `record` describes in `state` (best loss, epochs
/// done) and, if this process writes the run, saves its checkpoint: the
/// weights, the best weights if the test loss improved, the optimiser,
/// and `state.json` last.
pub(super) fn commit_epoch(
    run: &RunDir,
    state: &mut RunState,
    record: &EpochRecord,
    write: bool,
    varmap: &VarMap,
    optimizer: &AdamW,
) -> Result<(), TrainError> {
    let improved = state.best.is_none_or(|(b, _)| record.test_loss < b);
    if improved {
        state.best = Some((record.test_loss, record.epoch));
    }
    state.epoch = record.epoch + 1;
    if !write {
        return Ok(());
    }
    let mut checkpoint = run.checkpoint(record.epoch + 1)?;
    if improved {
        checkpoint.weights(Weights::Best, varmap)?;
    }
    checkpoint.weights(Weights::Last, varmap)?;
    checkpoint.optimizer(|path| optimizer.save(path))?;
    checkpoint.commit(state)?;
    Ok(())
}
