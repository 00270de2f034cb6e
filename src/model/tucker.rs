//! TFNO's spectral convolution (Kossaifi et al., "Multi-Grid Tensorized
//! Fourier Neural Operator"): the dense complex weight
//! `W[i, o, k_1, .., k_d]` of a [`SpectralConv`] held as a complex Tucker
//! tensor, `W = G ×_1 U_in ×_2 U_out ×_3 U_1 .. ×_{d+2} U_d`, with a core
//! `G` of the Tucker ranks' shape and one factor `U_n: [size_n, rank_n]`
//! per mode.
//!
//! Every forward pass rebuilds `W` from the core and factors with candle
//! ops (mode products as complex matmuls, a few times smaller than one
//! batch's activations) and convolves with it through the unchanged
//! spectral convolution, so candle differentiates the reconstruction and
//! the layer runs wherever the dense one does.
use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use super::error::ModelError;
use crate::spectral::{ModeClip, SpectralConv, SpectralConvConfig};

/// The Tucker ranks for a fraction `rank` of the parameters of a tensor of
/// `shape`, as tensorly 0.10's `validate_tucker_rank` (which tensorly-torch
/// and so neuraloperator's TFNO use) computes them: the one `c` with
/// `c^N Π shape + c Σ shape_n² = rank · Π shape` (core plus factors of
/// ranks `c · shape_n`), then `round(c · shape_n)` (half to even), at
/// least 1. For `rank <= 1` every rank is at most its size.
pub fn tucker_ranks(shape: &[usize], rank: f64) -> Vec<usize> {
    let entries: f64 = shape.iter().map(|&s| s as f64).product();
    let squares: f64 = shape.iter().map(|&s| (s as f64).powi(2)).sum();
    let order = shape.len() as i32;
    // Increasing in c, negative at 0 and positive at max(rank, 1).
    let excess = |c: f64| entries * c.powi(order) + squares * c - rank * entries;
    let (mut lo, mut hi) = (0.0f64, rank.max(1.0));
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if excess(mid) > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let c = 0.5 * (lo + hi);
    shape
        .iter()
        .map(|&s| ((s as f64 * c).round_ties_even() as usize).max(1))
        .collect()
}

/// Trainable scalars of one Tucker-factorised weight of `shape` at the
/// fraction `rank`: real and imaginary parts of the core and the factors.
pub fn tucker_parameter_count(shape: &[usize], rank: f64) -> f64 {
    let ranks = tucker_ranks(shape, rank);
    let core: f64 = ranks.iter().map(|&r| r as f64).product();
    let factors: f64 = shape
        .iter()
        .zip(&ranks)
        .map(|(&s, &r)| s as f64 * r as f64)
        .sum();
    2.0 * (core + factors)
}

/// A complex tensor as its real and imaginary parts.
#[derive(Debug, Clone)]
struct Complex {
    re: Tensor,
    im: Tensor,
}

impl Complex {
    fn get(vb: &VarBuilder, shape: &[usize], name: &str, init: Init) -> candle_core::Result<Self> {
        Ok(Self {
            re: vb.get_with_hints(shape, &format!("{name}_re"), init)?,
            im: vb.get_with_hints(shape, &format!("{name}_im"), init)?,
        })
    }

    fn elem_count(&self) -> usize {
        self.re.elem_count() + self.im.elem_count()
    }
}

/// A spectral convolution whose weight is a complex Tucker tensor.
///
/// Parameters: `core_re`, `core_im` (the ranks' shape) and `factor{n}_re`,
/// `factor{n}_im` (`[size_n, rank_n]`) for the modes `n` of the dense
/// weight `[C_in, C_out, 2m_1, .., m_d]` in that order. Fresh values are
/// normal with mean 0 and one standard deviation for all of them, chosen
/// so that the rebuilt weight's mean square equals that of the dense
/// layer's initial weight (uniform on `[0, 1/(C_in C_out))` in each part).
#[derive(Debug, Clone)]
pub(super) struct TuckerConv {
    cfg: SpectralConvConfig,
    core: Complex,
    factors: Vec<Complex>,
}

