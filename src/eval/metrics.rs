//! PDEBench's error metrics, streamed batch by batch.
//!
//! Arrays are `[B, T, C, X, (Y, (Z))]` (batch, time, channel, space); time may
//! have length 1 for stationary problems. The first `initial_step` frames are
//! the model's inputs and are dropped before scoring, as PDEBench does. With
//! e = p − y over the N spatial points of one sample, channel and time:
//!
//! | field | definition (per channel c and time t) |
//! |---|---|
//! | `rmse` | sqrt(mean_x e²), averaged over samples |
//! | `nrmse` | sqrt(mean_x e²) / sqrt(mean_x y²), averaged over samples |
//! | `max` | max over x and all samples of \|e\| |
//! | `crmse` | sqrt(mean_samples (Σ_x p − Σ_x y)²) / N |
//! | `brmse` | sqrt(mean over boundary points of e²), averaged over samples |
//! | `frmse` | per wavenumber bin, sqrt(mean_samples Σ_bin \|ê\|²) / N × volume, averaged over the bins of a band |
//! | `vrmse` | sqrt(mean_x e² / (var_x y + 1e-7)), var with N − 1, averaged over samples (The Well's VRMSE, [`super::vrmse`]) |
//! | `relative_l2` | ‖e‖₂ / ‖y‖₂ over all channels and scored times of a sample, averaged over samples |
//!
//! Every per-(c, t) metric is reported as a [`Summary`]: its mean over all
//! channels and times (the single number PDEBench prints), its mean over
//! time for each channel, and its mean over channels for each time.
//!
//! Where fno departs from PDEBench's `metric_func` / `metrics`:
//!
//! - PDEBench sums per-batch means and divides by the number of batches minus
//!   one; fno averages over samples, so the result is the same whatever the
//!   batch size.
//! - PDEBench's `max` adds up each batch's maximum (then divides as above);
//!   fno takes the true maximum over every sample.
//! - PDEBench takes the means under the square roots of `crmse` and `frmse`
//!   within each batch and averages the roots over batches; fno takes the
//!   means over all samples, which equals PDEBench's value for a single batch.
//! - A band's `frmse` is the mean of its bins' values, as PDEBench's code
//!   computes it, rather than the root of the band's summed energy that a
//!   one-line summary (such as DESIGN.md's) might suggest.
//! - In 3D, PDEBench's boundary error sums over the channels before the root;
//!   fno keeps channels apart, as PDEBench does in 1D and 2D.
//! - `relative_l2` is PDEBench's training loss (`LpLoss`), not one of its
//!   evaluation metrics; fno reports it next to them over the scored frames.
//!
//! As in PDEBench, a channel whose truth is identically zero has an infinite
//! (or, if the prediction is exact, NaN) `nrmse`; `serde_json` writes either
//! as `null`.
//!
//! ```
//! use fno::eval::{compute_metrics, MetricsOptions};
//! use ndarray::Array4;
//! // 2 samples, 3 frames, 1 channel, 16 points; an error of 0.5 everywhere.
//! let truth = Array4::<f32>::ones((2, 3, 1, 16));
//! let pred = &truth + 0.5;
//! let options = MetricsOptions { initial_step: 1, ..MetricsOptions::default() };
//! let m = compute_metrics(pred.view(), truth.view(), &options)?;
//! assert!((m.rmse.mean - 0.5).abs() < 1e-12);
//! assert!((m.relative_l2 - 0.5).abs() < 1e-12);
//! # Ok::<(), fno::eval::EvalError>(())
//! ```
use ndarray::{ArrayView, ArrayViewD, Axis, Dimension};
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use super::fft::{unravel, FftNd};
use super::vrmse::frame_vrmse;
use super::EvalError;

/// First wavenumber bin of the mid band (PDEBench's `iLow`).
pub const MID_BAND_START: usize = 4;
/// First wavenumber bin of the high band (PDEBench's `iHigh`).
pub const HIGH_BAND_START: usize = 12;

const LAYOUTS: &str = "[B, T, C, X], [B, T, C, X, Y] or [B, T, C, X, Y, Z]";

