//! The batches of one epoch of a multi-source run: which source each step
//! draws from, and which of its samples.
//!
//! An epoch has as many steps as one pass over every source's training
//! samples takes (the sum of each source's batch count). The steps are
//! shared out over the sources in proportion to their weights (largest
//! remainders, so the counts are exact) and the sources' turns are
//! shuffled. Each source deals its batches from its own shuffled order,
//! reshuffled for another pass when a heavy source runs out. Everything is
//! drawn from `(seed, epoch)` alone: a resumed run repeats an
//! uninterrupted one, and every process of a data-parallel job draws the
//! same global batches and takes its part of each (`data::shard`).
use crate::seeds::mix;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One step's global batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledBatch {
    /// The source it comes from (index into `data.sources`).
    pub source: usize,
    /// Sample indices in that source's training file, in batch order.
    pub indices: Vec<usize>,
}

/// The batches of `epoch`: `train[s]` are source `s`'s training samples,
/// `weights[s]` its share of the steps.
pub fn epoch_schedule(
    train: &[&[usize]],
    weights: &[f64],
    batch_size: usize,
    seed: u64,
    epoch: usize,
) -> Vec<ScheduledBatch> {
    let batch_size = batch_size.max(1);
    let steps: usize = train.iter().map(|t| t.len().div_ceil(batch_size)).sum();
    let counts = apportion(steps, weights);
    let mut turns: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(source, &n)| std::iter::repeat_n(source, n))
        .collect();
    turns.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(&[
        seed,
        epoch as u64,
        u64::MAX,
    ])));
    let mut dealt: Vec<std::vec::IntoIter<Vec<usize>>> = train
        .iter()
        .enumerate()
        .map(|(source, samples)| {
            deal(samples, counts[source], batch_size, seed, epoch, source).into_iter()
        })
        .collect();
    turns
        .into_iter()
        .filter_map(|source| {
            let indices = dealt[source].next()?;
            Some(ScheduledBatch { source, indices })
        })
        .collect()
}

/// `count` batches of `samples`: shuffled passes, each cut into batches
/// (the last of a pass may be smaller), as many passes as needed.
fn deal(
    samples: &[usize],
    count: usize,
    batch_size: usize,
    seed: u64,
    epoch: usize,
    source: usize,
) -> Vec<Vec<usize>> {
    let mut batches = Vec::with_capacity(count);
    let mut pass = 0u64;
    while batches.len() < count && !samples.is_empty() {
        let mut order = samples.to_vec();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(&[
            seed,
            epoch as u64,
            source as u64,
            pass,
        ])));
        for chunk in order.chunks(batch_size) {
            if batches.len() == count {
                break;
            }
            batches.push(chunk.to_vec());
        }
        pass += 1;
    }
    batches
}

/// `total` shared out in proportion to `weights`: each share rounded down,
/// then one more to the largest remainders (earlier sources first on
/// ties), so the shares add up to `total`.
fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let given: usize = counts.iter().sum();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in by_remainder
        .iter()
        .cycle()
        .take(total.saturating_sub(given))
    {
        counts[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shard::Shard;

    fn counts(schedule: &[ScheduledBatch], sources: usize) -> Vec<usize> {
        let mut n = vec![0; sources];
        schedule.iter().for_each(|b| n[b.source] += 1);
        n
    }

    #[test]
    fn steps_follow_the_weights_exactly() {
        let a: Vec<usize> = (0..40).collect();
        let b: Vec<usize> = (0..8).collect();
        // 10 + 2 batches of 4: 12 steps, shared 3 : 1.
        let schedule = epoch_schedule(&[&a, &b], &[3.0, 1.0], 4, 7, 0);
        assert_eq!(counts(&schedule, 2), vec![9, 3]);
        // Equal weights: equal turns, the small source cycling its samples.
        let schedule = epoch_schedule(&[&a, &b], &[1.0, 1.0], 4, 7, 0);
        assert_eq!(counts(&schedule, 2), vec![6, 6]);
        let of_b: Vec<usize> = schedule
            .iter()
            .filter(|s| s.source == 1)
            .flat_map(|s| s.indices.clone())
            .collect();
        assert_eq!(of_b.len(), 24);
        for i in &b {
            assert_eq!(of_b.iter().filter(|&&j| j == *i).count(), 3, "{of_b:?}");
        }
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(apportion(5, &[0.5, 2.0]), vec![1, 4]);
    }

    #[test]
    fn the_schedule_depends_on_seed_and_epoch_only() {
        let a: Vec<usize> = (0..10).collect();
        let b: Vec<usize> = (100..117).collect();
        let one = epoch_schedule(&[&a, &b], &[1.0, 2.0], 3, 5, 2);
        assert_eq!(one, epoch_schedule(&[&a, &b], &[1.0, 2.0], 3, 5, 2));
        assert_ne!(one, epoch_schedule(&[&a, &b], &[1.0, 2.0], 3, 5, 3));
        assert_ne!(one, epoch_schedule(&[&a, &b], &[1.0, 2.0], 3, 6, 2));
        // Every batch holds samples of its own source only.
        for batch in &one {
            let own = if batch.source == 0 { &a } else { &b };
            assert!(batch.indices.iter().all(|i| own.contains(i)), "{batch:?}");
        }
        // A process's part of each batch does not change the batches: the
        // parts of any world size put together are the whole schedule.
        for size in 1..4 {
            for batch in &one {
                let joined: Vec<usize> = (0..size)
                    .flat_map(|rank| Shard { rank, size }.part(&batch.indices).to_vec())
                    .collect();
                assert_eq!(joined, batch.indices);
            }
        }
    }
}
