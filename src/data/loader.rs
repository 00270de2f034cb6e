//! Batches for training and evaluation, read ahead on a thread.
//!
//! Each epoch visits the selected samples in an order drawn from
//! `(seed, epoch)` alone, so a resumed run sees exactly the batches an
//! uninterrupted run would. A producer thread reads and assembles the next
//! batches while the caller computes on the current one.
use super::augment::{Augment, AugmentError};
use super::reader::{PdebenchFile, Resolution};
use super::shard::Shard;
use super::task::{Task, TaskError};
use super::window::{window_example, WindowIds};
use super::DataError;
use candle_core::{Device, Tensor};
use ndarray::{ArrayD, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::sync::mpsc;

/// A batch as the producer thread builds it: input, target, file indices.
type RawBatch = (ArrayD<f32>, ArrayD<f32>, Vec<usize>);

/// Batches queued ahead of the consumer.
const PREFETCH: usize = 2;

/// One batch, channels first.
#[derive(Debug)]
pub struct Batch {
    /// Model input `[B, C_in, grid...]`.
    pub input: Tensor,
    /// Target `[B, C_out, grid...]`.
    pub target: Tensor,
    /// File indices of the samples, in batch order.
    pub indices: Vec<usize>,
}

/// A failure while producing batches.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoaderError {
    /// Reading the file failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The task does not fit the sample.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// Samples in one batch have different shapes.
    #[error("samples in one batch differ in shape: {first:?} vs {other:?}")]
    Ragged {
        /// Shape of the first sample.
        first: Vec<usize>,
        /// Shape of the differing one.
        other: Vec<usize>,
    },
    /// A `train.augment` transform does not fit the samples.
    #[error(transparent)]
    Augment(#[from] AugmentError),
    /// Building the tensor failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
}

/// What to read and how to batch it.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// File indices to visit.
    pub indices: Vec<usize>,
    /// Samples per batch (the last batch may be smaller).
    pub batch_size: usize,
    /// Shuffle with this seed (combined with the epoch); `None` keeps order.
    pub shuffle_seed: Option<u64>,
    /// Epoch number, mixed into the shuffle.
    pub epoch: usize,
    /// Strides.
    pub resolution: Resolution,
    /// The task turning samples into pairs.
    pub task: Task,
    /// The part of each batch this process reads (data parallelism);
    /// batches whose part is empty are skipped.
    pub shard: Shard,
    /// `Some` when `indices` number windows of the window task rather
    /// than samples: each is read as that window's one-step pair.
    pub windows: Option<WindowIds>,
    /// Symmetries to transform each sample by (training batches only).
    pub augment: Option<Augment>,
}

impl BatchPlan {
    /// The visiting order of this epoch.
    pub fn order(&self) -> Vec<usize> {
        let mut order = self.indices.clone();
        if let Some(seed) = self.shuffle_seed {
            // SplitMix-style mixing so nearby epochs get unrelated streams.
            let mixed = seed
                ^ (self.epoch as u64)
                    .wrapping_add(1)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(mixed));
        }
        order
    }
}

/// Reads the batches of `plan` on a producer thread and hands each to
/// `consume` on this thread, as tensors on `device`.
pub fn for_each_batch<E: From<LoaderError>>(
    file: &PdebenchFile,
    plan: &BatchPlan,
    device: &Device,
    mut consume: impl FnMut(Batch) -> Result<(), E>,
) -> Result<(), E> {
    let order = plan.order();
    let batch_size = plan.batch_size.max(1);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Result<RawBatch, LoaderError>>(PREFETCH);
        scope.spawn(move || {
            for chunk in order.chunks(batch_size) {
                let part = plan.shard.part(chunk);
                if part.is_empty() {
                    continue;
                }
                let batch = assemble(file, part, plan);
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    return;
                }
            }
        });
        for item in rx {
            let (input, target, indices) = item?;
            let batch = Batch {
                input: to_tensor(input, device).map_err(LoaderError::from)?,
                target: to_tensor(target, device).map_err(LoaderError::from)?,
                indices,
            };
            // Returning drops the receiver: the producer stops at its next send.
            consume(batch)?;
        }
        Ok(())
    })
}