/// Settings of a metrics computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsOptions {
    /// Leading time frames that were the model's input and are not scored.
    /// Default 0 (score every frame); PDEBench's autoregressive runs use its
    /// `initial_step`, typically 10.
    pub initial_step: usize,
    /// Product of the domain's side lengths (PDEBench's `Lx·Ly·Lz`), which
    /// scales `frmse` only. Must be finite and positive. Default 1, as in
    /// PDEBench.
    pub domain_volume: f64,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            initial_step: 0,
            domain_volume: 1.0,
        }
    }
}

/// One metric reduced three ways from its per-(channel, time) table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Mean over all channels and scored times: the number PDEBench reports.
    pub mean: f64,
    /// Mean over scored times, one entry per channel.
    pub per_channel: Vec<f64>,
    /// Mean over channels, one entry per scored time; entry `i` is frame
    /// `initial_step + i`.
    pub per_time: Vec<f64>,
}

/// The Fourier-space RMSE in PDEBench's three wavenumber bands.
///
/// A band is `None` when the grid has no wavenumber bin in it (in 1D there
/// are `X/2 + 1` bins, in 2D and 3D `min(n_i/2)`), where PDEBench would
/// report NaN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FourierBands {
    /// Bins 0 to 3.
    pub low: Option<Summary>,
    /// Bins 4 to 11.
    pub mid: Option<Summary>,
    /// Bins 12 and up.
    pub high: Option<Summary>,
}

/// PDEBench's metrics over every sample pushed; see the [module
/// docs](self) for the definitions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Number of samples scored.
    pub samples: usize,
    /// Leading frames dropped before scoring.
    pub initial_step: usize,
    /// Root-mean-square error.
    pub rmse: Summary,
    /// RMSE normalised by the truth's root mean square, per sample.
    pub nrmse: Summary,
    /// Largest absolute error over space and samples.
    pub max: Summary,
    /// Error of the conserved quantity (the spatial sum), divided by N.
    pub crmse: Summary,
    /// RMSE over the boundary points (1D: both ends; 2D: the four edges,
    /// 2·X + 2·Y points, corners counted twice as PDEBench does; 3D: the six
    /// faces, edges and corners counted once per face).
    pub brmse: Summary,
    /// RMSE in Fourier space by wavenumber band.
    pub frmse: FourierBands,
    /// The Well's variance-scaled RMSE.
    pub vrmse: Summary,
    /// Relative L2 error of the whole scored sample, averaged over samples.
    pub relative_l2: f64,
}

/// Computes [`Metrics`] for one `[B, T, C, X, (Y, (Z))]` pair in one call.
///
/// # Errors
///
/// As [`MetricsAccumulator::push`] and [`MetricsAccumulator::finish`].
pub fn compute_metrics<A, D>(
    pred: ArrayView<'_, A, D>,
    truth: ArrayView<'_, A, D>,
    options: &MetricsOptions,
) -> Result<Metrics, EvalError>
where
    A: Copy + Into<f64>,
    D: Dimension,
{
    let mut acc = MetricsAccumulator::new(options.clone())?;
    acc.push(pred, truth)?;
    acc.finish()
}

/// Sums of per-sample quantities, so that evaluation can stream batches
/// without holding the data set.
///
/// ```
/// use fno::eval::{MetricsAccumulator, MetricsOptions};
/// use ndarray::Array4;
/// let mut acc = MetricsAccumulator::new(MetricsOptions::default())?;
/// for _batch in 0..3 {
///     let truth = Array4::<f32>::ones((4, 1, 2, 8));
///     acc.push(truth.view(), truth.view())?;
/// }
/// let m = acc.finish()?;
/// assert_eq!(m.samples, 12);
/// assert_eq!(m.rmse.mean, 0.0);
/// # Ok::<(), fno::eval::EvalError>(())
/// ```
#[derive(Debug)]
pub struct MetricsAccumulator {
    options: MetricsOptions,
    /// Fixed by the first batch; later batches must match it.
    grid: Option<Grid>,
    samples: usize,
    /// Per-(channel, time) sums over samples, indexed `c * times + t`.
    rmse: Vec<f64>,
    nrmse: Vec<f64>,
    max: Vec<f64>,
    conserved_sq: Vec<f64>,
    brmse: Vec<f64>,
    vrmse: Vec<f64>,
    /// Per-(channel, time, bin) sums over samples of the bin's |ê|².
    fourier: Vec<f64>,
    relative_l2: f64,
}

