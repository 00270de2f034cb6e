//! Atomic file writes: a temporary file next to the target, flushed to
//! disk, renamed over it, and the rename itself flushed. A write that
//! fails at any step (a full disk, a read-only file system) removes its
//! temporary and leaves the target as it was.
use super::fault::{reach, write_done, Point};
use super::RunDirError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename,
/// fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let staged = write_file(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = staged {
        remove_quietly(&tmp);
        return Err(e);
    }
    sync_parent(path)
}

/// Creates `path` with `bytes` and flushes it to disk.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    reach(Point::Written);
    write_done()?;
    reach(Point::BeforeFsync);
    f.sync_all()?;
    reach(Point::AfterFsync);
    Ok(())
}

/// Runs `write` on a temporary path next to `path`, then renames it into
/// place; for writers (safetensors, HDF5) that want a path, not bytes. A
/// failed writer leaves `path` untouched and no temporary.
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
    write_synced_as(&tmp, path, write)?;
    Ok(tmp)
}

/// Runs `write` on `path`, then flushes the file to disk; on failure the
/// file is removed.
pub(super) fn write_synced<E: std::fmt::Display>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), RunDirError> {
    write_synced_as(path, path, write)
}

/// [`write_synced`] of `file`, with errors reported against `named` (the
/// target a temporary stands for).
fn write_synced_as<E: std::fmt::Display>(
    file: &Path,
    named: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), RunDirError> {
    let written = write(file)
        .map_err(|e| RunDirError::format(named)(e.to_string()))
        .and_then(|()| {
            reach(Point::Written);
            write_done()
                .and_then(|()| sync(file))
                .map_err(RunDirError::io(named))
        });
    if written.is_err() {
        remove_quietly(file);
    }
    written
}

/// Renames a staged temporary file over its target and flushes the
/// rename; a failed rename removes the temporary.
pub(super) fn rename(tmp: &Path, path: &Path) -> Result<(), RunDirError> {
    if let Err(e) = std::fs::rename(tmp, path) {
        remove_quietly(tmp);
        return Err(RunDirError::io(path)(e));
    }
    sync_parent(path).map_err(RunDirError::io(path))
}

/// Removes a temporary left by a failed write. Failing to remove it
/// changes nothing for the caller, who reports the write's own error.
fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
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
        assert!(!dir.path().join("model.safetensors.tmp").exists());
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file.
        let p = dir.path().join("taken");
        std::fs::create_dir_all(p.join("inside")).unwrap();
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(err.raw_os_error().is_some(), "{err}");
        assert!(!dir.path().join("taken.tmp").exists());
        let r = write_atomic_with(&p, |tmp| std::fs::write(tmp, b"x"));
        assert!(matches!(r, Err(RunDirError::Io { .. })), "{r:?}");
        assert!(!dir.path().join("taken.tmp").exists());
    }
}
