//! JSON reports and JSON-lines logs, written atomically.
use super::{write_atomic, RunDirError};
use serde::Serialize;
use std::path::Path;

/// Creates a command's output directory and its parents.
pub fn create_dir(dir: &Path) -> Result<(), RunDirError> {
    std::fs::create_dir_all(dir).map_err(RunDirError::io(dir))
}

/// Whether `dir` holds anything (a missing directory holds nothing): the
/// commands refuse to write their results into a non-empty one unasked.
pub fn holds_files(dir: &Path) -> Result<bool, RunDirError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(RunDirError::io(dir)(e)),
    }
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), RunDirError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| RunDirError::format(path)(e.to_string()))?;
    write_atomic(path, text.as_bytes()).map_err(RunDirError::io(path))
}

/// Writes one compact JSON line per item to `path`, atomically.
pub fn write_json_lines<T: Serialize>(path: &Path, items: &[T]) -> Result<(), RunDirError> {
    let lines = items
        .iter()
        .map(|item| serde_json::to_string(item).map(|l| l + "\n"))
        .collect::<Result<String, _>>()
        .map_err(|e| RunDirError::format(path)(e.to_string()))?;
    write_atomic(path, lines.as_bytes()).map_err(RunDirError::io(path))
}
