//! The window task's scores (The Well's benchmark): VRMSE per field on the
//! one-step pairs of every test window, and the VRMSE of whole-trajectory
//! rollouts by horizon band.
//!
//! The bands follow The Well's trainer (`split_up_losses`): for a rollout
//! of `T` frames and `n = min(T, 5)` bands the boundaries are `0` and
//! `⌊exp(x)⌋` for `x` evenly spaced from 0 to `ln T` (`n` values), so that
//! the early steps, where errors grow fastest, get bands of their own
//! (`T = 100`: 0:1, 1:3, 3:10, 10:31, 31:100, end exclusive). Repeated
//! boundaries are dropped here where The Well would average an empty band,
//! and the last boundary is `T` itself where its floor of `exp(ln T)` can
//! fall one short and leave the last frame out (`T = 16`).
use super::vrmse::frame_vrmse;
use super::{EvalError, Metrics, MetricsAccumulator, MetricsOptions};
use crate::dist::Communicator;
use ndarray::ArrayViewD;
use serde::Serialize;

/// Bands The Well's trainer splits a rollout into at most.
pub const ROLLOUT_BANDS: usize = 5;

/// The window task's scores at one resolution.
#[derive(Debug, Clone, Serialize)]
pub struct WindowScores {
    /// One-step pairs scored (every window of every sample).
    pub windows: usize,
    /// Metrics of the one-step predictions (`vrmse.per_channel` is The
    /// Well's per-field VRMSE), frames `n_steps_output` per window.
    pub one_step: Metrics,
    /// The field of each channel, in order.
    pub fields: Vec<String>,
    /// Rollouts over whole test trajectories.
    pub rollout: RolloutVrmse,
}

/// The VRMSE of rollouts by horizon band.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutVrmse {
    /// Frames each rollout predicted.
    pub steps: usize,
    /// Mean over samples and fields, one entry per predicted frame.
    pub per_step: Vec<f64>,
    /// Mean over every frame, per field.
    pub per_field: Vec<f64>,
    /// Mean over every frame and field.
    pub mean: f64,
    /// Horizon bands, earliest first.
    pub bands: Vec<HorizonBand>,
}

/// One horizon band of a rollout: predicted frames `start..end` (from 0,
/// end exclusive, The Well's `T=start:end`).
#[derive(Debug, Clone, Serialize)]
pub struct HorizonBand {
    /// First frame of the band.
    pub start: usize,
    /// One past its last frame.
    pub end: usize,
    /// Mean VRMSE over the band, per field.
    pub per_field: Vec<f64>,
    /// Mean over the band and the fields.
    pub mean: f64,
}

/// The boundaries of the horizon bands of a rollout of `steps` frames.
pub fn band_edges(steps: usize) -> Vec<usize> {
    if steps == 0 {
        return vec![0];
    }
    let n = steps.min(ROLLOUT_BANDS);
    let top = (steps as f64).ln();
    let mut edges = vec![0];
    for i in 0..n {
        let x = if n == 1 {
            0.0
        } else {
            top * i as f64 / (n - 1) as f64
        };
        edges.push((x.exp() as usize).min(steps));
    }
    // ⌊exp(ln T)⌋ can land one short of T in floating point.
    if let Some(last) = edges.last_mut() {
        *last = steps;
    }
    edges.dedup();
    edges
}

/// Sums of per-frame VRMSE over samples, by (channel, frame).
#[derive(Debug, Clone, Default)]
pub struct RolloutAccumulator {
    channels: usize,
    steps: usize,
    sums: Vec<f64>,
    samples: usize,
}

impl RolloutAccumulator {
    /// Adds rollouts `[B, T, C, grid..]` against their truth.
    pub fn push(&mut self, pred: ArrayViewD<f32>, truth: ArrayViewD<f32>) {
        let shape = pred.shape();
        if self.sums.is_empty() {
            self.steps = shape.get(1).copied().unwrap_or(0);
            self.channels = shape.get(2).copied().unwrap_or(0);
            self.sums = vec![0.0; self.steps * self.channels];
        }
        for (p_sample, y_sample) in pred.outer_iter().zip(truth.outer_iter()) {
            for (t, (p_frame, y_frame)) in
                p_sample.outer_iter().zip(y_sample.outer_iter()).enumerate()
            {
                for (c, (p, y)) in p_frame.outer_iter().zip(y_frame.outer_iter()).enumerate() {
                    let n = y.len().max(1) as f64;
                    let (mut e_sq, mut y_sum) = (0.0, 0.0);
                    for (&pv, &yv) in p.iter().zip(y.iter()) {
                        let e = f64::from(pv) - f64::from(yv);
                        e_sq += e * e;
                        y_sum += f64::from(yv);
                    }
                    let truth = y.iter().map(|&v| f64::from(v));
                    if let Some(slot) = self.sums.get_mut(c * self.steps + t) {
                        *slot += frame_vrmse(e_sq / n, truth, y_sum / n);
                    }
                }
            }
            self.samples += 1;
        }
    }