/// What the accumulator derives once from the first batch's shape.
#[derive(Debug)]
struct Grid {
    /// `[T, C, X, (Y, (Z))]` of one sample.
    sample_shape: Vec<usize>,
    channels: usize,
    times: usize,
    points: usize,
    fft: FftNd,
    /// For each spatial point (C order), its Fourier bin if PDEBench counts it.
    bin_of: Vec<Option<usize>>,
    bins: usize,
    /// For each spatial point, on how many boundary faces it lies.
    boundary_weight: Vec<f64>,
    boundary_count: f64,
}

impl Grid {
    fn new(sample_shape: &[usize], initial_step: usize) -> Self {
        let spatial = &sample_shape[2..];
        let points: usize = spatial.iter().product();
        let mut idx = vec![0; spatial.len()];

        // PDEBench keeps the rfft half-line (0..=X/2) in 1D, but in 2D and 3D
        // only indices below n_i/2 on every axis and radii below min(n_i/2).
        let (limit, bins): (Vec<usize>, usize) = if spatial.len() == 1 {
            (vec![spatial[0] / 2 + 1], spatial[0] / 2 + 1)
        } else {
            let half: Vec<usize> = spatial.iter().map(|n| n / 2).collect();
            let bins = half.iter().copied().min().unwrap_or(0);
            (half, bins)
        };
        let mut bin_of = Vec::with_capacity(points);
        let mut boundary_weight = Vec::with_capacity(points);
        for linear in 0..points {
            unravel(linear, spatial, &mut idx);
            let inside = idx.iter().zip(&limit).all(|(i, l)| i < l);
            let r2: u64 = idx.iter().map(|&i| (i * i) as u64).sum();
            let radius = r2.isqrt() as usize;
            bin_of.push((inside && radius < bins).then_some(radius));
            // Index 0 and index n−1 are separate slices in PDEBench even when
            // n = 1, so each end counts on its own.
            let faces: usize = idx
                .iter()
                .zip(spatial)
                .map(|(&i, &n)| usize::from(i == 0) + usize::from(i == n - 1))
                .sum();
            boundary_weight.push(faces as f64);
        }
        let boundary_count = boundary_weight.iter().sum();
        Self {
            sample_shape: sample_shape.to_vec(),
            channels: sample_shape[1],
            times: sample_shape[0] - initial_step,
            points,
            fft: FftNd::new(spatial),
            bin_of,
            bins,
            boundary_weight,
            boundary_count,
        }
    }
}

impl MetricsAccumulator {
    /// An empty accumulator.
    ///
    /// # Errors
    ///
    /// [`EvalError::InvalidOption`] if `domain_volume` is not finite and
    /// positive.
    pub fn new(options: MetricsOptions) -> Result<Self, EvalError> {
        if !(options.domain_volume.is_finite() && options.domain_volume > 0.0) {
            return Err(EvalError::InvalidOption {
                field: "domain_volume",
                reason: format!("{} is not a finite positive number", options.domain_volume),
            });
        }
        Ok(Self {
            options,
            grid: None,
            samples: 0,
            rmse: Vec::new(),
            nrmse: Vec::new(),
            max: Vec::new(),
            conserved_sq: Vec::new(),
            brmse: Vec::new(),
            vrmse: Vec::new(),
            fourier: Vec::new(),
            relative_l2: 0.0,
        })
    }