impl TuckerConv {
    /// Creates (or loads, depending on `vb`) the core and factors for the
    /// dense layer `cfg` at the parameter fraction `rank`.
    pub(super) fn new(
        cfg: &SpectralConvConfig,
        rank: f64,
        vb: VarBuilder,
    ) -> Result<Self, ModelError> {
        cfg.validate()?;
        let shape = cfg.weight_shape();
        let ranks = tucker_ranks(&shape, rank);
        let init = Init::Randn {
            mean: 0.0,
            stdev: init_stdev(cfg, &ranks),
        };
        let core = Complex::get(&vb, &ranks, "core", init)?;
        let factors = shape
            .iter()
            .zip(&ranks)
            .enumerate()
            .map(|(n, (&s, &r))| Complex::get(&vb, &[s, r], &format!("factor{n}"), init))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            core,
            factors,
        })
    }

    /// The dense weight `(re, im)`, `[C_in, C_out, 2m_1, .., m_d]`.
    ///
    /// The core's leading axis is contracted with a factor and the result
    /// appended as the last axis, once per mode: after all of them the axes
    /// are back in order, each with its full size.
    pub(super) fn weight(&self) -> candle_core::Result<(Tensor, Tensor)> {
        let (mut re, mut im) = (self.core.re.clone(), self.core.im.clone());
        for factor in &self.factors {
            let dims = re.dims().to_vec();
            let rest: usize = dims[1..].iter().product();
            let a_re = re.reshape((dims[0], rest))?.t()?;
            let a_im = im.reshape((dims[0], rest))?.t()?;
            let b_re = factor.re.t()?;
            let b_im = factor.im.t()?;
            let mut shape = dims[1..].to_vec();
            shape.push(factor.re.dim(0)?);
            let next_re = (a_re.matmul(&b_re)? - a_im.matmul(&b_im)?)?;
            let next_im = (a_re.matmul(&b_im)? + a_im.matmul(&b_re)?)?;
            re = next_re.reshape(shape.as_slice())?;
            im = next_im.reshape(shape.as_slice())?;
        }
        Ok((re, im))
    }

    /// The convolution with the rebuilt weight onto `out_grid`.
    pub(super) fn forward_to(&self, x: &Tensor, out_grid: &[usize]) -> Result<Tensor, ModelError> {
        let (re, im) = self.weight()?;
        let conv = SpectralConv::from_weights(&self.cfg, re, im)?;
        Ok(conv.forward_to(x, out_grid)?)
    }

    /// See [`SpectralConv::clipped_modes_to`].
    pub(super) fn clipped_modes_to(
        &self,
        in_grid: &[usize],
        out_grid: &[usize],
    ) -> Option<ModeClip> {
        self.cfg.clipped_modes_to(in_grid, out_grid)
    }

    /// Number of trainable scalars.
    pub(super) fn num_parameters(&self) -> usize {
        self.core.elem_count() + self.factors.iter().map(Complex::elem_count).sum::<usize>()
    }
}

