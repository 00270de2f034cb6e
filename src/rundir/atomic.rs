//! Atomic file writes: a temporary file next to the target, flushed to
//! disk, renamed over it, and the rename itself flushed.
use super::fault::{reach, Point};
use super::RunDirError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename,
/// fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        reach(Point::Written);
        reach(Point::BeforeFsync);
        f.sync_all()?;
        reach(Point::AfterFsync);
    }
    std::fs::rename(&tmp, path)?;
    sync_parent(path)
}

/// Runs `write` on a temporary path next to `path`, then renames it into
/// place; for writers (safetensors, HDF5) that want a path, not bytes. A
/// failed writer leaves `path` untouched.
pub fn write_atomic_with<E: std::fmt::Display>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), RunDirError> {
    let tmp = stage_with(path, write)?;
    rename(&tmp, path)
}

/// Runs `write` on the temporary path of `path` and returns that path,
/// leaving the rename to the caller.
pub(super) fn stage_with<E: std::fmt::Display>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<PathBuf, RunDirError> {
    let tmp = tmp_path(path);
    write_synced(&tmp, write)?;
    Ok(tmp)
}

/// Runs `write` on `path`, then flushes the file to disk.
pub(super) fn write_synced<E: std::fmt::Display>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), RunDirError> {
    write(path).map_err(|e| RunDirError::format(path)(e.to_string()))?;
    reach(Point::Written);
    sync(path).map_err(RunDirError::io(path))
}

/// Renames a staged temporary file over its target and flushes the
/// rename.
pub(super) fn rename(tmp: &Path, path: &Path) -> Result<(), RunDirError> {
    std::fs::rename(tmp, path).map_err(RunDirError::io(path))?;
    sync_parent(path).map_err(RunDirError::io(path))
}

/// Flushes a file, or a directory's entries, to disk.
pub(super) fn sync(path: &Path) -> std::io::Result<()> {
    reach(Point::BeforeFsync);
    std::fs::File::open(path)?.sync_all()?;
    reach(Point::AfterFsync);
    Ok(())
}

/// Flushes the directory holding `path`, so that a rename into it
/// survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync(dir),
        _ => sync(Path::new(".")),
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn failed_writer_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.safetensors");
        write_atomic(&p, b"good").unwrap();
        let r = write_atomic_with(&p, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err::<(), _>("disk full")
        });
        assert!(
            matches!(&r, Err(RunDirError::Format { reason, .. }) if reason == "disk full"),
            "{r:?}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"good");
    }
}
