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

mod parts;
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
        size_sums(
            grid,
            [
                &mut self.rmse,
                &mut self.nrmse,
                &mut self.max,
                &mut self.conserved_sq,
                &mut self.brmse,
                &mut self.vrmse,
            ],
            &mut self.fourier,
        );
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

    /// The options this accumulator scores with.
    pub fn options(&self) -> MetricsOptions {
        self.options.clone()
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

/// Gives empty running sums their size for `grid`: one zero per (channel,
/// time) in each of `per_cell`, and one per (channel, time, bin) in
/// `fourier`. Sums already sized are left alone.
fn size_sums(grid: &Grid, per_cell: [&mut Vec<f64>; 6], fourier: &mut Vec<f64>) {
    let cells = grid.channels * grid.times;
    if fourier.is_empty() {
        fourier.resize(cells * grid.bins, 0.0);
    }
    for sums in per_cell {
        if sums.is_empty() {
            sums.resize(cells, 0.0);
        }
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
mod tests;
