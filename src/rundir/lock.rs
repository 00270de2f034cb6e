//! One writer per run directory: an advisory lock on `RUN/.lock`.
use super::{files, RunDir, RunDirError};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;

/// Held by the process writing a run; the lock is released when it is
/// dropped or the process ends, however it ends.
#[derive(Debug)]
pub struct RunLock {
    /// Keeps the locked descriptor open.
    _file: std::fs::File,
}

/// Takes the lock of `run`, creating the directory if needed; a run
/// locked by another process is an [`RunDirError::InUse`] naming it.
pub(super) fn lock(run: &RunDir) -> Result<RunLock, RunDirError> {
    run.create()?;
    let path = run.file(files::LOCK);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(RunDirError::io(&path))?;
    // SAFETY: flock on a descriptor this function owns; it has no memory
    // effects.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(RunDirError::io(&path)(err));
        }
        let mut holder = String::new();
        // The holder's id is only for the message; unreadable, it is left out.
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(RunDirError::InUse {
            dir: run.path().to_path_buf(),
            holder: if holder.is_empty() {
                "another process".into()
            } else {
                format!("process {holder}")
            },
        });
    }
    let write_pid = |file: &mut std::fs::File| -> std::io::Result<()> {
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())
    };
    write_pid(&mut file).map_err(RunDirError::io(&path))?;
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_the_first_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        let held = run.lock().unwrap();
        // flock locks belong to the open file description: a second open
        // in the same process conflicts like another process would.
        let err = run.lock().unwrap_err().to_string();
        let pid = std::process::id();
        assert!(
            err.contains(&format!("is in use by process {pid}")),
            "{err}"
        );
        drop(held);
        run.lock().unwrap();
    }
}
