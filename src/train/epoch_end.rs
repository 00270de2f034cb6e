//! What both training loops (one data file, several sources) share: the
//! update that ends a step (gradients summed over ranks, clipped, AdamW),
//! why a step failed, and the end of an epoch (refuse a run that diverged,
//! record the epoch, commit its checkpoint).
use super::all_reduce::all_reduce_gradients;
use super::optim::{clip_grad_norm, AdamW};
use super::TrainError;
use crate::dist::Communicator;
use crate::rundir::{files, EpochRecord, RunDir, RunDirError, RunState, Weights};
use candle_core::backprop::GradStore;
use candle_core::Var;
use candle_nn::VarMap;

/// Why a training step failed: a non-finite loss, which [`StepError::at`]
/// turns into [`TrainError::Diverged`] with the epoch and step, or any
/// other error.
pub(super) enum StepError {
    NonFiniteLoss(f64),
    Other(TrainError),
}

impl<E: Into<TrainError>> From<E> for StepError {
    fn from(e: E) -> Self {
        Self::Other(e.into())
    }
}

impl StepError {
    /// The error of the step after `state.step` steps in `epoch`, on a
    /// batch of source `source` in a multi-source run.
    pub(super) fn at(self, epoch: usize, state: &RunState, source: Option<&str>) -> TrainError {
        match self {
            Self::NonFiniteLoss(value) => TrainError::Diverged {
                epoch,
                what: match source {
                    None => format!("the training loss at step {}", state.step),
                    Some(source) => format!(
                        "the training loss at step {} (a batch of source {source:?})",
                        state.step
                    ),
                },
                value,
                resumable: committed_epochs(state),
            },
            Self::Other(e) => e,
        }
    }
}

/// Sums `grads` and the batch's `loss` over the ranks of `comm`, clips
/// the gradients to `grad_clip` (none when 0) and takes the AdamW step;
/// returns the summed loss.
pub(super) fn update(
    comm: &dyn Communicator,
    optimizer: &mut AdamW,
    vars: &[Var],
    mut grads: GradStore,
    loss: f64,
    lr: f64,
    grad_clip: f64,
) -> Result<f64, StepError> {
    let loss = all_reduce_gradients(comm, &mut grads, vars, loss)?;
    if !loss.is_finite() {
        return Err(StepError::NonFiniteLoss(loss));
    }
    if grad_clip > 0.0 {
        clip_grad_norm(&mut grads, vars, grad_clip)?;
    }
    optimizer.step(&grads, lr)?;
    Ok(loss)
}

/// Epochs completed by the last committed checkpoint; none before the
/// first.
fn committed_epochs(state: &RunState) -> Option<usize> {
    (state.epoch > 0).then_some(state.epoch)
}

/// Stops the run if the epoch left a non-finite weight, optimiser moment
/// or test figure, naming the first found (tensors first: they say where
/// it broke); the last committed checkpoint stays as it was.
pub(super) fn ensure_finite(
    optimizer: &AdamW,
    record: &EpochRecord,
    state: &RunState,
) -> Result<(), TrainError> {
    let figures = [
        ("the test loss", record.test_loss),
        ("the test relative L2 error", record.test_rel_l2),
    ];
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

/// Reads the last checkpoint's state, weights and optimiser back into
/// `varmap` and `optimizer` (reads only), refusing a checkpoint whose
/// optimiser step disagrees with `state.json`.
pub(super) fn load_checkpoint(
    run: &RunDir,
    varmap: &mut VarMap,
    optimizer: &mut AdamW,
) -> Result<RunState, TrainError> {
    let state = run.read_state()?;
    run.load_weights(varmap, Weights::Last)?;
    run.read_with(files::OPTIMIZER, |path| optimizer.load(path))?;
    if optimizer.steps() != state.step {
        return Err(RunDirError::Format {
            path: run.file(files::OPTIMIZER),
            reason: format!(
                "optimizer is at step {} but state.json says {}: the checkpoint is inconsistent",
                optimizer.steps(),
                state.step
            ),
        }
        .into());
    }
    Ok(state)
}
