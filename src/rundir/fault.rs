//! Fault injection for tests of crash safety: the process aborts, as if
//! killed, at a named point of a checkpoint's write.
//!
//! `FNO_FAULT_INJECT=checkpoint:<point>:<n>` aborts the process the `n`-th
//! time (from 1) it reaches `<point>`; without the variable every point is
//! a no-op. The points are the moments a kill can separate: see
//! [`Point`].
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

/// The armed point's name and the occurrence that aborts.
fn armed() -> Option<&'static (String, usize)> {
    static ARMED: OnceLock<Option<(String, usize)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(VARIABLE).ok()?;
            let rest = spec.strip_prefix("checkpoint:")?;
            let (point, n) = rest.rsplit_once(':')?;
            Some((point.to_string(), n.parse().ok()?))
        })
        .as_ref()
}

/// Aborts the process if `point` is armed and reached for the armed time.
pub(super) fn reach(point: Point) {
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let Some((name, n)) = armed() else {
        return;
    };
    if name == point.name() && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        std::process::abort();
    }
}
