//! Commands that run as one process or as the ranks of an MPI job
//! (`mpirun -np N fno train ...`): joining the job, sharing the node's
//! cores, and ending every rank when one fails.
use anyhow::Context;
use fno::dist::Communicator;
use std::io::Write;

/// Runs `command` on this process's rank of the job the launcher started
/// (a group of one without a launcher). When a rank of several fails, it
/// prints its error naming itself and ends every rank: the others would
/// wait in a collective for it.
pub(crate) fn run_as_job(
    command: impl FnOnce(&dyn Communicator) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let comm = fno::dist::connect(say_error).context("joining the processes of this job")?;
    let result = command(comm.as_ref());
    if comm.size() > 1 {
        if let Err(err) = &result {
            say_error(&format!("rank {} of {}: {err:#}", comm.rank(), comm.size()));
            comm.abort(2);
        }
    }
    result
}

/// Prints `error: message` to stderr in one write. The launcher merges the
/// ranks' stderr into one stream, and a line written piecewise (as
/// `eprintln!` writes its arguments) can interleave with another rank's;
/// one write of a line up to the pipe's atomic size (4 KiB) cannot.
fn say_error(message: &str) {
    let line = format!("error: {message}\n");
    // Nothing is left to tell the user if stderr itself fails.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The cores of this node shared by the ranks the launcher put on it, so
/// that N ranks on one machine do not each start a thread per core.
pub(crate) fn threads_per_rank() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let local = fno::dist::detect(|name| std::env::var(name).ok())
        .ok()
        .flatten()
        .and_then(|launch| launch.local_size)
        .unwrap_or(1);
    (cores / local.max(1)).max(1)
}
