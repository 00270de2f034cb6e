//! A [`MetricsAccumulator`]'s running sums as one flat list of numbers, so
//! that processes which scored different samples can pool them into the
//! metrics of all the samples.
use super::{size_sums, Grid, MetricsAccumulator};
use crate::eval::EvalError;

/// Sums kept per (channel, time): RMSE, nRMSE, max, conserved, boundary,
/// VRMSE.
const PER_CELL: usize = 6;

/// What the pooled lists are called in errors.
const WHAT: &str = "pooled metric sums";

impl MetricsAccumulator {
    /// The sums so far as one flat list, for [`Self::merge_parts`]: empty
    /// when no sample was pushed; otherwise the sample count, the
    /// relative-L2 sum, the number of axes of a sample and its shape
    /// `[T, C, X, ...]`, then the per-(channel, time) and per-bin sums.
    pub fn to_parts(&self) -> Vec<f64> {
        let Some(grid) = self.grid.as_ref().filter(|_| self.samples > 0) else {
            return Vec::new();
        };
        let mut parts = vec![
            self.samples as f64,
            self.relative_l2,
            grid.sample_shape.len() as f64,
        ];
        parts.extend(grid.sample_shape.iter().map(|&n| n as f64));
        for sums in [
            &self.rmse,
            &self.nrmse,
            &self.max,
            &self.conserved_sq,
            &self.brmse,
            &self.vrmse,
            &self.fourier,
        ] {
            parts.extend_from_slice(sums);
        }
        parts
    }

    /// Adds the samples another accumulator with the same options scored,
    /// given as its [`Self::to_parts`]: afterwards this one's metrics are
    /// those of both sets of samples. An empty list adds nothing.
    ///
    /// # Errors
    ///
    /// [`EvalError::ShapeMismatch`] if the other samples' shape differs
    /// from this one's, or the list's length does not fit its shape; on
    /// error nothing is added.
    pub fn merge_parts(&mut self, parts: &[f64]) -> Result<(), EvalError> {
        let Some(&axes) = parts.get(2) else {
            return if parts.is_empty() {
                Ok(())
            } else {
                Err(mismatch(vec![3], parts.len()))
            };
        };
        let axes = axes as usize;
        let Some(shape) = parts.get(3..3 + axes) else {
            return Err(mismatch(vec![3 + axes], parts.len()));
        };
        let shape: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
        let sums = &parts[3 + axes..];
        let fits = |grid: &Grid| {
            let wanted = grid.channels * grid.times * (PER_CELL + grid.bins);
            if sums.len() == wanted {
                Ok(())
            } else {
                Err(mismatch(vec![3 + axes + wanted], parts.len()))
            }
        };
        match &self.grid {
            Some(grid) if grid.sample_shape != shape => {
                return Err(EvalError::ShapeMismatch {
                    what: "pooled sample [T, C, X, ...] against this process's",
                    expected: grid.sample_shape.clone(),
                    got: shape,
                })
            }
            Some(grid) => fits(grid)?,
            None => {
                let grid = Grid::new(&shape, self.options.initial_step);
                fits(&grid)?;
                self.grid = Some(grid);
            }
        }
        if let Some(grid) = &self.grid {
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
        }
        let cells = self.rmse.len();
        let (per_cell, fourier) = sums.split_at(PER_CELL * cells);
        let part = |i: usize| &per_cell[i * cells..(i + 1) * cells];
        add(&mut self.rmse, part(0));
        add(&mut self.nrmse, part(1));
        keep_max(&mut self.max, part(2));
        add(&mut self.conserved_sq, part(3));
        add(&mut self.brmse, part(4));
        add(&mut self.vrmse, part(5));
        add(&mut self.fourier, fourier);
        self.samples += parts[0] as usize;
        self.relative_l2 += parts[1];
        Ok(())
    }
}

fn mismatch(expected: Vec<usize>, got: usize) -> EvalError {
    EvalError::ShapeMismatch {
        what: WHAT,
        expected,
        got: vec![got],
    }
}

fn add(into: &mut [f64], from: &[f64]) {
    into.iter_mut().zip(from).for_each(|(a, b)| *a += b);
}

