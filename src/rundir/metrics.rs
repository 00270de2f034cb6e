//! `metrics.jsonl`: one [`EpochRecord`] per line, appended after each
//! epoch.
use super::fault::write_done;
use super::{write_atomic, RunDirError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 0.
    pub epoch: usize,
    /// Mean training loss (normalised units).
    pub train_loss: f64,
    /// Mean test loss (normalised units, same loss as training).
    pub test_loss: f64,
    /// Mean relative L2 error on the test set, in physical units.
    pub test_rel_l2: f64,
    /// Learning rate used in this epoch.
    pub lr: f64,
    /// Seconds spent in this epoch (training and testing).
    pub wall_s: f64,
    /// Training samples per second.
    pub samples_per_s: f64,
    /// A multi-source run's test loss and relative L2 error of each source
    /// (`val_loss/<source>`, `val_rel_l2/<source>`), beside the means over
    /// the sources above; empty otherwise.
    #[serde(flatten)]
    pub per_source: BTreeMap<String, f64>,
}

/// Appends `record` as one line and flushes it to disk; a failed write
/// (a full disk) cuts the file back to its earlier length, so no partial
/// line is left.
pub(super) fn append(path: &Path, record: &EpochRecord) -> Result<(), RunDirError> {
    let line =
        serde_json::to_string(record).map_err(|e| RunDirError::format(path)(e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(RunDirError::io(path))?;
    let before = f.metadata().map_err(RunDirError::io(path))?.len();
    let written = writeln!(f, "{line}")
        .and_then(|()| write_done())
        .and_then(|()| f.sync_data());
    if let Err(e) = written {
        // The write's own error is the one to report; a failed cut leaves
        // a partial line that reading skips.
        let _ = f.set_len(before);
        return Err(RunDirError::io(path)(e));
    }
    Ok(())
}

pub(super) fn truncate(path: &Path, epochs_done: usize) -> Result<(), RunDirError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| serde_json::from_str::<EpochRecord>(l).is_ok_and(|r| r.epoch < epochs_done))
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, kept.as_bytes()).map_err(RunDirError::io(path))
}

pub(super) fn read(path: &Path) -> Vec<EpochRecord> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0,
            test_loss: 2.0,
            test_rel_l2: 0.5,
            lr: 1e-3,
            wall_s: 1.0,
            samples_per_s: 10.0,
            per_source: BTreeMap::new(),
        }
    }

    #[test]
    fn truncation_keeps_the_epochs_of_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        for epoch in 0..3 {
            append(&path, &record(epoch)).unwrap();
        }
        truncate(&path, 2).unwrap();
        assert_eq!(read(&path), vec![record(0), record(1)]);
    }
}
