//! Mixed precision: the precision in which the fused ops keep the tensors
//! their backward passes read.
//!
//! A training step's memory is mostly what the forward pass keeps for the
//! backward pass: the lifting and projection MLPs' hidden activation and
//! GELU's derivative there, and each Fourier block's input and GELU's
//! derivative. Under [`Precision::Bf16`] the fused ops (`MlpOp`,
//! `BlocksOp`) keep those as bf16, half the bytes, and widen each one back
//! to the op's dtype when the backward pass reaches it; everything they
//! compute (FFTs, mode mixing, GEMMs and their accumulation, reductions),
//! the tensors handed between ops, the loss, the gradients, the optimiser
//! state and the weights stay f32. The forward pass is therefore the f32
//! one, bit for bit; only the gradients see the rounding of the kept
//! copies (relative 2⁻⁸ at most per element).
//!
//! The precision is chosen like [`super::inference()`]: a scope on the
//! thread that builds the graph, read when an op is built.
use std::cell::Cell;

use candle_core::{DType, Result, Tensor};
use half::bf16;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::spectral::HostView;

/// The precision of what the fused ops keep for the backward pass
/// (`train.precision`, `fno bench --precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in the model's dtype. The default.
    #[default]
    F32,
    /// Saved activations and GELU derivatives in bf16; computation,
    /// gradients, optimiser state and weights in f32.
    Bf16,
}

impl Precision {
    /// The name used in configurations and reports (`f32`, `bf16`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        }
    }

    /// `t` as it is kept for a backward pass in this precision.
    pub(crate) fn keep(self, t: Tensor) -> Result<Tensor> {
        match self {
            Self::F32 => Ok(t),
            Self::Bf16 => narrow(t),
        }
    }
}

