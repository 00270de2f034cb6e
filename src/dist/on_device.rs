//! The communicator a run on one device sums its gradients with: NCCL when
//! the ranks each drive a GPU of their own and fno was built with it
//! (feature `nccl`), otherwise the job's own communicator, which stages
//! device buffers through host memory.
use super::Communicator;
use candle_core::Device;

/// A job's communicator as seen from one device, with the reason it is
/// not NCCL where NCCL could have been expected.
pub struct OnDevice<'a> {
    group: Group<'a>,
    note: Option<String>,
}

enum Group<'a> {
    Plain(&'a dyn Communicator),
    #[cfg(feature = "nccl")]
    Nccl(super::NcclOver<'a>),
}

impl<'a> OnDevice<'a> {
    /// The communicator to hand to training: every collective of `comm`,
    /// with device buffers summed by NCCL where it runs.
    pub fn comm(&self) -> &dyn Communicator {
        match &self.group {
            Group::Plain(comm) => *comm,
            #[cfg(feature = "nccl")]
            Group::Nccl(nccl) => nccl,
        }
    }

    /// Why a multi-rank CUDA run sums its gradients through host memory
    /// (a warning for the user), if it does.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    fn plain(comm: &'a dyn Communicator, note: Option<String>) -> Self {
        Self {
            group: Group::Plain(comm),
            note,
        }
    }
}

/// The communicator the ranks of `comm` sum gradients on `device` with.
/// Every rank must call it, at the same point: choosing NCCL is itself a
/// collective decision (the ranks compare their GPUs, rank 0 hands out
/// NCCL's id). One process, or a run on the CPU, keeps `comm` as it is.
pub fn for_device<'a>(comm: &'a dyn Communicator, device: &Device) -> OnDevice<'a> {
    if comm.size() == 1 || !device.is_cuda() {
        return OnDevice::plain(comm, None);
    }
    choose(comm, device)
}

#[cfg(feature = "nccl")]
fn choose<'a>(comm: &'a dyn Communicator, device: &Device) -> OnDevice<'a> {
    match super::NcclOver::join(comm, device) {
        Ok(nccl) => OnDevice {
            group: Group::Nccl(nccl),
            note: None,
        },
        Err(why) => OnDevice::plain(
            comm,
            Some(format!(
                "{why}; gradients are summed through host memory over MPI instead"
            )),
        ),
    }
}

#[cfg(not(feature = "nccl"))]
fn choose<'a>(comm: &'a dyn Communicator, _device: &Device) -> OnDevice<'a> {
    OnDevice::plain(
        comm,
        Some(
            "this fno was built without NCCL (feature `nccl`): gradients are summed \
             through host memory over MPI"
                .into(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Single;

    #[test]
    fn one_process_or_the_cpu_keeps_the_communicator_as_it_is() {
        let group = for_device(&Single, &Device::Cpu);
        assert!(group.note().is_none());
        assert_eq!(group.comm().size(), 1);
        assert_eq!(group.comm().backend(&Device::Cpu), "none");
    }
}
