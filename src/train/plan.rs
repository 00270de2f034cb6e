//! The data a single-file run trains on, resolved once ([`Plan`]), and how
//! the ranks of a data-parallel job share it: each rank's part
//! ([`shard_of`]) and normaliser statistics merged over ranks
//! ([`merged_over_ranks`]). Below the training loop and the window task,
//! which both use it.
use crate::data::shard::Shard;
use crate::data::window::WindowIds;
use crate::data::{NormalizerFit, PdebenchFile};
use crate::dist::Communicator;

/// The data of a run: files, indices and shapes, resolved once.
pub(super) struct Plan {
    pub(super) train_file: PdebenchFile,
    pub(super) test_file: Option<PdebenchFile>,
    pub(super) train_indices: Vec<usize>,
    /// Training-split samples whose targets are not used (physics only).
    pub(super) unlabelled_indices: Vec<usize>,
    pub(super) test_indices: Vec<usize>,
    pub(super) steps: usize,
    /// The window task's numbering of the training and test files' windows.
    pub(super) windows: Option<(WindowIds, WindowIds)>,
}

impl Plan {
    pub(super) fn test_file(&self) -> &PdebenchFile {
        self.test_file.as_ref().unwrap_or(&self.train_file)
    }
}

/// This process's part of each batch (and of the training samples).
pub(super) fn shard_of(comm: &dyn Communicator) -> Shard {
    Shard {
        rank: comm.rank(),
        size: comm.size(),
    }
}

/// Every rank's `fit` merged in rank order: each rank writes its moments
/// into its own slot of a zeroed buffer and a sum all-reduce hands every
/// rank all the slots.
pub(super) fn merged_over_ranks(
    fit: &NormalizerFit,
    channels: usize,
    comm: &dyn Communicator,
) -> NormalizerFit {
    let parts = fit.to_parts();
    let width = parts.len();
    let mut slots = vec![0.0; width * comm.size()];
    slots[comm.rank() * width..(comm.rank() + 1) * width].copy_from_slice(&parts);
    comm.all_reduce_sum_f64(&mut slots);
    let mut merged = NormalizerFit::new(channels);
    for slot in slots.chunks(width.max(1)) {
        merged.merge(&NormalizerFit::from_parts(channels, slot));
    }
    merged
}
