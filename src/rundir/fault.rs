//! Fault injection for tests of crash and full-disk safety.
//!
//! `FNO_FAULT_INJECT=checkpoint:<point>:<n>` aborts the process, as if
//! killed, the `n`-th time (from 1) it reaches `<point>` of a
//! checkpoint's write; the points are the moments a kill can separate: see
//! [`Point`]. `FNO_FAULT_INJECT=disk-full:<n>` makes the `n`-th file write
//! through the run-directory writers, and every later one, fail with
//! ENOSPC after its bytes were handed to the file (as a full disk reports
//! at the flush), so the writer's clean-up runs.
//! `FNO_FAULT_INJECT=hang:<point>:<n>` stops the process there without
//! ending it, as a stuck peer of a data-parallel job. Without the variable
//! every point is a no-op.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The variable that arms a fault.
pub const VARIABLE: &str = "FNO_FAULT_INJECT";

/// A moment in the write of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Point {
    /// A file of the checkpoint (or `state.json.tmp`) has been written.
    Written,
    /// Before an fsync of a file or directory.
    BeforeFsync,
    /// After an fsync of a file or directory.
    AfterFsync,
    /// Before the rename of `state.json` that publishes the checkpoint.
    BeforePublish,
    /// After that rename.
    AfterPublish,
    /// Before the previous checkpoint's directory is removed.
    BeforeRemove,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Self::Written => "written",
            Self::BeforeFsync => "before-fsync",
            Self::AfterFsync => "after-fsync",
            Self::BeforePublish => "before-publish",
            Self::AfterPublish => "after-publish",
            Self::BeforeRemove => "before-remove",
        }
    }
}

/// The fault `FNO_FAULT_INJECT` arms.
enum Fault {
    /// Abort at the named point's `n`-th occurrence.
    Kill(String, usize),
    /// Stop responding (sleep for ever) at the named point's `n`-th
    /// occurrence.
    Hang(String, usize),
    /// Fail the `n`-th file write and every later one.
    DiskFull(usize),
}

fn parse(spec: &str) -> Option<Fault> {
    if let Some(n) = spec.strip_prefix("disk-full:") {
        return Some(Fault::DiskFull(n.parse().ok()?));
    }
    if let Some(rest) = spec.strip_prefix("hang:") {
        let (point, n) = rest.rsplit_once(':')?;
        return Some(Fault::Hang(point.to_string(), n.parse().ok()?));
    }
    let rest = spec.strip_prefix("checkpoint:")?;
    let (point, n) = rest.rsplit_once(':')?;
    Some(Fault::Kill(point.to_string(), n.parse().ok()?))
}

fn armed() -> Option<&'static Fault> {
    static ARMED: OnceLock<Option<Fault>> = OnceLock::new();
    ARMED
        .get_or_init(|| parse(&std::env::var(VARIABLE).ok()?))
        .as_ref()
}

/// Aborts (or hangs) the process if `point` is armed and reached for the
/// armed time.
pub(super) fn reach(point: Point) {
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let (name, n, hang) = match armed() {
        Some(Fault::Kill(name, n)) => (name, n, false),
        Some(Fault::Hang(name, n)) => (name, n, true),
        _ => return,
    };
    if name == point.name() && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        if !hang {
            std::process::abort();
        }
        // A process that stops answering without dying (a rank of a
        // data-parallel job stuck on a file system, say).
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// Counts one file write; fails it with ENOSPC from the armed write on.
pub(super) fn write_done() -> std::io::Result<()> {
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let Some(Fault::DiskFull(n)) = armed() else {
        return Ok(());
    };
    if WRITES.fetch_add(1, Ordering::SeqCst) + 1 >= *n {
        return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_nonsense_arms_nothing() {
        assert!(matches!(parse("disk-full:3"), Some(Fault::DiskFull(3))));
        assert!(
            matches!(parse("checkpoint:before-publish:2"), Some(Fault::Kill(p, 2)) if p == "before-publish")
        );
        assert!(
            matches!(parse("hang:after-publish:1"), Some(Fault::Hang(p, 1)) if p == "after-publish")
        );
        for bad in [
            "disk-full:x",
            "hang:written",
            "disk-full",
            "checkpoint:written",
            "other:1",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
