//! The [`Communicator`] of an MPI job (rsmpi on the system's MPI library,
//! e.g. Open MPI).
use super::{Communicator, DistError};
use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::Threading;

/// Every process of the job, joined through `MPI_COMM_WORLD`.
pub(super) struct MpiWorld {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// Finalises MPI when dropped, so it lives as long as `world`.
    _universe: Universe,
}

impl MpiWorld {
    /// Initialises MPI. Only the main thread calls MPI (`Funneled`); the
    /// kernels' own threads never do.
    pub(super) fn init() -> Result<Self, DistError> {
        let (universe, _) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or(DistError::Init)?;
        let world = universe.world();
        let rank = usize::try_from(world.rank()).map_err(|_| DistError::Init)?;
        let size = usize::try_from(world.size()).map_err(|_| DistError::Init)?;
        Ok(Self {
            world,
            rank,
            size,
            _universe: universe,
        })
    }
}

impl Communicator for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum_f32(&self, buf: &mut [f32]) {
        let send = buf.to_vec();
        self.world
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
    }

    fn all_reduce_sum_f64(&self, buf: &mut [f64]) {
        let send = buf.to_vec();
        self.world
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
    }

    fn broadcast_f64(&self, root: usize, buf: &mut [f64]) {
        let root = i32::try_from(root).unwrap_or(0);
        self.world.process_at_rank(root).broadcast_into(buf);
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
