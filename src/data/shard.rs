//! Which part of each batch one process of a data-parallel job takes.
//!
//! Every process draws the same global order of samples (from the seed and
//! the epoch alone) and cuts it into the same global batches; process `r`
//! of `n` takes the `r`-th of `n` contiguous, near-equal parts of each
//! batch. So the samples a step sees, and their order within the step, do
//! not depend on the number of processes.

/// Part `rank` of `size` of every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's part, from 0.
    pub rank: usize,
    /// Number of parts.
    pub size: usize,
}

impl Shard {
    /// The whole batch: one process.
    pub const WHOLE: Shard = Shard { rank: 0, size: 1 };

    /// This shard's part of `batch`: `batch[rank·len/size .. (rank+1)·len/size]`,
    /// empty when the batch has fewer items than there are parts left.
    pub fn part<'a, T>(&self, batch: &'a [T]) -> &'a [T] {
        let size = self.size.max(1);
        let rank = self.rank.min(size - 1);
        let len = batch.len();
        &batch[rank * len / size..(rank + 1) * len / size]
    }
}

impl Default for Shard {
    fn default() -> Self {
        Self::WHOLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_batch_in_order() {
        for size in 1..5 {
            for len in 0..11 {
                let batch: Vec<usize> = (0..len).collect();
                let joined: Vec<usize> = (0..size)
                    .flat_map(|rank| Shard { rank, size }.part(&batch).to_vec())
                    .collect();
                assert_eq!(joined, batch, "{len} items in {size} parts");
                let lens: Vec<usize> = (0..size)
                    .map(|rank| Shard { rank, size }.part(&batch).len())
                    .collect();
                let (lo, hi) = (lens.iter().min(), lens.iter().max());
                assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{lens:?}");
            }
        }
    }
}