thread_local! {
    static KEPT_IN: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// Runs `f` with the fused ops built inside keeping their saved tensors in
/// `precision`. Scopes nest; the previous precision is restored when `f`
/// returns or unwinds.
pub fn with_precision<R>(precision: Precision, f: impl FnOnce() -> R) -> R {
    /// Puts the previous precision back, also on unwinding.
    struct Restore(Precision);
    impl Drop for Restore {
        fn drop(&mut self) {
            KEPT_IN.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(KEPT_IN.with(|p| p.replace(precision)));
    f()
}

/// The precision ops built now keep their saved tensors in.
pub(crate) fn kept_precision() -> Precision {
    KEPT_IN.with(Cell::get)
}

/// Elements per rayon task of the conversions: large enough that the
/// split costs nothing next to the work.
const CHUNK: usize = 1 << 14;

/// `t` in bf16. On the CPU an f32 tensor is converted across the rayon
/// pool (candle's cast runs on one thread); elsewhere candle's cast.
fn narrow(t: Tensor) -> Result<Tensor> {
    if t.dtype() == DType::BF16 {
        return Ok(t);
    }
    if t.device().is_cpu() && t.dtype() == DType::F32 && t.is_contiguous() {
        let values = {
            let view = HostView::new("bf16 copy", &t)?;
            convert(view.slice::<f32>()?, bf16::ZERO, to_bf16)
        };
        return Tensor::from_vec(values, t.shape(), t.device());
    }
    t.to_dtype(DType::BF16)
}

/// `t` in `dtype`: a kept tensor widened back for the backward pass (a
/// cheap clone when it already is `dtype`).
pub(crate) fn widen(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == dtype {
        return Ok(t.clone());
    }
    if t.device().is_cpu() && t.dtype() == DType::BF16 && dtype == DType::F32 && t.is_contiguous() {
        let values = {
            let view = HostView::new("bf16 copy", t)?;
            convert(view.slice::<bf16>()?, 0.0, |h| {
                f32::from_bits(u32::from(h.to_bits()) << 16)
            })
        };
        return Tensor::from_vec(values, t.shape(), t.device());
    }
    t.to_dtype(dtype)
}

/// `f` applied to every element of `from`, in chunks across the rayon
/// pool; plain loops over slices, so that the conversions vectorise.
fn convert<A: Copy + Sync, B: Copy + Send + Sync>(
    from: &[A],
    zero: B,
    f: impl Fn(A) -> B + Sync,
) -> Vec<B> {
    let mut to = vec![zero; from.len()];
    to.par_chunks_mut(CHUNK)
        .zip(from.par_chunks(CHUNK))
        .for_each(|(to, from)| to.iter_mut().zip(from).for_each(|(t, &x)| *t = f(x)));
    to
}

/// `x` rounded to the nearest bf16, ties to even, as `bf16::from_f32`
/// does, but without branches: a NaN stays a (quiet) NaN.
fn to_bf16(x: f32) -> bf16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    let nan = (bits >> 16) | 0x40;
    bf16::from_bits(if x.is_nan() { nan } else { rounded } as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::max_abs_diff;
    use crate::model::{Fno, ModelConfig};
    use candle_core::{Device, Var};
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn scopes_nest_and_restore() {
        assert_eq!(kept_precision(), Precision::F32);
        with_precision(Precision::Bf16, || {
            assert_eq!(kept_precision(), Precision::Bf16);
            with_precision(Precision::F32, || {
                assert_eq!(kept_precision(), Precision::F32)
            });
            assert_eq!(kept_precision(), Precision::Bf16);
        });
        assert_eq!(kept_precision(), Precision::F32);
        let unwound =
            std::panic::catch_unwind(|| with_precision(Precision::Bf16, || panic!("inside")));
        assert!(unwound.is_err());
        assert_eq!(kept_precision(), Precision::F32);
    }

    /// The parallel conversions round as candle's cast does (to nearest,
    /// ties to even), both ways, and f32 keeps the tensor as it is.
    #[test]
    fn kept_copies_round_as_candles_cast() {
        let t = Tensor::randn(0f32, 3.0, (3, 5, 40_000), &Device::Cpu).unwrap();
        let kept = Precision::Bf16.keep(t.clone()).unwrap();
        assert_eq!(kept.dtype(), DType::BF16);
        let cast = t.to_dtype(DType::BF16).unwrap();
        let bits = |t: &Tensor| -> Vec<f32> {
            t.to_dtype(DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        assert_eq!(bits(&kept), bits(&cast));
        let wide = widen(&kept, DType::F32).unwrap();
        assert_eq!(wide.dtype(), DType::F32);
        assert_eq!(bits(&wide), bits(&cast));
        let original: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        for (a, b) in bits(&wide).iter().zip(&original) {
            assert!((a - b).abs() <= b.abs() * 2f32.powi(-8), "{a} from {b}");
        }
        let same = Precision::F32.keep(t.clone()).unwrap();
        assert_eq!(same.dtype(), DType::F32);
        assert_eq!(bits(&same), original);
        let specials = Tensor::new(
            &[
                f32::NAN,
                f32::INFINITY,
                -f32::INFINITY,
                f32::MAX,
                -0.0,
                1e-40,
            ],
            &Device::Cpu,
        )
        .unwrap();
        let kept = bits(&Precision::Bf16.keep(specials.clone()).unwrap());
        let cast = bits(&specials.to_dtype(DType::BF16).unwrap());
        assert!(kept[0].is_nan());
        assert_eq!(kept[1..], cast[1..]);
        let f64_back = widen(
            &Precision::Bf16
                .keep(t.to_dtype(DType::F64).unwrap())
                .unwrap(),
            DType::F64,
        )
        .unwrap();
        assert_eq!(f64_back.dtype(), DType::F64);
    }

    /// The norm of a tensor, as f64.
    fn norm(t: &Tensor) -> f64 {
        t.to_dtype(DType::F64)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
            .sqrt()
    }

    /// A training step's forward pass and gradients with the model's ops
    /// keeping bf16 copies against f32: the output is the same bit for bit
    /// (nothing computed is rounded), and every parameter's and the
    /// input's gradient differs, relative to its norm, by at most
    /// `(2L + 2)·2⁻⁸`. Each kept value is rounded once to bf16 (relative
    /// error at most 2⁻⁸, bf16 carrying 8 significant bits); the deepest gradient (the lifting's first
    /// layer) is a sum of products through the projection's derivative
    /// and hidden activation, each block's input and derivative and the
    /// lifting's derivative, `2L + 2` rounded factors, so even errors that
    /// all added up in one direction stay within the bound. Some gradient
    /// must differ, or nothing was kept in bf16.
    #[test]
    fn bf16_gradients_agree_with_f32_to_the_rounding_of_the_kept_copies() {
        let layers = 3;
        let cfg = ModelConfig {
            dims: 2,
            modes: vec![4, 4],
            width: 8,
            layers,
            in_channels: 1,
            out_channels: 1,
            ..ModelConfig::default()
        };
        let map = VarMap::new();
        let model = Fno::new(
            &cfg,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 1, 16, 12), &Device::Cpu).unwrap())
            .unwrap();
        let y = Tensor::randn(0f32, 1.0, (3, 1, 16, 12), &Device::Cpu).unwrap();
        let step = |precision| {
            with_precision(precision, || {
                let out = model.forward(x.as_tensor()).unwrap();
                let grads = candle_nn::loss::mse(&out, &y).unwrap().backward().unwrap();
                (out, grads)
            })
        };
        let (out32, g32) = step(Precision::F32);
        let (out16, g16) = step(Precision::Bf16);
        assert_eq!(max_abs_diff(&out32, &out16), 0.0);
        let bound = (2 * layers + 2) as f64 * 2f64.powi(-8);
        let mut largest: f64 = 0.0;
        let vars = map.data().lock().unwrap().clone();
        for (name, var) in vars
            .iter()
            .map(|(n, v)| (n.as_str(), v))
            .chain([("input", &x)])
        {
            let (a, b) = (g32.get(var).unwrap(), g16.get(var).unwrap());
            assert_eq!(b.dtype(), DType::F32, "{name}");
            let rel = norm(&(a - b).unwrap()) / norm(a);
            assert!(rel <= bound, "{name}: {rel} > {bound}");
            largest = largest.max(rel);
        }
        assert!(largest > 0.0, "no gradient saw a bf16 copy");
    }
}
