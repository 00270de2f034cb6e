//! The [`Communicator`] of an MPI job (rsmpi on the system's MPI library,
//! e.g. Open MPI).
//!
//! MPI's blocking collectives wait for ever for a peer that stopped
//! answering without dying (a dead one ends the job through the launcher).
//! So each collective is started as a non-blocking one and polled against
//! a deadline; past it, the rank reports and aborts the job.
use super::{Communicator, DistError, Watch};
use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::datatype::{Equivalence, PartitionMut};
use mpi::environment::Universe;
use mpi::request::{Request, Scope};
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::Threading;
use std::time::{Duration, Instant};

/// Every process of the job, joined through `MPI_COMM_WORLD`.
pub(super) struct MpiWorld {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    watch: Watch,
    /// Finalises MPI when dropped, so it lives as long as `world`.
    _universe: Universe,
}

impl MpiWorld {
    /// Initialises MPI. Only the main thread calls MPI (`Funneled`); the
    /// kernels' own threads never do.
    pub(super) fn init(watch: Watch) -> Result<Self, DistError> {
        let (universe, _) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or(DistError::Init)?;
        let world = universe.world();
        let rank = usize::try_from(world.rank()).map_err(|_| DistError::Init)?;
        let size = usize::try_from(world.size()).map_err(|_| DistError::Init)?;
        Ok(Self {
            world,
            rank,
            size,
            watch,
            _universe: universe,
        })
    }

    /// A sum all-reduce of `send` into `recv` that gives up after the
    /// watch's timeout.
    fn sum<T: Equivalence>(&self, send: &[T], recv: &mut [T]) {
        mpi::request::scope(|scope| {
            let request =
                self.world
                    .immediate_all_reduce_into(scope, send, recv, SystemOperation::sum());
            self.complete(request, "an all-reduce");
        });
    }

    /// Polls `request` until it completes (see [`Self::pause`]).
    fn complete<'a, D: ?Sized, S: Scope<'a>>(&self, mut request: Request<'a, D, S>, what: &str) {
        let started = Instant::now();
        loop {
            match request.test() {
                Ok(_) => return,
                Err(pending) => request = pending,
            }
            self.pause(started, what);
        }
    }

    /// Waits a little before polling again: yields at first (a step's
    /// all-reduce usually completes within milliseconds), then sleeps;
    /// past the deadline, reports and ends the job.
    fn pause(&self, started: Instant, what: &str) {
        let waited = started.elapsed();
        if waited > self.watch.timeout {
            (self.watch.report)(&format!(
                "rank {} of {}: {what} waited {} s for the other ranks: one stopped answering (the limit is FNO_MPI_TIMEOUT)",
                self.rank,
                self.size,
                self.watch.timeout.as_secs()
            ));
            self.world.abort(2);
        }
        if waited < Duration::from_millis(20) {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Communicator for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum_f32(&self, send: &[f32]) -> Vec<f32> {
        let mut sum = vec![0.0; send.len()];
        self.sum(send, &mut sum);
        sum
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        let send = buf.to_vec();
        self.sum(&send, buf);
    }

    fn broadcast_f64(&self, root: usize, buf: &mut [f64]) {
        let root = i32::try_from(root).unwrap_or(0);
        mpi::request::scope(|scope| {
            let request = self
                .world
                .process_at_rank(root)
                .immediate_broadcast_into(scope, buf);
            self.complete(request, "a broadcast");
        });
    }

    fn all_gather_f64(&self, mine: &[f64]) -> Vec<Vec<f64>> {
        // The lengths first, so that every rank can size the receive
        // buffer and cut it back into the ranks' parts.
        let mut lengths = vec![0u64; self.size];
        let length = mine.len() as u64;
        mpi::request::scope(|scope| {
            let request = self
                .world
                .immediate_all_gather_into(scope, &length, &mut lengths[..]);
            self.complete(request, "an all-gather of lengths");
        });
        let counts: Vec<i32> = lengths
            .iter()
            .map(|&n| i32::try_from(n).unwrap_or(i32::MAX))
            .collect();
        let displs: Vec<i32> = counts
            .iter()
            .scan(0i32, |at, &n| {
                let start = *at;
                *at = at.saturating_add(n);
                Some(start)
            })
            .collect();
        let total = counts.iter().map(|&n| n.max(0) as usize).sum();
        let mut all = vec![0.0f64; total];
        let mut parts = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
        mpi::request::scope(|scope| {
            let request = self
                .world
                .immediate_all_gather_varcount_into(scope, mine, &mut parts);
            self.complete(request, "an all-gather");
        });
        let mut rest = &all[..];
        counts
            .iter()
            .map(|&n| {
                let (part, tail) = rest.split_at(n.max(0) as usize);
                rest = tail;
                part.to_vec()
            })
            .collect()
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    fn watch(&self) -> Option<Watch> {
        Some(self.watch)
    }
}