/// The standard deviation `s` of each real part of the core and factors
/// that gives the rebuilt weight the dense initial weight's mean square.
///
/// Each entry of the weight is a sum of `Π ranks` uncorrelated products of
/// `order + 1` complex numbers of mean square `2 s²`, so its mean square is
/// `Π ranks · (2 s²)^(order + 1)`; the dense layer's real and imaginary
/// parts, uniform on `[0, a)` with `a = 1/(C_in C_out)`, give `2 a² / 3`.
fn init_stdev(cfg: &SpectralConvConfig, ranks: &[usize]) -> f64 {
    let a = 1.0 / (cfg.in_channels * cfg.out_channels) as f64;
    let terms: f64 = ranks.iter().map(|&r| r as f64).product();
    let factor_square = (2.0 * a * a / 3.0 / terms).powf(1.0 / (ranks.len() + 1) as f64);
    (factor_square / 2.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectral::SpectralBackend;
    use candle_core::{DType, Device, Module};
    use std::collections::HashMap;

    #[test]
    fn ranks_match_tensorly() {
        // tensorly 0.10.0's validate_tucker_rank(shape, rank) on the same
        // shapes (read off /work/refvenv).
        for (shape, rank, expected) in [
            (vec![32, 32, 24, 12], 0.1, vec![18, 18, 13, 7]),
            (vec![32, 32, 24, 12], 0.5, vec![27, 27, 20, 10]),
            (vec![8, 8, 8, 4], 0.1, vec![4, 4, 4, 2]),
            (vec![8, 8, 8, 4], 1.0, vec![8, 8, 8, 4]),
            (vec![64, 64, 16], 0.1, vec![24, 24, 6]),
            (vec![4, 4, 6], 0.05, vec![1, 1, 1]),
            (vec![8, 8, 8, 8, 4], 0.25, vec![6, 6, 6, 6, 3]),
        ] {
            assert_eq!(tucker_ranks(&shape, rank), expected, "{shape:?} at {rank}");
        }
    }

    fn cfg(modes: &[usize]) -> SpectralConvConfig {
        SpectralConvConfig {
            in_channels: 2,
            out_channels: 3,
            modes: modes.to_vec(),
            backend: SpectralBackend::Fft,
        }
    }

    fn random(shape: &[usize], seed: u64) -> Tensor {
        crate::spectral::testutil::random(seed, shape, DType::F64)
    }

    /// The full-rank layer from explicit core and factor values.
    fn layer(cfg: &SpectralConvConfig, params: &HashMap<String, Tensor>) -> TuckerConv {
        let vb = VarBuilder::from_tensors(params.clone(), DType::F64, &Device::Cpu);
        TuckerConv::new(cfg, 1.0, vb).unwrap()
    }

    fn names(order: usize) -> Vec<String> {
        let mut names = vec!["core_re".to_string(), "core_im".to_string()];
        for n in 0..order {
            names.push(format!("factor{n}_re"));
            names.push(format!("factor{n}_im"));
        }
        names
    }

    /// At full rank, a core equal to a dense weight and identity factors
    /// rebuild that weight exactly, and the layer is the dense layer.
    #[test]
    fn full_rank_with_identity_factors_is_the_dense_layer() {
        let c = SpectralConvConfig {
            in_channels: 3,
            out_channels: 3,
            modes: vec![2, 3],
            backend: SpectralBackend::Fft,
        };
        let shape = c.weight_shape();
        assert_eq!(tucker_ranks(&shape, 1.0), vec![3, 3, 4, 3]);
        let (w_re, w_im) = (random(&shape, 1), random(&shape, 2));
        let mut params = HashMap::from([
            ("core_re".to_string(), w_re.clone()),
            ("core_im".to_string(), w_im.clone()),
        ]);
        for (n, &s) in shape.iter().enumerate() {
            let eye = Tensor::eye(s, DType::F64, &Device::Cpu).unwrap();
            params.insert(format!("factor{n}_re"), eye.clone());
            params.insert(format!("factor{n}_im"), eye.zeros_like().unwrap());
        }
        let tucker = layer(&c, &params);
        let (re, im) = tucker.weight().unwrap();
        let diff = |a: &Tensor, b: &Tensor| -> f64 {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        assert_eq!(diff(&re, &w_re), 0.0);
        assert_eq!(diff(&im, &w_im), 0.0);
        let dense = SpectralConv::from_weights(&c, w_re, w_im).unwrap();
        let x = random(&[2, 3, 8, 7], 3);
        assert!(
            diff(
                &tucker.forward_to(&x, &[8, 7]).unwrap(),
                &dense.forward(&x).unwrap()
            ) < 1e-14
        );
    }

    /// The rebuilt weight against the Tucker sum written out entry by entry.
    #[test]
    fn weight_is_the_tucker_sum() {
        let c = cfg(&[2]);
        let shape = c.weight_shape();
        let ranks = [2, 2, 1];
        let mut params = HashMap::from([
            ("core_re".to_string(), random(&ranks, 1)),
            ("core_im".to_string(), random(&ranks, 2)),
        ]);
        for (n, (&s, &r)) in shape.iter().zip(&ranks).enumerate() {
            params.insert(format!("factor{n}_re"), random(&[s, r], 10 + n as u64));
            params.insert(format!("factor{n}_im"), random(&[s, r], 20 + n as u64));
        }
        let vb = VarBuilder::from_tensors(params.clone(), DType::F64, &Device::Cpu);
        let (re, im) = TuckerConv {
            cfg: c.clone(),
            core: Complex::get(&vb, &ranks, "core", Init::Const(0.0)).unwrap(),
            factors: (0..3)
                .map(|n| {
                    Complex::get(
                        &vb,
                        &[shape[n], ranks[n]],
                        &format!("factor{n}"),
                        Init::Const(0.0),
                    )
                    .unwrap()
                })
                .collect(),
        }
        .weight()
        .unwrap();
        let value = |name: &str, idx: &[usize]| -> f64 {
            let mut t = params[name].clone();
            for &i in idx {
                t = t.get(i).unwrap();
            }
            t.to_scalar().unwrap()
        };
        let cplx = |name: &str, idx: &[usize]| {
            (
                value(&format!("{name}_re"), idx),
                value(&format!("{name}_im"), idx),
            )
        };
        let mul = |a: (f64, f64), b: (f64, f64)| (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0);
        for i in 0..shape[0] {
            for o in 0..shape[1] {
                for k in 0..shape[2] {
                    let mut sum = (0.0, 0.0);
                    for a in 0..ranks[0] {
                        for b in 0..ranks[1] {
                            let mut term = cplx("core", &[a, b, 0]);
                            term = mul(term, cplx("factor0", &[i, a]));
                            term = mul(term, cplx("factor1", &[o, b]));
                            term = mul(term, cplx("factor2", &[k, 0]));
                            sum = (sum.0 + term.0, sum.1 + term.1);
                        }
                    }
                    let got_re: f64 = re
                        .get(i)
                        .unwrap()
                        .get(o)
                        .unwrap()
                        .get(k)
                        .unwrap()
                        .to_scalar()
                        .unwrap();
                    let got_im: f64 = im
                        .get(i)
                        .unwrap()
                        .get(o)
                        .unwrap()
                        .get(k)
                        .unwrap()
                        .to_scalar()
                        .unwrap();
                    assert!((got_re - sum.0).abs() < 1e-14 && (got_im - sum.1).abs() < 1e-14);
                }
            }
        }
    }

    /// Core and factors drawn at the initial standard deviation rebuild a
    /// weight with the dense initial weight's mean square, `a² / 3` per
    /// part with `a = 1/(C_in C_out)` (one fixed draw; a wrong exponent or
    /// factor in the formula would be off by far more than the bound).
    #[test]
    fn initial_weight_has_the_dense_scale() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let c = SpectralConvConfig {
            in_channels: 8,
            out_channels: 8,
            modes: vec![4, 4],
            backend: SpectralBackend::Fft,
        };
        let shape = c.weight_shape();
        let ranks = tucker_ranks(&shape, 0.5);
        let normal = Normal::new(0.0, init_stdev(&c, &ranks)).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut draw = |dims: &[usize]| {
            let n = dims.iter().product();
            let values: Vec<f64> = (0..n).map(|_| normal.sample(&mut rng)).collect();
            Tensor::from_vec(values, dims, &Device::Cpu).unwrap()
        };
        let mut params = HashMap::new();
        for part in ["re", "im"] {
            params.insert(format!("core_{part}"), draw(&ranks));
        }
        for (n, (&s, &r)) in shape.iter().zip(&ranks).enumerate() {
            for part in ["re", "im"] {
                params.insert(format!("factor{n}_{part}"), draw(&[s, r]));
            }
        }
        let vb = VarBuilder::from_tensors(params, DType::F64, &Device::Cpu);
        let (re, im) = TuckerConv::new(&c, 0.5, vb).unwrap().weight().unwrap();
        let a = 1.0 / 64.0;
        for part in [re, im] {
            let mean_square: f64 = part.sqr().unwrap().mean_all().unwrap().to_scalar().unwrap();
            let ratio = mean_square / (a * a / 3.0);
            assert!((0.5..2.0).contains(&ratio), "{ratio}");
        }
    }

    /// Central finite differences in f64 against candle's gradients of the
    /// layer (input, core and every factor), 1D and 2D, onto the input grid
    /// and onto another one.
    #[test]
    fn gradients_match_finite_differences() {
        for (modes, grid, out, rank) in [
            (vec![3], vec![9], vec![12], 0.5),
            (vec![2, 3], vec![6, 7], vec![6, 7], 0.3),
            (vec![2, 2], vec![5, 6], vec![8, 5], 1.0),
        ] {
            let c = cfg(&modes);
            let shape = c.weight_shape();
            let ranks = tucker_ranks(&shape, rank);
            let mut inputs = vec![random(&[[1, 2].as_slice(), &grid].concat(), 1)];
            inputs.push(random(&ranks, 2));
            inputs.push(random(&ranks, 3));
            for (n, (&s, &r)) in shape.iter().zip(&ranks).enumerate() {
                inputs.push(random(&[s, r], 10 + n as u64));
                inputs.push(random(&[s, r], 20 + n as u64));
            }
            let order = names(shape.len());
            let errors = crate::spectral::testutil::grad_check(&inputs, |a| {
                let params: HashMap<String, Tensor> =
                    order.iter().cloned().zip(a[1..].iter().cloned()).collect();
                let vb = VarBuilder::from_tensors(params, DType::F64, &Device::Cpu);
                TuckerConv::new(&c, rank, vb)
                    .and_then(|l| l.forward_to(&a[0], &out))
                    .map_err(candle_core::Error::wrap)
            });
            // The output is linear in each single entry of the core or a
            // factor (each appears once in every product), so central
            // differences are exact up to rounding.
            assert!(
                errors.iter().all(|&e| e < 1e-6),
                "{modes:?} {grid:?} -> {out:?}: {errors:?}"
            );
        }
    }
}