fn assemble(
    file: &PdebenchFile,
    indices: &[usize],
    plan: &BatchPlan,
) -> Result<RawBatch, LoaderError> {
    let mut inputs = Vec::with_capacity(indices.len());
    let mut targets = Vec::with_capacity(indices.len());
    if let Some(ids) = &plan.windows {
        // Each sample is read once however many of its windows the batch holds.
        let mut wanted: Vec<usize> = indices.iter().map(|&id| ids.locate(id).0).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let samples = file.read_samples(&wanted, &plan.resolution)?;
        for &id in indices {
            let (sample, start) = ids.locate(id);
            let at = wanted.iter().position(|&s| s == sample).unwrap_or_default();
            let ex = window_example(&samples[at], ids.n_in, ids.n_out, start)?;
            inputs.push(ex.input);
            targets.push(ex.target);
        }
    } else {
        for sample in &file.read_samples(indices, &plan.resolution)? {
            let ex = plan.task.example(sample)?;
            inputs.push(ex.input);
            targets.push(ex.target);
        }
    }
    if let Some(augment) = &plan.augment {
        // A space-time pair keeps time as its last grid axis.
        let time_axes = usize::from(matches!(plan.task, Task::SpaceTime));
        for ((input, target), &id) in inputs.iter_mut().zip(&mut targets).zip(indices) {
            let spatial = input.ndim().saturating_sub(1 + time_axes);
            augment.apply(id, spatial, input, target)?;
        }
    }
    Ok((stack(&inputs)?, stack(&targets)?, indices.to_vec()))
}

/// Stacks equally shaped arrays along a new leading axis.
pub fn stack(items: &[ArrayD<f32>]) -> Result<ArrayD<f32>, LoaderError> {
    let first = items
        .first()
        .map(|a| a.shape().to_vec())
        .unwrap_or_default();
    if let Some(other) = items.iter().find(|a| a.shape() != first.as_slice()) {
        return Err(LoaderError::Ragged {
            first,
            other: other.shape().to_vec(),
        });
    }
    let views: Vec<_> = items.iter().map(|a| a.view()).collect();
    ndarray::stack(Axis(0), &views).map_err(|_| LoaderError::Ragged {
        first: first.clone(),
        other: first,
    })
}

/// Moves a standard-layout array into a tensor without re-arranging it.
pub fn to_tensor(arr: ArrayD<f32>, device: &Device) -> candle_core::Result<Tensor> {
    let shape = arr.shape().to_vec();
    let data = if arr.is_standard_layout() {
        arr.into_raw_vec_and_offset().0
    } else {
        arr.as_standard_layout().iter().copied().collect()
    };
    Tensor::from_vec(data, shape, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(seed: Option<u64>, epoch: usize) -> BatchPlan {
        BatchPlan {
            indices: (0..10).collect(),
            batch_size: 4,
            shuffle_seed: seed,
            epoch,
            resolution: Resolution::default(),
            task: Task::default(),
            shard: Shard::WHOLE,
            windows: None,
            augment: None,
        }
    }

    #[test]
    fn order_is_a_seeded_permutation() {
        assert_eq!(plan(None, 3).order(), (0..10).collect::<Vec<_>>());
        let a = plan(Some(1), 0).order();
        assert_eq!(
            a,
            plan(Some(1), 0).order(),
            "same seed and epoch, same order"
        );
        assert_ne!(a, plan(Some(1), 1).order(), "another epoch, another order");
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn ragged_batches_are_an_error() {
        let a = ArrayD::<f32>::zeros(vec![2, 3]);
        let b = ArrayD::<f32>::zeros(vec![2, 4]);
        assert!(matches!(
            stack(&[a.clone(), b]),
            Err(LoaderError::Ragged { .. })
        ));
        assert_eq!(stack(&[a.clone(), a]).unwrap().shape(), &[2, 2, 3]);
    }
}
