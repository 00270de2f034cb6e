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

/// Largest |z| of a sigmoid-parametrised input; see
/// [`Parametrization::z_limit`].
const Z_LIMIT: f64 = 4.0;

/// The map from the optimised tensor `z` to the physical input.
#[derive(Debug, Clone, PartialEq)]
pub enum Parametrization {
    /// `a = lo + (hi − lo)·σ(z)`.
    Sigmoid(Bounds),
    /// `a = mean + std·z` with the run's input normaliser.
    Normalized(Normalizer),
}

impl Parametrization {
    /// The physical input for `z`, with the sigmoid's argument multiplied
    /// by `sharpness` (see [`Parametrization::sharpness`]; 1 is the plain
    /// parametrisation, and normalised inputs ignore it).
    pub fn physical(&self, z: &Tensor, sharpness: f64) -> Result<Tensor> {
        match self {
            Self::Sigmoid(b) => self.scaled(z, sharpness)?.affine(b.hi - b.lo, b.lo),
            Self::Normalized(n) => n.decode(z),
        }
    }

    /// The input on a scale of order one, where regularisers are measured:
    /// σ(sharpness·z) ∈ (0, 1) for bounded inputs, `z` otherwise.
    pub fn scaled(&self, z: &Tensor, sharpness: f64) -> Result<Tensor> {
        match self {
            Self::Sigmoid(_) if sharpness == 1.0 => candle_nn::ops::sigmoid(z),
            Self::Sigmoid(_) => candle_nn::ops::sigmoid(&(z * sharpness)?),
            Self::Normalized(_) => Ok(z.clone()),
        }
    }

    /// The sigmoid's sharpness at `progress` ∈ [0, 1] through the
    /// optimisation, for a final sharpness `last`: 1 for the first half,
    /// then rising geometrically to `last` at 90%.
    ///
    /// Why: for a two-valued coefficient the continuous optimum through a
    /// surrogate mixes the two values along blob boundaries, and fits the
    /// observations better than the true (binary) coefficient does, so
    /// binarising it afterwards lands far from the truth. Sharpening the
    /// sigmoid as the optimisation goes (the projection continuation of
    /// topology optimisation) makes the late iterates nearly binary, so
    /// the search ends among the fields the coefficient can actually be.
    /// Inputs that are not two-valued keep sharpness 1.
    pub fn sharpness(&self, progress: f64, last: f64) -> f64 {
        match self {
            Self::Sigmoid(b) if b.two_valued && last > 1.0 => {
                let ramp = ((progress - 0.5) / 0.4).clamp(0.0, 1.0);
                last.powf(ramp)
            }
            _ => 1.0,
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

    /// The range `z` is kept in after every optimiser step, if any. A
    /// sigmoid saturates: once |z| is large, σ'(z) ≈ e^(−|z|) and a cell
    /// can no longer change side, so boundaries of a two-valued
    /// coefficient freeze where they first formed. Within ±4 the sigmoid
    /// still reaches 98% of the way to either bound.
    pub fn z_limit(&self) -> Option<f64> {
        match self {
            Self::Sigmoid(_) => Some(Z_LIMIT),
            Self::Normalized(_) => None,
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
        let a = p.physical(&z, 1.0).unwrap().to_vec1::<f32>().unwrap();
        assert!(a.iter().all(|&v| (3.0..=12.0).contains(&v)), "{a:?}");
        assert!((a[2] - 7.5).abs() < 1e-5);
        let back = p
            .unconstrained(&p.physical(&z.narrow(0, 1, 3).unwrap(), 1.0).unwrap())
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
            .physical(z.as_tensor(), 2.5)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let g = grads.get(&z).unwrap().to_vec1::<f64>().unwrap();
        let f = |v: &[f64]| -> f64 {
            let t = Tensor::new(v, &Device::Cpu).unwrap();
            let a = p.physical(&t, 2.5).unwrap();
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
    fn sharpness_rises_only_for_two_valued_inputs() {
        let p = bounds(true);
        let k: Vec<f64> = (0..=10)
            .map(|i| p.sharpness(i as f64 / 10.0, 16.0))
            .collect();
        assert_eq!((k[0], k[5]), (1.0, 1.0));
        assert!(
            (k[9] - 16.0).abs() < 1e-9 && (k[10] - 16.0).abs() < 1e-9,
            "{k:?}"
        );
        assert!(k.windows(2).all(|w| w[1] >= w[0]), "{k:?}");
        assert_eq!(p.sharpness(1.0, 1.0), 1.0);
        assert_eq!(bounds(false).sharpness(1.0, 16.0), 1.0);
        // A sharper sigmoid is nearer to binary at the same z.
        let z = Tensor::new(&[0.3f32], &Device::Cpu).unwrap();
        let soft = p.scaled(&z, 1.0).unwrap().to_vec1::<f32>().unwrap()[0];
        let sharp = p.scaled(&z, 16.0).unwrap().to_vec1::<f32>().unwrap()[0];
        assert!(soft < 0.6 && sharp > 0.99, "{soft} {sharp}");
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
        assert_eq!(n.scaled(&z, 3.0).unwrap().dims(), &[1, 1, 4]);
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