    /// Every process's sums gathered and added in rank order, so that
    /// every process ends with the same numbers.
    pub fn pooled(self, comm: &dyn Communicator) -> Self {
        let mut mine = vec![self.channels as f64, self.steps as f64, self.samples as f64];
        mine.extend(&self.sums);
        let mut pooled = RolloutAccumulator::default();
        for parts in comm.all_gather_f64(&mine) {
            let [channels, steps, samples] = [parts[0], parts[1], parts[2]].map(|v| v as usize);
            if samples == 0 {
                continue;
            }
            if pooled.sums.is_empty() {
                pooled.channels = channels;
                pooled.steps = steps;
                pooled.sums = vec![0.0; channels * steps];
            }
            for (sum, part) in pooled.sums.iter_mut().zip(&parts[3..]) {
                *sum += part;
            }
            pooled.samples += samples;
        }
        pooled
    }

    /// The averages and bands.
    pub fn finish(&self) -> RolloutVrmse {
        let (c, t) = (self.channels.max(1), self.steps);
        let s = self.samples.max(1) as f64;
        let cell =
            |ch: usize, step: usize| self.sums.get(ch * t + step).copied().unwrap_or(0.0) / s;
        let mean_over = |range: std::ops::Range<usize>, ch: usize| {
            let len = range.len().max(1) as f64;
            range.map(|step| cell(ch, step)).sum::<f64>() / len
        };
        let per_field: Vec<f64> = (0..self.channels).map(|ch| mean_over(0..t, ch)).collect();
        let edges = band_edges(t);
        let bands = edges
            .windows(2)
            .map(|w| {
                let per_field: Vec<f64> = (0..self.channels)
                    .map(|ch| mean_over(w[0]..w[1], ch))
                    .collect();
                HorizonBand {
                    start: w[0],
                    end: w[1],
                    mean: per_field.iter().sum::<f64>() / c as f64,
                    per_field,
                }
            })
            .collect();
        RolloutVrmse {
            steps: t,
            per_step: (0..t)
                .map(|step| (0..self.channels).map(|ch| cell(ch, step)).sum::<f64>() / c as f64)
                .collect(),
            mean: per_field.iter().sum::<f64>() / c as f64,
            per_field,
            bands,
        }
    }
}

/// A fresh accumulator for one-step metrics (nothing skipped).
pub(super) fn one_step_accumulator(domain_volume: f64) -> Result<MetricsAccumulator, EvalError> {
    MetricsAccumulator::new(MetricsOptions {
        initial_step: 0,
        domain_volume,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array5;

    #[test]
    fn bands_follow_the_wells_log_spacing() {
        assert_eq!(band_edges(100), vec![0, 1, 3, 10, 31, 100]);
        assert_eq!(band_edges(3), vec![0, 1, 3]);
        assert_eq!(band_edges(1), vec![0, 1]);
        assert_eq!(band_edges(16), vec![0, 1, 2, 4, 7, 16]);
    }

    #[test]
    fn band_means_are_means_of_their_frames() {
        // One sample, 4 frames, 1 channel of 2 points: truth 0, 2 (variance
        // 2), error t + 1 at frame t.
        let truth = Array5::from_shape_fn((1, 4, 1, 1, 2), |(_, _, _, _, i)| 2.0 * i as f32);
        let pred = Array5::from_shape_fn((1, 4, 1, 1, 2), |(_, t, _, _, i)| {
            2.0 * i as f32 + t as f32 + 1.0
        });
        let mut acc = RolloutAccumulator::default();
        acc.push(pred.view().into_dyn(), truth.view().into_dyn());
        let r = acc.finish();
        let v = |e: f64| (e * e / (2.0 + 1e-7)).sqrt();
        assert_eq!(r.steps, 4);
        assert!((r.per_step[2] - v(3.0)).abs() < 1e-12);
        // 4 frames: edges 0, 1, 1.59 -> 1, 2.52 -> 2, 4.
        assert_eq!(
            r.bands.iter().map(|b| (b.start, b.end)).collect::<Vec<_>>(),
            vec![(0, 1), (1, 2), (2, 4)]
        );
        assert!((r.bands[2].mean - (v(3.0) + v(4.0)) / 2.0).abs() < 1e-12);
    }
}
