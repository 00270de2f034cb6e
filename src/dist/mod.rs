//! Processes that work together: who they are and how they combine their
//! numbers.
//!
//! A [`Communicator`] is the group of processes one job runs as: its size,
//! this process's rank, and the collectives data-parallel training needs
//! (sum all-reduce and broadcast of host buffers, and an abort that ends
//! every rank). [`Single`] is the group of one, with no MPI and no cost;
//! [`connect`] picks it unless an MPI launcher (`mpirun`, `srun`,
//! `mpiexec`) started several processes, in which case it joins them
//! through MPI (feature `mpi`). Domain parallelism (a distributed FFT) can
//! later run on the same communicator.
mod launch;
#[cfg(feature = "mpi")]
mod mpi;

pub use launch::{detect, Launch};

/// The collectives of a group of processes, on host buffers. Every rank
/// must make the same calls in the same order with buffers of the same
/// length; MPI's own errors end the job (its default).
pub trait Communicator {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` on every rank with the element-wise sum over ranks.
    fn all_reduce_sum_f32(&self, buf: &mut [f32]);
    /// Replaces `buf` on every rank with the element-wise sum over ranks.
    fn all_reduce_sum_f64(&self, buf: &mut [f64]);
    /// Replaces `buf` on every rank with rank `root`'s.
    fn broadcast_f64(&self, root: usize, buf: &mut [f64]);
    /// Ends every process of the job with exit code `code`.
    fn abort(&self, code: i32) -> !;
    /// Whether this rank writes shared outputs (the run directory, reports,
    /// progress): rank 0.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// One process on its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Single;

impl Communicator for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum_f32(&self, _buf: &mut [f32]) {}
    fn all_reduce_sum_f64(&self, _buf: &mut [f64]) {}
    fn broadcast_f64(&self, _root: usize, _buf: &mut [f64]) {}
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// Why the processes of a job could not be joined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistError {
    /// A launcher started several processes but this build has no MPI.
    #[error("started as one of {size} processes ({variable} is set) but this fno was built without MPI (feature `mpi`)")]
    NoMpi {
        /// The number of processes the launcher announced.
        size: usize,
        /// The environment variable that said so.
        variable: &'static str,
    },
    /// MPI could not be initialised.
    #[error("MPI could not be initialised (was it initialised already?)")]
    Init,
    /// A launcher variable holds something that is not a count.
    #[error("environment variable {variable}={value:?} is not a process count or rank")]
    BadVariable {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
    },
}

/// The group this process belongs to: [`Single`] unless a launcher
/// started several processes, then every process of the job through MPI.
/// Call it once, early, from the main thread; the communicator must live
/// until the process ends (dropping an MPI one finalises MPI).
pub fn connect() -> Result<Box<dyn Communicator>, DistError> {
    let launch = detect(|name| std::env::var(name).ok())?;
    match launch {
        None => Ok(Box::new(Single)),
        Some(launch) => join(launch),
    }
}

#[cfg(feature = "mpi")]
fn join(_launch: Launch) -> Result<Box<dyn Communicator>, DistError> {
    Ok(Box::new(mpi::MpiWorld::init()?))
}

#[cfg(not(feature = "mpi"))]
fn join(launch: Launch) -> Result<Box<dyn Communicator>, DistError> {
    Err(DistError::NoMpi {
        size: launch.size,
        variable: launch.variable,
    })
}

/// The sum over ranks of one number.
pub fn sum(comm: &dyn Communicator, value: f64) -> f64 {
    let mut buf = [value];
    comm.all_reduce_sum_f64(&mut buf);
    buf[0]
}
