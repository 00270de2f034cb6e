//! Unit-Gaussian normalisers, fitted on the training split only.
//!
//! One mean and one standard deviation per channel (pooled over samples,
//! time and space), as neuraloperator's `UnitGaussianNormalizer` with
//! `dim` covering everything but channels. Per-channel rather than
//! per-point statistics keep the normaliser independent of the grid, so a
//! model trained at one resolution can be queried at another.
use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

/// Per-channel mean and standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Mean of each channel.
    pub mean: Vec<f64>,
    /// Standard deviation of each channel (floored at `eps`).
    pub std: Vec<f64>,
}

/// Standard deviations below this are treated as this, so constant
/// channels (a uniform forcing) do not divide by zero.
const EPS: f64 = 1e-6;

/// Streams values into per-channel moments (Welford), so fitting never
/// holds the training set in memory.
#[derive(Debug, Clone)]
pub struct NormalizerFit {
    n: Vec<u64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl NormalizerFit {
    /// An empty fit for `channels` channels.
    pub fn new(channels: usize) -> Self {
        Self {
            n: vec![0; channels],
            mean: vec![0.0; channels],
            m2: vec![0.0; channels],
        }
    }

    /// Adds the values of channel `c`.
    pub fn push(&mut self, c: usize, values: impl IntoIterator<Item = f32>) {
        for v in values {
            let v = f64::from(v);
            self.n[c] += 1;
            let d = v - self.mean[c];
            self.mean[c] += d / self.n[c] as f64;
            self.m2[c] += d * (v - self.mean[c]);
        }
    }

    /// The running moments as plain numbers, to send to other processes:
    /// per channel the count, then the means, then the sums of squared
    /// deviations (`3 × channels` values).
    pub fn to_parts(&self) -> Vec<f64> {
        let mut parts: Vec<f64> = self.n.iter().map(|&n| n as f64).collect();
        parts.extend(&self.mean);
        parts.extend(&self.m2);
        parts
    }

    /// The fit [`Self::to_parts`] described (for `channels` channels).
    pub fn from_parts(channels: usize, parts: &[f64]) -> Self {
        let part = |i: usize| {
            parts
                .get(i * channels..(i + 1) * channels)
                .unwrap_or_default()
        };
        Self {
            n: part(0).iter().map(|&n| n as u64).collect(),
            mean: part(1).to_vec(),
            m2: part(2).to_vec(),
        }
    }

    /// Adds the moments of a fit over other values of the same channels
    /// (Chan, Golub and LeVeque's pairwise update), as if its values had
    /// been pushed here; merging the same fits in the same order gives the
    /// same result on every process.
    pub fn merge(&mut self, other: &NormalizerFit) {
        for c in 0..self.n.len().min(other.n.len()) {
            let (na, nb) = (self.n[c] as f64, other.n[c] as f64);
            if other.n[c] == 0 {
                continue;
            }
            let n = na + nb;
            let d = other.mean[c] - self.mean[c];
            self.mean[c] += d * nb / n;
            self.m2[c] += other.m2[c] + d * d * na * nb / n;
            self.n[c] += other.n[c];
        }
    }

    /// The fitted normaliser.
    pub fn finish(&self) -> Normalizer {
        Normalizer {
            mean: self.mean.clone(),
            std: self
                .m2
                .iter()
                .zip(&self.n)
                .map(|(m2, &n)| (m2 / n.max(1) as f64).sqrt().max(EPS))
                .collect(),
        }
    }
}

impl Normalizer {
    /// The identity (mean 0, std 1) for `channels` channels.
    pub fn identity(channels: usize) -> Self {
        Self {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    fn broadcastable(&self, values: &[f64], x: &Tensor) -> Result<Tensor> {
        // Shape [1, C, 1, ...] to broadcast over batch and grid.
        let mut shape = vec![1usize; x.rank()];
        if x.rank() < 2 || x.dim(1)? != values.len() {
            candle_core::bail!(
                "normaliser has {} channels but the tensor is {:?} (channels on axis 1)",
                values.len(),
                x.shape()
            );
        }
        shape[1] = values.len();
        let v: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        Tensor::from_vec(v, shape, x.device())?.to_dtype(x.dtype())
    }

    /// (x - mean) / std, for `x` shaped `[B, C, ...]`.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let mean = self.broadcastable(&self.mean, x)?;
        let std = self.broadcastable(&self.std, x)?;
        x.broadcast_sub(&mean)?.broadcast_div(&std)
    }

    /// x * std + mean, the inverse of [`Normalizer::encode`].
    pub fn decode(&self, x: &Tensor) -> Result<Tensor> {
        let mean = self.broadcastable(&self.mean, x)?;
        let std = self.broadcastable(&self.std, x)?;
        x.broadcast_mul(&std)?.broadcast_add(&mean)
    }

    /// Decodes `[B, k * C, ...]` where the C channels repeat k times
    /// (an autoregressive rollout stacked as channels).
    pub fn decode_stacked(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let c = self.channels().max(1);
        let k = x.dim(1)? / c;
        if k <= 1 {
            return self.decode(x);
        }
        self.repeated(k).decode(x)
    }

    /// Encodes `[B, k * C, ...]` (see [`Normalizer::decode_stacked`]).
    pub fn encode_stacked(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let c = self.channels().max(1);
        let k = x.dim(1)? / c;
        if k <= 1 {
            return self.encode(x);
        }
        self.repeated(k).encode(x)
    }

    /// The normaliser for `times` copies of these channels stacked as
    /// channels (an autoregressive window of `times` frames).
    pub fn repeated(&self, times: usize) -> Normalizer {
        Normalizer {
            mean: self.mean.repeat(times),
            std: self.std.repeat(times),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_of_parts_merge_into_the_fit_of_the_whole() {
        let values: Vec<f32> = (0..101)
            .map(|i| ((i * 37) % 23) as f32 * 0.5 - 3.0)
            .collect();
        let mut whole = NormalizerFit::new(1);
        whole.push(0, values.iter().copied());
        let mut merged = NormalizerFit::new(1);
        for part in values.chunks(30) {
            let mut fit = NormalizerFit::new(1);
            fit.push(0, part.iter().copied());
            let sent = NormalizerFit::from_parts(1, &fit.to_parts());
            merged.merge(&sent);
        }
        let (a, b) = (whole.finish(), merged.finish());
        assert!((a.mean[0] - b.mean[0]).abs() < 1e-12, "{a:?} vs {b:?}");
        assert!((a.std[0] - b.std[0]).abs() < 1e-12, "{a:?} vs {b:?}");
        let mut empty = NormalizerFit::new(1);
        empty.merge(&NormalizerFit::new(1));
        assert_eq!(empty.to_parts(), vec![0.0; 3]);
    }
    use candle_core::Device;

    #[test]
    fn fit_encode_decode_round_trip() {
        let dev = Device::Cpu;
        let data: Vec<f32> = (0..2 * 2 * 5)
            .map(|i| (i as f32 * 0.7).sin() * 3.0 + (i % 2) as f32)
            .collect();
        let x = Tensor::from_vec(data.clone(), (2, 2, 5), &dev).unwrap();
        let mut fit = NormalizerFit::new(2);
        for b in 0..2 {
            for c in 0..2 {
                let start = b * 10 + c * 5;
                fit.push(c, data[start..start + 5].iter().copied());
            }
        }
        let norm = fit.finish();
        let z = norm.encode(&x).unwrap();
        // Each channel of the encoded data has mean 0 and std 1.
        for c in 0..2 {
            let ch = z
                .narrow(1, c, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let m = ch.iter().sum::<f32>() / ch.len() as f32;
            let s = (ch.iter().map(|v| (v - m).powi(2)).sum::<f32>() / ch.len() as f32).sqrt();
            assert!(
                m.abs() < 1e-5 && (s - 1.0).abs() < 1e-5,
                "channel {c}: {m} {s}"
            );
        }
        let back = norm.decode(&z).unwrap();
        let err = (back - &x)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(err < 1e-5);
        let json = serde_json::to_string(&norm).unwrap();
        assert_eq!(serde_json::from_str::<Normalizer>(&json).unwrap(), norm);
    }

    #[test]
    fn constant_channel_does_not_divide_by_zero_and_mismatch_errors() {
        let mut fit = NormalizerFit::new(1);
        fit.push(0, [2.0f32; 8]);
        let norm = fit.finish();
        assert_eq!(norm.std[0], EPS);
        let x = Tensor::zeros((1, 3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(norm.encode(&x).is_err());
    }
}
