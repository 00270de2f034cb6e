//! The Well's variance-scaled RMSE (`VRMSE` in its
//! `benchmark/metrics/spatial.py`), per sample, frame and channel:
//!
//! VRMSE = √(mean_x (p − y)² / (var_x y + 1e-7))
//!
//! with the truth's variance over the grid taken with Bessel's correction
//! (divided by N − 1), as `torch.std` computes it by default; its
//! benchmark averages this over samples and frames per field. A constant
//! truth is scored against the 1e-7 alone, as there.

/// Added to the variance, as The Well's `eps`.
pub const VRMSE_EPS: f64 = 1e-7;

/// The VRMSE of one frame's channel: `mse` is the mean squared error over
/// its grid, `truth` the true values and `truth_mean` their mean.
pub(super) fn frame_vrmse(mse: f64, truth: impl Iterator<Item = f64>, truth_mean: f64) -> f64 {
    let (mut n, mut squares) = (0usize, 0.0);
    for y in truth {
        let d = y - truth_mean;
        squares += d * d;
        n += 1;
    }
    let variance = if n > 1 { squares / (n - 1) as f64 } else { 0.0 };
    (mse / (variance + VRMSE_EPS)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{compute_metrics, MetricsOptions};
    use ndarray::Array5;

    #[test]
    fn one_frame_by_hand() {
        // Truth 1, 2, 3, 4: mean 2.5, unbiased variance 5/3.
        let truth = [1.0, 2.0, 3.0, 4.0];
        let got = frame_vrmse(0.25, truth.iter().copied(), 2.5);
        let want = (0.25f64 / (5.0 / 3.0 + VRMSE_EPS)).sqrt();
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
        // A constant truth divides by the 1e-7 alone.
        let flat = frame_vrmse(1e-7, [3.0; 4].into_iter(), 3.0);
        assert!((flat - 1.0).abs() < 1e-12);
    }

    #[test]
    fn metrics_average_vrmse_over_samples_and_frames_per_channel() {
        // 2 samples, 2 frames, 2 channels, 2 × 2 points. Channel 0: truth
        // 0, 1, 2, 3 (variance 5/3), error 1 everywhere. Channel 1: truth
        // 0, 0, 0, 2 (variance 1), error 2 in sample 1 only.
        let truth = Array5::from_shape_fn((2, 2, 2, 2, 2), |(_, _, c, i, j)| {
            let k = (2 * i + j) as f64;
            if c == 0 {
                k
            } else if k == 3.0 {
                2.0
            } else {
                0.0
            }
        });
        let pred = Array5::from_shape_fn((2, 2, 2, 2, 2), |(b, t, c, i, j)| {
            let y = truth[[b, t, c, i, j]];
            match (c, b) {
                (0, _) => y + 1.0,
                (_, 1) => y + 2.0,
                _ => y,
            }
        });
        let m = compute_metrics(pred.view(), truth.view(), &MetricsOptions::default()).unwrap();
        let c0 = (1.0 / (5.0 / 3.0 + VRMSE_EPS)).sqrt();
        let c1 = (4.0 / (1.0 + VRMSE_EPS)).sqrt() / 2.0;
        assert!((m.vrmse.per_channel[0] - c0).abs() < 1e-12);
        assert!((m.vrmse.per_channel[1] - c1).abs() < 1e-12);
        assert!((m.vrmse.mean - (c0 + c1) / 2.0).abs() < 1e-12);
        assert_eq!(m.vrmse.per_time.len(), 2);
    }
}
