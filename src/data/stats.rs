//! Per-field summary statistics, as `fno inspect` prints them.
use super::error::Result;
use super::reader::{FileInfo, PdebenchFile, Resolution, Sample};
use ndarray::Axis;
use serde::Serialize;

/// Summary of one field over the samples read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldStats {
    /// Field (channel) name.
    pub name: String,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Mean of the finite values.
    pub mean: f64,
    /// Population standard deviation of the finite values.
    pub std: f64,
    /// Number of NaN values.
    pub nan_count: u64,
    /// Number of infinite values.
    pub inf_count: u64,
    /// Number of values seen.
    pub count: u64,
}

/// Accumulates moments with Welford's update, which stays accurate over
/// billions of values where a naive sum of squares would not.
#[derive(Debug, Clone)]
struct Accumulator {
    name: String,
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    nan: u64,
    inf: u64,
}

impl Accumulator {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            nan: 0,
            inf: 0,
        }
    }

    fn push(&mut self, v: f32) {
        if v.is_nan() {
            self.nan += 1;
            return;
        }
        if v.is_infinite() {
            self.inf += 1;
            return;
        }
        let v = f64::from(v);
        self.n += 1;
        let delta = v - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (v - self.mean);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn finish(self) -> FieldStats {
        let empty = self.n == 0;
        FieldStats {
            name: self.name,
            min: if empty { f64::NAN } else { self.min },
            max: if empty { f64::NAN } else { self.max },
            mean: if empty { f64::NAN } else { self.mean },
            std: if empty {
                f64::NAN
            } else {
                (self.m2 / self.n as f64).sqrt()
            },
            nan_count: self.nan,
            inf_count: self.inf,
            count: self.n + self.nan + self.inf,
        }
    }
}

/// What `fno inspect` reports of a file: what it holds, and the
/// statistics of every field over some of its samples.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Layout, PDE, shapes and storage.
    #[serde(flatten)]
    pub info: FileInfo,
    /// How many samples the statistics read.
    pub stats_samples: usize,
    /// One entry per output field, then per input field.
    pub stats: Vec<FieldStats>,
}

/// Describes `file`, with statistics over at most `limit` samples spread
/// over it (0: every sample).
pub fn inspect(file: &PdebenchFile, limit: usize) -> Result<Inspection> {
    let info = file.info();
    let indices = spread_indices(info.num_samples, limit);
    Ok(Inspection {
        info: info.clone(),
        stats_samples: indices.len(),
        stats: field_stats(file, &indices)?,
    })
}

/// Indices of at most `limit` samples spread evenly over `count`.
pub fn spread_indices(count: usize, limit: usize) -> Vec<usize> {
    if limit == 0 || count <= limit {
        return (0..count).collect();
    }
    (0..limit).map(|k| k * count / limit).collect()
}

/// Statistics of every output and input field over the given samples,
/// reading them in runs so memory stays bounded. NaN and Inf are counted,
/// not rejected.
pub fn field_stats(file: &PdebenchFile, indices: &[usize]) -> Result<Vec<FieldStats>> {
    let info = file.info();
    let mut outputs: Vec<Accumulator> = info.fields.iter().map(|f| Accumulator::new(f)).collect();
    let mut inputs: Vec<Accumulator> = info
        .input_fields
        .iter()
        .map(|f| Accumulator::new(f))
        .collect();
    let res = Resolution::default();
    for chunk in indices.chunks(16) {
        for sample in file.read_samples_unchecked(chunk, &res)? {
            accumulate(&sample, &mut outputs, &mut inputs);
        }
    }
    Ok(outputs
        .into_iter()
        .chain(inputs)
        .map(Accumulator::finish)
        .collect())
}

fn accumulate(sample: &Sample, outputs: &mut [Accumulator], inputs: &mut [Accumulator]) {
    for (c, acc) in outputs.iter_mut().enumerate() {
        for v in sample.frames.index_axis(Axis(1), c) {
            acc.push(*v);
        }
    }
    if let Some(input) = &sample.input {
        for (c, acc) in inputs.iter_mut().enumerate() {
            for v in input.index_axis(Axis(0), c) {
                acc.push(*v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_two_pass_and_counts_nan() {
        let values = [1.0f32, 2.0, 4.0, f32::NAN, 8.0, f32::INFINITY];
        let mut acc = Accumulator::new("u");
        values.iter().for_each(|v| acc.push(*v));
        let s = acc.finish();
        let finite = [1.0f64, 2.0, 4.0, 8.0];
        let mean = finite.iter().sum::<f64>() / 4.0;
        let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!((s.mean - mean).abs() < 1e-12);
        assert!((s.std - var.sqrt()).abs() < 1e-12);
        assert_eq!(
            (s.min, s.max, s.nan_count, s.inf_count, s.count),
            (1.0, 8.0, 1, 1, 6)
        );
    }

    #[test]
    fn spread_covers_the_file() {
        assert_eq!(spread_indices(5, 8), vec![0, 1, 2, 3, 4]);
        assert_eq!(spread_indices(100, 4), vec![0, 25, 50, 75]);
    }
}