/// The larger of each pair, NaN if either is (as `push` keeps a NaN error
/// visible).
fn keep_max(into: &mut [f64], from: &[f64]) {
    for (a, &b) in into.iter_mut().zip(from) {
        if b.is_nan() || b > *a {
            *a = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Metrics, MetricsOptions};
    use ndarray::{s, Array5};

    fn options() -> MetricsOptions {
        MetricsOptions {
            initial_step: 1,
            domain_volume: 2.0,
        }
    }

    /// 5 samples of 3 frames, 2 channels, 6×4 points, with one large error
    /// in sample 3 so that the maximum comes from the second part.
    fn batch() -> (Array5<f64>, Array5<f64>) {
        let truth = Array5::from_shape_fn((5, 3, 2, 6, 4), |(b, t, c, x, y)| {
            1.0 + (b + 2 * t + 3 * c) as f64 * 0.1 + (x as f64 * 0.7 + y as f64).sin()
        });
        let mut pred = truth.mapv(|v| v * 1.05 + 0.01);
        pred[[3, 2, 1, 4, 1]] += 3.0;
        (pred, truth)
    }

    fn json(m: &Metrics) -> serde_json::Value {
        serde_json::to_value(m).unwrap()
    }

    /// Compares every number of two metrics to a relative 1e-12.
    fn assert_same(a: &serde_json::Value, b: &serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                assert!((x - y).abs() <= 1e-12 * y.abs().max(1e-300), "{x} vs {y}");
            }
            (serde_json::Value::Array(x), serde_json::Value::Array(y)) => {
                assert_eq!(x.len(), y.len());
                x.iter().zip(y).for_each(|(x, y)| assert_same(x, y));
            }
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                assert_eq!(x.len(), y.len());
                x.iter().for_each(|(k, v)| assert_same(v, &y[k]));
            }
            _ => assert_eq!(a, b),
        }
    }

    #[test]
    fn pooled_parts_give_the_metrics_of_all_samples() {
        let (pred, truth) = batch();
        let mut whole = MetricsAccumulator::new(options()).unwrap();
        whole.push(pred.view(), truth.view()).unwrap();
        let whole = json(&whole.finish().unwrap());

        let mut parts = Vec::new();
        for (lo, hi) in [(0, 2), (2, 2), (2, 5)] {
            let mut acc = MetricsAccumulator::new(options()).unwrap();
            if hi > lo {
                let range = s![lo..hi, .., .., .., ..];
                acc.push(pred.slice(range), truth.slice(range)).unwrap();
            }
            parts.push(acc.to_parts());
        }
        assert!(
            parts[1].is_empty(),
            "a process with no samples sends nothing"
        );
        let mut pooled = MetricsAccumulator::new(options()).unwrap();
        for p in &parts {
            pooled.merge_parts(p).unwrap();
        }
        assert_eq!(pooled.samples(), 5);
        assert_same(&json(&pooled.finish().unwrap()), &whole);
    }

    #[test]
    fn a_nan_maximum_survives_pooling() {
        let (pred, truth) = batch();
        let mut nan = pred.clone();
        nan[[0, 1, 0, 0, 0]] = f64::NAN;
        let mut first = MetricsAccumulator::new(options()).unwrap();
        first
            .push(
                nan.slice(s![0..1, .., .., .., ..]),
                truth.slice(s![0..1, .., .., .., ..]),
            )
            .unwrap();
        let mut pooled = MetricsAccumulator::new(options()).unwrap();
        pooled
            .push(
                pred.slice(s![1.., .., .., .., ..]),
                truth.slice(s![1.., .., .., .., ..]),
            )
            .unwrap();
        pooled.merge_parts(&first.to_parts()).unwrap();
        assert!(pooled.finish().unwrap().max.mean.is_nan());
    }

    #[test]
    fn parts_of_another_shape_or_length_are_refused_and_add_nothing() {
        let (pred, truth) = batch();
        let mut acc = MetricsAccumulator::new(options()).unwrap();
        acc.push(pred.view(), truth.view()).unwrap();
        let mut other = MetricsAccumulator::new(options()).unwrap();
        let narrow = s![.., .., .., ..4, ..];
        other.push(pred.slice(narrow), truth.slice(narrow)).unwrap();
        let err = acc.merge_parts(&other.to_parts()).unwrap_err();
        assert!(matches!(err, EvalError::ShapeMismatch { .. }), "{err}");
        let mut cut = acc.to_parts();
        cut.pop();
        assert!(acc.merge_parts(&cut).is_err());
        assert!(acc.merge_parts(&[1.0]).is_err());
        assert_eq!(acc.samples(), 5);
    }
}
