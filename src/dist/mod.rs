//! Processes that work together: who they are and how they combine their
//! numbers.
//!
//! A [`Communicator`] is the group of processes one job runs as: its size,
//! this process's rank, and the collectives data-parallel training needs
//! (sum all-reduce, broadcast and all-gather of host buffers, and an abort that ends
//! every rank). [`Single`] is the group of one, with no MPI and no cost;
//! [`connect`] picks it unless an MPI launcher (`mpirun`, `srun`,
//! `mpiexec`) started several processes, in which case it joins them
//! through MPI (feature `mpi`). Domain parallelism (a distributed FFT) can
//! later run on the same communicator.
mod launch;
#[cfg(feature = "mpi")]
mod mpi;
#[cfg(feature = "nccl")]
mod nccl;
mod on_device;

use candle_core::{Device, Tensor};
pub use launch::{detect, gpu_of_local_rank, Launch};
#[cfg(feature = "nccl")]
pub use nccl::NcclOver;
pub use on_device::{for_device, OnDevice};
use std::time::Duration;

/// The collectives of a group of processes, on host buffers. Every rank
/// must make the same calls in the same order with buffers of the same
/// length; MPI's own errors end the job (its default).
pub trait Communicator {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// The element-wise sum over ranks of `send`, in a new buffer. Gradients
    /// travel this way because MPI without `MPI_IN_PLACE` (which rsmpi does
    /// not offer) would copy an in-place buffer first: a step's gradients
    /// are tens of megabytes, and each copy shows in the step time.
    fn all_reduce_sum_f32(&self, send: &[f32]) -> Vec<f32>;
    /// Replaces `buf` on every rank with the element-wise sum over ranks.
    fn all_reduce_sum_f64(&self, buf: &mut [f64]);
    /// Replaces `buf` on every rank with rank `root`'s.
    fn broadcast_f64(&self, root: usize, buf: &mut [f64]);
    /// Every rank's `mine`, in rank order, on every rank. The ranks' slices
    /// may differ in length (a rank with nothing to add sends an empty one).
    fn all_gather_f64(&self, mine: &[f64]) -> Vec<Vec<f64>>;
    /// Ends every process of the job with exit code `code`.
    fn abort(&self, code: i32) -> !;
    /// The element-wise sum over ranks of `flat`, a one-dimensional f32
    /// tensor on any device, as a tensor on that device. Unless a backend
    /// moves device buffers itself (NCCL), it stages them through host
    /// memory and [`Self::all_reduce_sum_f32`].
    fn all_reduce_sum_tensor(&self, flat: &Tensor) -> candle_core::Result<Tensor> {
        if self.size() == 1 {
            return Ok(flat.clone());
        }
        let len = flat.dims1()?;
        let sum = self.all_reduce_sum_f32(&flat.to_vec1::<f32>()?);
        Tensor::from_vec(sum, len, flat.device())
    }
    /// What carries [`Self::all_reduce_sum_tensor`] on `device`: `none`
    /// (one process), `mpi` (host buffers; device buffers staged through
    /// host memory) or `nccl`.
    fn backend(&self, device: &Device) -> &'static str {
        let _ = device;
        if self.size() == 1 {
            "none"
        } else {
            "mpi"
        }
    }
    /// How long a collective may wait for the other ranks and whom to tell
    /// before ending the job; `None` for a process on its own.
    fn watch(&self) -> Option<Watch> {
        None
    }
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
    fn all_reduce_sum_f32(&self, send: &[f32]) -> Vec<f32> {
        send.to_vec()
    }
    fn all_reduce_sum_f64(&self, _buf: &mut [f64]) {}
    fn broadcast_f64(&self, _root: usize, _buf: &mut [f64]) {}
    fn all_gather_f64(&self, mine: &[f64]) -> Vec<Vec<f64>> {
        vec![mine.to_vec()]
    }
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
    /// A launcher variable holds something that is not a count, or the
    /// timeout something that is not a positive number of seconds.
    #[error("environment variable {variable}={value:?} is not a valid count or number of seconds")]
    BadVariable {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
    },
}

/// The variable that sets how long a collective waits for the other ranks
/// before the job is ended, in seconds.
pub const TIMEOUT_VARIABLE: &str = "FNO_MPI_TIMEOUT";

/// How long a collective waits for the other ranks when
/// [`TIMEOUT_VARIABLE`] is not set: long enough for a slow epoch's
/// validation or checkpoint on another rank.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// What a rank does about peers that stop answering: how long a collective
/// waits, and how to report the rank's last words before it ends the job
/// (the library itself prints nothing).
#[derive(Clone, Copy)]
pub struct Watch {
    /// How long one collective may wait.
    pub timeout: Duration,
    /// Called once with the message before the job is aborted.
    pub report: fn(&str),
}

/// The group this process belongs to: [`Single`] unless a launcher
/// started several processes, then every process of the job through MPI,
/// whose collectives give up after [`TIMEOUT_VARIABLE`] seconds (default
/// [`DEFAULT_TIMEOUT`]), calling `report`. Call it once, early, from the
/// main thread; the communicator must live until the process ends
/// (dropping an MPI one finalises MPI).
pub fn connect(report: fn(&str)) -> Result<Box<dyn Communicator>, DistError> {
    let env = |name: &str| std::env::var(name).ok();
    let Some(launch) = detect(env)? else {
        return Ok(Box::new(Single));
    };
    let timeout = match env(TIMEOUT_VARIABLE) {
        None => DEFAULT_TIMEOUT,
        Some(value) => match value.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
            _ => {
                return Err(DistError::BadVariable {
                    variable: TIMEOUT_VARIABLE,
                    value,
                })
            }
        },
    };
    join(launch, Watch { timeout, report })
}

#[cfg(feature = "mpi")]
fn join(_launch: Launch, watch: Watch) -> Result<Box<dyn Communicator>, DistError> {
    Ok(Box::new(mpi::MpiWorld::init(watch)?))
}

#[cfg(not(feature = "mpi"))]
fn join(launch: Launch, _watch: Watch) -> Result<Box<dyn Communicator>, DistError> {
    Err(DistError::NoMpi {
        size: launch.size,
        variable: launch.variable,
    })
}
