//! How the unknown input is represented during the optimisation.
//!
//! The optimiser works on an unconstrained tensor `z` of order one. A
//! coefficient with known bounds is `lo + (hi − lo)·σ(z)`, so every iterate
//! stays inside them without projection; an initial condition is `z` in the
//! units of the run's input normaliser, so one learning rate fits every data
//! set.
use crate::data::Normalizer;
use candle_core::{Result, Tensor};
use serde::Serialize;

/// Bounds of the input, known a priori.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// The input takes only these two values, so the result is binarised.
    pub two_valued: bool,
}

/// The map from the optimised tensor `z` to the physical input.
#[derive(Debug, Clone, PartialEq)]
pub enum Parametrization {
    /// `a = lo + (hi − lo)·σ(z)`.
    Sigmoid(Bounds),
    /// `a = mean + std·z` with the run's input normaliser.
    Normalized(Normalizer),
}

impl Parametrization {
    /// The physical input for `z`.
    pub fn physical(&self, z: &Tensor) -> Result<Tensor> {
        match self {
            Self::Sigmoid(b) => candle_nn::ops::sigmoid(z)?.affine(b.hi - b.lo, b.lo),
            Self::Normalized(n) => n.decode(z),
        }
    }

    /// The input on a scale of order one, where regularisers are measured:
    /// σ(z) ∈ (0, 1) for bounded inputs, `z` otherwise.
    pub fn scaled(&self, z: &Tensor) -> Result<Tensor> {
        match self {
            Self::Sigmoid(_) => candle_nn::ops::sigmoid(z),
            Self::Normalized(_) => Ok(z.clone()),
        }
    }

    /// The `z` of a physical input; bounded values are pulled a little
    /// inside the bounds so the logit stays finite.
    pub fn unconstrained(&self, a: &Tensor) -> Result<Tensor> {
        match self {
            Self::Sigmoid(b) => {
                let s = a
                    .affine(1.0 / (b.hi - b.lo), -b.lo / (b.hi - b.lo))?
                    .clamp(1e-3, 1.0 - 1e-3)?;
                // logit(s) = ln s − ln(1 − s)
                s.log()? - s.affine(-1.0, 1.0)?.log()?
            }
            Self::Normalized(n) => n.encode(a),
        }
    }

    /// Rounds a two-valued input to the nearer of its values; any other
    /// input is returned unchanged.
    pub fn binarize(&self, a: &[f32]) -> Option<Vec<f32>> {
        match self {
            Self::Sigmoid(b) if b.two_valued => {
                let mid = 0.5 * (b.lo + b.hi);
                Some(
                    a.iter()
                        .map(|&v| {
                            if f64::from(v) >= mid {
                                b.hi as f32
                            } else {
                                b.lo as f32
                            }
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// Bounds, for the report.
    pub fn bounds(&self) -> Option<Bounds> {
        match self {
            Self::Sigmoid(b) => Some(*b),
            Self::Normalized(_) => None,
        }
    }
}

/// Bounds from the input fields of other samples of the same family: their
/// range, and whether they take exactly two values.
pub fn bounds_from_examples(values: impl IntoIterator<Item = f32>) -> Option<Bounds> {
    let mut distinct: Vec<f32> = Vec::new();
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for v in values {
        if !v.is_finite() {
            continue;
        }
        lo = lo.min(v);
        hi = hi.max(v);
        if distinct.len() <= 2 && !distinct.contains(&v) {
            distinct.push(v);
        }
    }
    (hi > lo).then_some(Bounds {
        lo: f64::from(lo),
        hi: f64::from(hi),
        two_valued: distinct.len() == 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn bounds(two_valued: bool) -> Parametrization {
        Parametrization::Sigmoid(Bounds {
            lo: 3.0,
            hi: 12.0,
            two_valued,
        })
    }

    #[test]
    fn sigmoid_stays_in_bounds_and_inverts() {
        let p = bounds(true);
        let z = Tensor::new(&[-50.0f32, -1.0, 0.0, 2.0, 50.0], &Device::Cpu).unwrap();
        let a = p.physical(&z).unwrap().to_vec1::<f32>().unwrap();
        assert!(a.iter().all(|&v| (3.0..=12.0).contains(&v)), "{a:?}");
        assert!((a[2] - 7.5).abs() < 1e-5);
        let back = p
            .unconstrained(&p.physical(&z.narrow(0, 1, 3).unwrap()).unwrap())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (b, want) in back.iter().zip([-1.0, 0.0, 2.0]) {
            assert!((b - want).abs() < 1e-4, "{back:?}");
        }
        // The bounds themselves map to finite values.
        let edge = Tensor::new(&[3.0f32, 12.0], &Device::Cpu).unwrap();
        let z = p.unconstrained(&edge).unwrap().to_vec1::<f32>().unwrap();
        assert!(z.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn sigmoid_gradient_matches_finite_differences() {
        let p = bounds(false);
        let z0 = [-1.3f64, 0.2, 0.9];
        let z = Var::new(&z0[..], &Device::Cpu).unwrap();
        let loss = p
            .physical(z.as_tensor())
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let g = grads.get(&z).unwrap().to_vec1::<f64>().unwrap();
        let f = |v: &[f64]| -> f64 {
            let t = Tensor::new(v, &Device::Cpu).unwrap();
            let a = p.physical(&t).unwrap();
            a.sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let h = 1e-6;
        for i in 0..3 {
            let (mut up, mut down) = (z0, z0);
            up[i] += h;
            down[i] -= h;
            let fd = (f(&up) - f(&down)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-6 * fd.abs().max(1.0),
                "{fd} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn binarizes_only_two_valued_inputs() {
        assert_eq!(
            bounds(true).binarize(&[3.5, 7.4, 7.6, 11.0]),
            Some(vec![3.0, 3.0, 12.0, 12.0])
        );
        assert_eq!(bounds(false).binarize(&[3.5]), None);
        let n = Parametrization::Normalized(Normalizer::identity(1));
        assert_eq!(n.binarize(&[0.5]), None);
        let z = Tensor::zeros((1, 1, 4), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(n.scaled(&z).unwrap().dims(), &[1, 1, 4]);
    }

    #[test]
    fn bounds_come_from_examples() {
        let b = bounds_from_examples([3.0, 12.0, 3.0, f32::NAN]).unwrap();
        assert_eq!((b.lo, b.hi, b.two_valued), (3.0, 12.0, true));
        let c = bounds_from_examples([0.1, 0.5, 1.0]).unwrap();
        assert!(!c.two_valued);
        assert!(bounds_from_examples([2.0, 2.0]).is_none());
    }
}