    /// Adds one batch of predictions and truths, both `[B, T, C, X, (Y, (Z))]`.
    ///
    /// # Errors
    ///
    /// - [`EvalError::WrongRank`] unless the arrays have 4 to 6 axes;
    /// - [`EvalError::ShapeMismatch`] if `truth`'s shape differs from
    ///   `pred`'s, or a sample's `[T, C, X, …]` differs from earlier batches';
    /// - [`EvalError::EmptyAxis`] if T, C or a spatial axis is empty;
    /// - [`EvalError::TooFewFrames`] if T ≤ `initial_step`.
    ///
    /// On error nothing is added.
    pub fn push<A, D>(
        &mut self,
        pred: ArrayView<'_, A, D>,
        truth: ArrayView<'_, A, D>,
    ) -> Result<(), EvalError>
    where
        A: Copy + Into<f64>,
        D: Dimension,
    {
        let pred = pred.into_dyn();
        let truth = truth.into_dyn();
        self.check_shapes(&pred, &truth)?;
        let initial_step = self.options.initial_step;
        let grid = self
            .grid
            .get_or_insert_with(|| Grid::new(&pred.shape()[1..], initial_step));
        if self.rmse.is_empty() {
            let cells = grid.channels * grid.times;
            self.rmse = vec![0.0; cells];
            self.nrmse = vec![0.0; cells];
            self.max = vec![0.0; cells];
            self.conserved_sq = vec![0.0; cells];
            self.brmse = vec![0.0; cells];
            self.vrmse = vec![0.0; cells];
            self.fourier = vec![0.0; cells * grid.bins];
        }
        let n = grid.points as f64;
        let mut error = vec![0.0f64; grid.points];
        let mut spectrum = vec![Complex::<f64>::default(); grid.points];
        for (p_sample, y_sample) in pred.outer_iter().zip(truth.outer_iter()) {
            let mut e_sq_total = 0.0;
            let mut y_sq_total = 0.0;
            for t in 0..grid.times {
                let p_frame = p_sample.index_axis(Axis(0), initial_step + t);
                let y_frame = y_sample.index_axis(Axis(0), initial_step + t);
                for (c, (p, y)) in p_frame.outer_iter().zip(y_frame.outer_iter()).enumerate() {
                    let j = c * grid.times + t;
                    let mut e_sq = 0.0;
                    let mut y_sq = 0.0;
                    let mut e_sum = 0.0;
                    let mut y_sum = 0.0;
                    let mut e_max = self.max[j];
                    // `iter` walks in logical C order whatever the strides.
                    for ((slot, &pv), &yv) in error.iter_mut().zip(p.iter()).zip(y.iter()) {
                        let (pv, yv): (f64, f64) = (pv.into(), yv.into());
                        let e = pv - yv;
                        *slot = e;
                        e_sq += e * e;
                        y_sq += yv * yv;
                        y_sum += yv;
                        e_sum += e;
                        // Written so that a NaN error propagates: f64::max
                        // would drop it and hide a broken prediction.
                        if e.is_nan() || e.abs() > e_max {
                            e_max = e.abs();
                        }
                    }
                    let rms = (e_sq / n).sqrt();
                    self.rmse[j] += rms;
                    self.nrmse[j] += rms / (y_sq / n).sqrt();
                    self.max[j] = e_max;
                    self.conserved_sq[j] += e_sum * e_sum;
                    let truth = y.iter().map(|&v| v.into());
                    self.vrmse[j] += frame_vrmse(e_sq / n, truth, y_sum / n);
                    let boundary_sq: f64 = error
                        .iter()
                        .zip(&grid.boundary_weight)
                        .map(|(e, w)| w * e * e)
                        .sum();
                    self.brmse[j] += (boundary_sq / grid.boundary_count).sqrt();

                    for (s, &e) in spectrum.iter_mut().zip(&error) {
                        *s = Complex::new(e, 0.0);
                    }
                    grid.fft.forward(&mut spectrum);
                    let bins = &mut self.fourier[j * grid.bins..(j + 1) * grid.bins];
                    for (s, bin) in spectrum.iter().zip(&grid.bin_of) {
                        if let Some(b) = bin {
                            bins[*b] += s.norm_sqr();
                        }
                    }
                    e_sq_total += e_sq;
                    y_sq_total += y_sq;
                }
            }
            self.relative_l2 += (e_sq_total / y_sq_total).sqrt();
            self.samples += 1;
        }
        Ok(())
    }

