//! The entry points of training: one data file (`trainer`) or several
//! (`multi`), chosen here so that neither loop needs to know the other.
use super::config::RunConfig;
use super::multi::train_sources;
use super::trainer::{train_one_source, Progress, Start, TrainReport};
use super::TrainError;
use crate::dist::{Communicator, Single};
use candle_core::Device;
use std::path::Path;

/// Trains a model as `cfg` says on `device`, writing the run into `out`.
/// With [`Start::Resume`] it continues a run in `out` from its last
/// checkpoint, exactly as if it had not stopped (same batches, same
/// optimiser state). The run directory is locked for the whole run; a
/// resume that fails before its first epoch completes changes nothing on
/// disk.
pub fn train(
    cfg: &RunConfig,
    out: &Path,
    start: Start,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<TrainReport, TrainError> {
    train_with(cfg, out, start, device, progress, &Single)
}

/// [`train`], data-parallel over the processes of `comm`: every rank holds
/// the whole model and takes its part of each global batch
/// (`train.batch_size` stays the global batch, which the number of
/// processes must divide); the gradients are summed over ranks before the
/// same AdamW step on each. Rank 0 alone locks and writes the run
/// directory and reports progress; the others read it when resuming. An
/// error on any rank must end every rank (the caller aborts the job). A
/// config with `[[data.sources]]` trains one trunk on every source.
pub fn train_with(
    cfg: &RunConfig,
    out: &Path,
    start: Start,
    device: &Device,
    progress: &mut dyn Progress,
    comm: &dyn Communicator,
) -> Result<TrainReport, TrainError> {
    if cfg.data.sources.is_empty() {
        train_one_source(cfg, out, start, device, progress, comm)
    } else {
        train_sources(cfg, out, start, device, progress, comm)
    }
}
