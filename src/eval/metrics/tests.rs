//! Hand-computed cases of every metric, and bad input.
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