    /// Validates a batch against itself and against earlier batches.
    fn check_shapes(
        &self,
        pred: &ArrayViewD<'_, impl Copy>,
        truth: &ArrayViewD<'_, impl Copy>,
    ) -> Result<(), EvalError> {
        let shape = pred.shape();
        if !(4..=6).contains(&shape.len()) {
            return Err(EvalError::WrongRank {
                what: "prediction",
                expected: LAYOUTS,
                got: shape.to_vec(),
            });
        }
        if truth.shape() != shape {
            return Err(EvalError::ShapeMismatch {
                what: "truth against prediction",
                expected: shape.to_vec(),
                got: truth.shape().to_vec(),
            });
        }
        let sample_shape = &shape[1..];
        if sample_shape.contains(&0) {
            return Err(EvalError::EmptyAxis {
                what: "prediction",
                shape: shape.to_vec(),
            });
        }
        if sample_shape[0] <= self.options.initial_step {
            return Err(EvalError::TooFewFrames {
                frames: sample_shape[0],
                initial_step: self.options.initial_step,
            });
        }
        match &self.grid {
            Some(grid) if grid.sample_shape != sample_shape => Err(EvalError::ShapeMismatch {
                what: "sample [T, C, X, ...] against earlier batches",
                expected: grid.sample_shape.clone(),
                got: sample_shape.to_vec(),
            }),
            _ => Ok(()),
        }
    }

    /// Number of samples pushed so far.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The metrics over every sample pushed.
    ///
    /// # Errors
    ///
    /// [`EvalError::NoSamples`] if no sample was pushed.
    pub fn finish(self) -> Result<Metrics, EvalError> {
        let Some(grid) = self.grid.as_ref().filter(|_| self.samples > 0) else {
            return Err(EvalError::NoSamples);
        };
        let s = self.samples as f64;
        let n = grid.points as f64;
        let summary = |values: &[f64]| summarise(values, grid.channels, grid.times);
        let mean = |sums: &[f64]| sums.iter().map(|v| v / s).collect::<Vec<_>>();
        let crmse: Vec<f64> = self
            .conserved_sq
            .iter()
            .map(|v| (v / s).sqrt() / n)
            .collect();
        // Per (c, t, bin) as PDEBench's `_err_F`, before the band means.
        let per_bin: Vec<f64> = self
            .fourier
            .iter()
            .map(|v| (v / s).sqrt() / n * self.options.domain_volume)
            .collect();
        let band = |start: usize, end: usize| {
            let end = end.min(grid.bins);
            (start < end).then(|| {
                let values: Vec<f64> = per_bin
                    .chunks_exact(grid.bins)
                    .map(|bins| bins[start..end].iter().sum::<f64>() / (end - start) as f64)
                    .collect();
                summary(&values)
            })
        };
        Ok(Metrics {
            samples: self.samples,
            initial_step: self.options.initial_step,
            rmse: summary(&mean(&self.rmse)),
            nrmse: summary(&mean(&self.nrmse)),
            max: summary(&self.max),
            crmse: summary(&crmse),
            brmse: summary(&mean(&self.brmse)),
            vrmse: summary(&mean(&self.vrmse)),
            frmse: FourierBands {
                low: band(0, MID_BAND_START),
                mid: band(MID_BAND_START, HIGH_BAND_START),
                high: band(HIGH_BAND_START, usize::MAX),
            },
            relative_l2: self.relative_l2 / s,
        })
    }
}

/// Reduces a `[C, T]` table (row-major) to its [`Summary`].
fn summarise(values: &[f64], channels: usize, times: usize) -> Summary {
    let per_channel = values
        .chunks_exact(times)
        .map(|row| row.iter().sum::<f64>() / times as f64)
        .collect();
    let per_time = (0..times)
        .map(|t| (0..channels).map(|c| values[c * times + t]).sum::<f64>() / channels as f64)
        .collect();
    Summary {
        mean: values.iter().sum::<f64>() / values.len() as f64,
        per_channel,
        per_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array4, Array5, ArrayD, IxDyn};
    use std::f64::consts::PI;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    macro_rules! assert_close {
        ($a:expr, $b:expr) => {{
            let (a, b): (f64, f64) = ($a, $b);
            assert!(close(a, b), "{} = {a}, expected {b}", stringify!($a));
        }};
    }

    /// 1D, 2 samples, 2 frames of which the first is dropped, 1 channel,
    /// 8 points. Sample 0: truth 1, error 0.5 everywhere. Sample 1: truth 2,
    /// error cos(2π·2x/8), a single mode in Fourier bin 2.
    fn one_d_pair() -> (Array4<f64>, Array4<f64>) {
        let truth = Array4::from_shape_fn((2, 2, 1, 8), |(b, _, _, _)| 1.0 + b as f64);
        let pred = Array4::from_shape_fn((2, 2, 1, 8), |(b, t, _, x)| {
            if t == 0 {
                // The input frame: wildly wrong, and must not count.
                100.0
            } else if b == 0 {
                1.5
            } else {
                2.0 + (2.0 * PI * 2.0 * x as f64 / 8.0).cos()
            }
        });
        (pred, truth)
    }

    #[test]
    fn hand_computed_1d() {
        let (pred, truth) = one_d_pair();
        let options = MetricsOptions {
            initial_step: 1,
            domain_volume: 2.0,
        };
        let m = compute_metrics(pred.view(), truth.view(), &options).unwrap();
        let h = 0.5f64.sqrt();
        assert_eq!(m.samples, 2);
        assert_eq!(m.rmse.per_time.len(), 1);
        // Per-sample RMS errors 0.5 and sqrt(1/2).
        assert_close!(m.rmse.mean, (0.5 + h) / 2.0);
        // Truth RMS 1 and 2.
        assert_close!(m.nrmse.mean, (0.5 + h / 2.0) / 2.0);
        // The cosine peaks at 1 at x = 0.
        assert_close!(m.max.mean, 1.0);
        // Σe is 8·0.5 = 4 and 0: sqrt((16 + 0)/2)/8.
        assert_close!(m.crmse.mean, 8.0f64.sqrt() / 8.0);
        // Ends: 0.5, 0.5 and cos 0 = 1, cos(7π/2) = 0.
        assert_close!(m.brmse.mean, (0.5 + h) / 2.0);
        // |ê|² = (8·0.5)² = 16 in bin 0 (sample 0) and (8/2)² = 16 in bin 2
        // (sample 1), so bins 0 and 2 hold sqrt(16/2)/8·2 each, bins 1, 3
        // nothing; the low band is their mean over 4 bins. The mid band has
        // only bin 4 (the Nyquist) and the grid has no high band.
        let bin = 8.0f64.sqrt() / 8.0 * 2.0;
        assert_close!(m.frmse.low.as_ref().unwrap().mean, 2.0 * bin / 4.0);
        assert_close!(m.frmse.mid.as_ref().unwrap().mean, 0.0);
        assert!(m.frmse.high.is_none());
        // ‖e‖/‖y‖ = sqrt(8·0.25/8) and sqrt(4/32).
        assert_close!(m.relative_l2, (0.5 + (4.0f64 / 32.0).sqrt()) / 2.0);
    }

    /// 2D, 1 sample, 1 frame, 2 channels, 4 × 6 points. Channel 0: truth 1,
    /// error 2. Channel 1: truth 3, error cos(2π·j/6), the mode (0, 1).
    #[test]
    fn hand_computed_2d() {
        let (nx, ny) = (4, 6);
        let truth = Array5::from_shape_fn(
            (1, 1, 2, nx, ny),
            |(_, _, c, _, _)| if c == 0 { 1.0 } else { 3.0 },
        );
        let pred = Array5::from_shape_fn((1, 1, 2, nx, ny), |(_, _, c, _, j)| {
            if c == 0 {
                3.0
            } else {
                3.0 + (2.0 * PI * j as f64 / ny as f64).cos()
            }
        });
        let m = compute_metrics(pred.view(), truth.view(), &MetricsOptions::default()).unwrap();
        let h = 0.5f64.sqrt();
        assert_close!(m.rmse.per_channel[0], 2.0);
        assert_close!(m.rmse.per_channel[1], h);
        assert_close!(m.rmse.mean, (2.0 + h) / 2.0);
        assert_close!(m.rmse.per_time[0], (2.0 + h) / 2.0);
        assert_close!(m.nrmse.per_channel[0], 2.0);
        assert_close!(m.nrmse.per_channel[1], h / 3.0);
        assert_close!(m.max.per_channel[0], 2.0);
        assert_close!(m.max.per_channel[1], 1.0);
        // One sample: |Σe|/N = 2 and 0.
        assert_close!(m.crmse.per_channel[0], 2.0);
        assert_close!(m.crmse.per_channel[1], 0.0);
        // Channel 1's boundary, 2·4 + 2·6 = 20 points with corners twice:
        // rows i = 0 and i = 3 each hold Σ_j cos² = 3; column j = 0 holds
        // 4·1² and column j = 5 holds 4·cos²(5π/3) = 4·0.25.
        assert_close!(m.brmse.per_channel[0], 2.0);
        assert_close!(m.brmse.per_channel[1], (11.0f64 / 20.0).sqrt());
        // min(4/2, 6/2) = 2 bins. Channel 0: ê(0,0) = 2·24, bin 0 holds
        // 48/24 = 2. Channel 1: ê(0,1) = 24/2, bin 1 holds 12/24 = 0.5.
        let low = m.frmse.low.as_ref().unwrap();
        assert_close!(low.per_channel[0], 2.0 / 2.0);
        assert_close!(low.per_channel[1], 0.5 / 2.0);
        assert!(m.frmse.mid.is_none() && m.frmse.high.is_none());
        // ‖e‖² = 24·4 + 24·0.5, ‖y‖² = 24·1 + 24·9.
        assert_close!(m.relative_l2, (108.0f64 / 240.0).sqrt());
    }

    #[test]
    fn single_modes_land_in_their_bands() {
        // 1D, 32 points: bins 0..=16, cos(2π·13x/32) has |ê_13|² = 16², so
        // bin 13 holds 16/32 and the high band (bins 12..=16) its fifth.
        let truth = Array4::<f64>::zeros((1, 1, 1, 32));
        let pred = Array4::from_shape_fn((1, 1, 1, 32), |(_, _, _, x)| {
            (2.0 * PI * 13.0 * x as f64 / 32.0).cos()
        });
        let m = compute_metrics(pred.view(), truth.view(), &MetricsOptions::default()).unwrap();
        let bands = &m.frmse;
        assert_close!(bands.low.as_ref().unwrap().mean, 0.0);
        assert_close!(bands.mid.as_ref().unwrap().mean, 0.0);
        assert_close!(bands.high.as_ref().unwrap().mean, 0.5 / 5.0);

        // 2D, 32 × 32: 16 bins; the wavevector (3, 4) has radius 5, and
        // |ê(3,4)|² = 512², so bin 5 holds 512/1024 and the mid band
        // (bins 4..=11) an eighth of it.
        let truth = Array5::<f64>::zeros((1, 1, 1, 32, 32));
        let pred = Array5::from_shape_fn((1, 1, 1, 32, 32), |(_, _, _, i, j)| {
            (2.0 * PI * (3.0 * i as f64 + 4.0 * j as f64) / 32.0).cos()
        });
        let m = compute_metrics(pred.view(), truth.view(), &MetricsOptions::default()).unwrap();
        let bands = &m.frmse;
        assert_close!(bands.low.as_ref().unwrap().mean, 0.0);
        assert_close!(bands.mid.as_ref().unwrap().mean, 0.5 / 8.0);
        assert_close!(bands.high.as_ref().unwrap().mean, 0.0);
    }

    #[test]
    fn constant_error_in_3d_counts_six_faces() {
        let truth = ArrayD::<f32>::zeros(IxDyn(&[2, 1, 1, 3, 4, 5]));
        let pred = truth.mapv(|_| 0.25f32);
        let m = compute_metrics(pred.view(), truth.view(), &MetricsOptions::default()).unwrap();
        assert_close!(m.rmse.mean, 0.25);
        assert_close!(m.brmse.mean, 0.25);
        assert_close!(m.crmse.mean, 0.25);
        assert_close!(m.max.mean, 0.25);
        // Bin 0 only (min(3/2, 4/2, 5/2) = 1 bin): |ê| = 60·0.25, /60.
        assert_close!(m.frmse.low.as_ref().unwrap().mean, 0.25);
    }

    /// Three-axis pseudo-random data without a generator dependency.
    fn wiggly(shape: &[usize], seed: f64) -> ArrayD<f64> {
        let mut i = 0.0;
        Array::from_shape_simple_fn(IxDyn(shape), || {
            i += 1.0;
            (i * 12.9898 + seed).sin() * 43.758 % 1.0
        })
    }

    #[test]
    fn streamed_batches_equal_one_shot() {
        for shape in [vec![7, 3, 2, 32], vec![5, 2, 3, 10, 12]] {
            let pred = wiggly(&shape, 0.3);
            let truth = wiggly(&shape, 1.7);
            let options = MetricsOptions {
                initial_step: 1,
                domain_volume: 0.5,
            };
            let whole = compute_metrics(pred.view(), truth.view(), &options).unwrap();
            let mut acc = MetricsAccumulator::new(options).unwrap();
            let split = [0, 2, 3, shape[0]];
            for w in split.windows(2) {
                let rows = ndarray::Slice::from(w[0]..w[1]);
                acc.push(
                    pred.slice_axis(Axis(0), rows),
                    truth.slice_axis(Axis(0), rows),
                )
                .unwrap();
            }
            assert_eq!(acc.samples(), shape[0]);
            let streamed = acc.finish().unwrap();
            assert_eq!(streamed, whole, "{shape:?}");
        }
    }

    #[test]
    fn perfect_prediction_scores_zero() {
        let truth = wiggly(&[3, 2, 2, 16, 16], 0.9);
        let m = compute_metrics(truth.view(), truth.view(), &MetricsOptions::default()).unwrap();
        assert_eq!(m.relative_l2, 0.0);
        assert_eq!(m.rmse.mean, 0.0);
        assert_eq!(m.max.mean, 0.0);
        assert_eq!(m.frmse.mid.unwrap().mean, 0.0);
    }

    #[test]
    fn nan_prediction_shows_in_max() {
        let truth = Array4::<f64>::zeros((2, 1, 1, 4));
        let mut pred = truth.clone();
        pred[[0, 0, 0, 1]] = f64::NAN;
        let m = compute_metrics(pred.view(), truth.view(), &MetricsOptions::default()).unwrap();
        assert!(m.max.mean.is_nan());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let options = MetricsOptions::default();
        let a = Array4::<f32>::zeros((2, 3, 1, 8));
        let b = Array4::<f32>::zeros((2, 3, 1, 9));
        assert!(matches!(
            compute_metrics(a.view(), b.view(), &options),
            Err(EvalError::ShapeMismatch { expected, got, .. }) if expected == [2, 3, 1, 8] && got == [2, 3, 1, 9]
        ));
        let flat = ndarray::Array3::<f32>::zeros((2, 3, 8));
        assert!(matches!(
            compute_metrics(flat.view(), flat.view(), &options),
            Err(EvalError::WrongRank { .. })
        ));
        let late = MetricsOptions {
            initial_step: 3,
            ..MetricsOptions::default()
        };
        assert!(matches!(
            compute_metrics(a.view(), a.view(), &late),
            Err(EvalError::TooFewFrames {
                frames: 3,
                initial_step: 3
            })
        ));
        let empty = Array4::<f32>::zeros((2, 3, 0, 8));
        assert!(matches!(
            compute_metrics(empty.view(), empty.view(), &options),
            Err(EvalError::EmptyAxis { .. })
        ));
        let mut acc = MetricsAccumulator::new(options.clone()).unwrap();
        acc.push(a.view(), a.view()).unwrap();
        assert!(matches!(
            acc.push(b.view(), b.view()),
            Err(EvalError::ShapeMismatch { .. })
        ));
        assert_eq!(acc.samples(), 2);
        let acc = MetricsAccumulator::new(options).unwrap();
        assert!(matches!(acc.finish(), Err(EvalError::NoSamples)));
        let bad = MetricsOptions {
            domain_volume: f64::NAN,
            ..MetricsOptions::default()
        };
        assert!(matches!(
            MetricsAccumulator::new(bad),
            Err(EvalError::InvalidOption {
                field: "domain_volume",
                ..
            })
        ));
    }

    #[test]
    fn metrics_serialise_to_json() {
        let (pred, truth) = one_d_pair();
        let options = MetricsOptions {
            initial_step: 1,
            ..MetricsOptions::default()
        };
        let m = compute_metrics(pred.view(), truth.view(), &options).unwrap();
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["samples"], 2);
        assert!(json["frmse"]["high"].is_null());
        assert!(json["rmse"]["per_channel"].is_array());
    }
}
