//! Activations, with GELU as a fast vectorised custom op.
//!
//! candle's `gelu_erf` evaluates a scalar, branchy `erf` on one thread: over
//! the `[20, 32, 64, 64]` hidden state of the FNO-2D benchmark it costs about
//! 11 ms, and a training step touches the activation a dozen times. [`gelu`]
//! computes the exact (erf) GELU, as PyTorch's default `F.gelu` that
//! neuraloperator uses, but for f32 it evaluates the normal CDF without
//! branches or libm calls, so the loops vectorise (AVX2 + FMA when the CPU
//! has them, picked at run time), and it splits the tensor across the rayon
//! pool. Where the derivative is kept for the backward pass, `erf` comes
//! from Abramowitz and Stegun's formula 7.1.26 (absolute error below 1.5e-7)
//! on top of a polynomial `exp`, and `gelu'(x) = Φ(x) + x φ(x)` reuses the
//! same exponential; where only values are needed (inference, the value-only
//! op) a fitted rational function of half the cost gives `Φ` directly. f64 (used by gradient checks) takes candle's
//! accurate scalar `erf`.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use fno::model::activation::gelu;
//!
//! let x = Tensor::new(&[-1.0f32, 0.0, 2.0], &Device::Cpu).unwrap();
//! let y: Vec<f32> = gelu(&x).unwrap().to_vec1().unwrap();
//! assert!((y[0] + 0.158_655).abs() < 1e-5 && y[1] == 0.0 && (y[2] - 1.954_5).abs() < 1e-4);
//! ```
use std::mem::MaybeUninit;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Error, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Non-linearity applied between the layers of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Exact GELU, `x Φ(x)`, through the fast op [`gelu`]. The default, as
    /// in neuraloperator.
    #[default]
    Gelu,
    /// `max(x, 0)`, candle's op.
    Relu,
    /// Hyperbolic tangent, candle's op.
    Tanh,
}

impl Activation {
    /// Applies the activation elementwise; any shape.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::Gelu => gelu(x),
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// Exact GELU, `x Φ(x)` with `Φ` the standard normal CDF, with a
/// hand-written backward pass; f32 and f64, any shape. Off the CPU it is
/// candle's own `gelu_erf`, which runs as a device kernel there (the
/// vectorised op above is a CPU kernel).
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return x.gelu_erf();
    }
    // The kernels read memory in order; a strided view is copied first.
    x.contiguous()?.apply_op1(GeluOp)
}

/// Elements per rayon task: large enough to amortise scheduling, small
/// enough to balance two to sixteen threads on the benchmark shapes.
const CHUNK: usize = 1 << 14;

struct GeluOp;

/// `(x, dy) -> dy * gelu'(x)`: the backward pass of [`GeluOp`], fused.
struct GeluGradOp;

fn contiguous<'a, T>(data: &'a [T], layout: &Layout, op: &'static str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => Err(Error::RequiresContiguous { op }),
    }
}

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "fno-gelu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let shape = layout.shape().clone();
        let out = match storage {
            CpuStorage::F32(data) => {
                let x = contiguous(data, layout, self.name())?;
                let mut y = vec![0f32; x.len()];
                y.par_chunks_mut(CHUNK)
                    .zip(x.par_chunks(CHUNK))
                    .for_each(|(y, x)| f32_kernels::gelu(x, y));
                CpuStorage::F32(y)
            }
            CpuStorage::F64(data) => {
                let x = contiguous(data, layout, self.name())?;
                CpuStorage::F64(x.par_iter().map(|&x| gelu_f64(x)).collect())
            }
            other => return Err(Error::UnsupportedDTypeForOp(other.dtype(), self.name())),
        };
        Ok((out, shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = arg
            .contiguous()?
            .apply_op2_no_bwd(&grad_res.contiguous()?, &GeluGradOp)?;
        Ok(Some(grad))
    }
}

impl CustomOp2 for GeluGradOp {
    fn name(&self) -> &'static str {
        "fno-gelu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: l1.shape().clone(),
                rhs: l2.shape().clone(),
                op: self.name(),
            });
        }
        let out = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                let x = contiguous(x, l1, self.name())?;
                let g = contiguous(g, l2, self.name())?;
                let mut dx = vec![0f32; x.len()];
                dx.par_chunks_mut(CHUNK)
                    .zip(x.par_chunks(CHUNK).zip(g.par_chunks(CHUNK)))
                    .for_each(|(dx, (x, g))| f32_kernels::gelu_grad(x, g, dx));
                CpuStorage::F32(dx)
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                let x = contiguous(x, l1, self.name())?;
                let g = contiguous(g, l2, self.name())?;
                CpuStorage::F64(
                    x.par_iter()
                        .zip(g.par_iter())
                        .map(|(&x, &g)| g * gelu_grad_f64(x))
                        .collect(),
                )
            }
            (a, b) if a.dtype() != b.dtype() => {
                return Err(Error::DTypeMismatchBinaryOp {
                    lhs: a.dtype(),
                    rhs: b.dtype(),
                    op: self.name(),
                })
            }
            (other, _) => return Err(Error::UnsupportedDTypeForOp(other.dtype(), self.name())),
        };
        Ok((out, l1.shape().clone()))
    }
}

/// In-place GELU that also records the derivative, for ops that fuse the
/// activation into their epilogue and keep `gelu'(z)` for their backward.
pub(crate) trait GeluInPlace: Sized {
    /// `z <- gelu(z)`, `deriv <- gelu'(z)` (for the input `z`). `deriv` may
    /// be uninitialised: every element is written, none is read.
    fn gelu_in_place(z: &mut [Self], deriv: &mut [MaybeUninit<Self>]);

    /// `z <- gelu(z)`, keeping no derivative (inference).
    fn gelu_only_in_place(z: &mut [Self]);
}

impl GeluInPlace for f32 {
    fn gelu_in_place(z: &mut [f32], deriv: &mut [MaybeUninit<f32>]) {
        f32_kernels::gelu_in_place(z, deriv)
    }

    fn gelu_only_in_place(z: &mut [f32]) {
        f32_kernels::gelu_only_in_place(z)
    }
}

impl GeluInPlace for f64 {
    fn gelu_in_place(z: &mut [f64], deriv: &mut [MaybeUninit<f64>]) {
        for (z, d) in z.iter_mut().zip(deriv) {
            d.write(gelu_grad_f64(*z));
            *z = gelu_f64(*z);
        }
    }

    fn gelu_only_in_place(z: &mut [f64]) {
        for z in z {
            *z = gelu_f64(*z);
        }
    }
}

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + candle_core::cpu::erf::erf_f64(x * std::f64::consts::FRAC_1_SQRT_2))
}

fn gelu_grad_f64(x: f64) -> f64 {
    let cdf = 0.5 * (1.0 + candle_core::cpu::erf::erf_f64(x * std::f64::consts::FRAC_1_SQRT_2));
    cdf + x * FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// f32 GELU kernels written so that LLVM vectorises them: no branches (only
/// selects), no libm calls, integer bit tricks for `2^n`.
///
/// Every kernel takes `FUSED`: the AVX2 entry points compile it as `true`,
/// so each polynomial step is one FMA instruction (Rust never contracts
/// `a * b + c` on its own, and the separate multiply and add doubled the
/// latency of the Horner chains); the portable fallback uses `false`,
/// because `mul_add` without hardware FMA is a slow library call.
mod f32_kernels {
    use std::mem::MaybeUninit;

    /// `a * b + c`, fused when `FUSED`.
    #[inline(always)]
    fn fma<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
        if FUSED {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }

    /// `Φ(x)` and `φ(x)` from one exponential.
    ///
    /// With `z = |x| / √2`, A&S 7.1.26 gives `erf(z) ≈ 1 - P(t) e^{-z²}`,
    /// `t = 1 / (1 + p z)`; `e^{-z²} = e^{-x²/2}` is also `√(2π) φ(x)`.
    #[inline(always)]
    fn cdf_pdf<const FUSED: bool>(x: f32) -> (f32, f32) {
        const P: f32 = 0.327_591_1;
        const A1: f32 = 0.254_829_6;
        const A2: f32 = -0.284_496_74;
        const A3: f32 = 1.421_413_7;
        const A4: f32 = -1.453_152;
        const A5: f32 = 1.061_405_4;
        const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
        const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
        let z = x.abs() * FRAC_1_SQRT_2;
        let e = exp_neg::<FUSED>(z * z);
        let t = 1.0 / fma::<FUSED>(P, z, 1.0);
        let mut poly = A5;
        for a in [A4, A3, A2, A1] {
            poly = fma::<FUSED>(poly, t, a);
        }
        // Half the complementary error function: 1 - Φ(|x|).
        let tail = 0.5 * poly * t * e;
        let cdf = if x >= 0.0 { 1.0 - tail } else { tail };
        (cdf, FRAC_1_SQRT_2PI * e)
    }

    /// `e^{-w}` for `w >= 0`, relative error about 1e-7, branch-free.
    ///
    /// Range reduction `-w = n ln2 + r` with `|r| <= ln2 / 2` (Cody–Waite
    /// split of ln2), a degree-7 Taylor polynomial for `e^r`, and `2^n`
    /// built in the exponent bits. Rounding to the nearest integer adds and
    /// subtracts `1.5 * 2^23`, whose last mantissa bits then hold `n`.
    /// Inputs beyond 87 are clamped so `2^n` stays a normal number.
    #[inline(always)]
    fn exp_neg<const FUSED: bool>(w: f32) -> f32 {
        const ROUND: f32 = 12_582_912.0;
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let v = -(w.min(87.0));
        let shifted = fma::<FUSED>(v, LOG2E, ROUND);
        let n = shifted - ROUND;
        let r = fma::<FUSED>(-n, LN2_LO, fma::<FUSED>(-n, LN2_HI, v));
        let mut p = 1.0 / 5040.0;
        for c in [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            p = fma::<FUSED>(p, r, c);
        }
        let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
        let scale = f32::from_bits(((n_int + 127) << 23) as u32);
        p * scale
    }

    /// `Φ(x)` alone, without an exponential: `1/2 + x P(x²) / Q(x²)` on
    /// `|x| <= 5.6`, where `P` and `Q` (degree 5 each) were fitted to
    /// `Φ(x) - 1/2` by iteratively reweighted least squares for the smallest
    /// maximum absolute error (9e-9 in exact arithmetic). Beyond 5.6 the
    /// clamped argument gives `Φ = 1/2 ± 1/2` within an f32 rounding, and
    /// NaN passes through. About half the instructions of [`cdf_pdf`], which
    /// the forward-only kernels do not need.
    #[inline(always)]
    fn cdf<const FUSED: bool>(x: f32) -> f32 {
        const LIMIT: f32 = 5.6;
        const P: [f32; 6] = [
            3.989_422_2e-1,
            3.437_941e-2,
            4.707_477_3e-3,
            1.738_852_5e-4,
            6.356_837_4e-6,
            2.214_331_7e-8,
        ];
        const Q: [f32; 6] = [
            1.0,
            2.528_421_2e-1,
            2.894_201_6e-2,
            1.913_177_2e-3,
            7.511_323e-5,
            1.180_175_3e-6,
        ];
        let c = x.clamp(-LIMIT, LIMIT);
        let t = c * c;
        let (mut p, mut q) = (P[5], Q[5]);
        for k in (0..5).rev() {
            p = fma::<FUSED>(p, t, P[k]);
            q = fma::<FUSED>(q, t, Q[k]);
        }
        fma::<FUSED>(c, p / q, 0.5)
    }

    #[inline(always)]
    fn gelu_generic<const FUSED: bool>(x: &[f32], y: &mut [f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x * cdf::<FUSED>(x);
        }
    }

    #[inline(always)]
    fn gelu_grad_generic<const FUSED: bool>(x: &[f32], g: &[f32], dx: &mut [f32]) {
        for ((dx, &x), &g) in dx.iter_mut().zip(x).zip(g) {
            let (cdf, pdf) = cdf_pdf::<FUSED>(x);
            *dx = g * fma::<FUSED>(x, pdf, cdf);
        }
    }

    #[inline(always)]
    fn gelu_in_place_generic<const FUSED: bool>(z: &mut [f32], deriv: &mut [MaybeUninit<f32>]) {
        for (z, d) in z.iter_mut().zip(deriv) {
            let x = *z;
            let (cdf, pdf) = cdf_pdf::<FUSED>(x);
            *z = x * cdf;
            d.write(fma::<FUSED>(x, pdf, cdf));
        }
    }

    #[inline(always)]
    fn gelu_only_in_place_generic<const FUSED: bool>(z: &mut [f32]) {
        for z in z {
            *z *= cdf::<FUSED>(*z);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn gelu_only_in_place_avx512(z: &mut [f32]) {
        gelu_only_in_place_generic::<true>(z)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gelu_only_in_place_avx2(z: &mut [f32]) {
        gelu_only_in_place_generic::<true>(z)
    }

    /// `z <- gelu(z)`, elementwise.
    pub(super) fn gelu_only_in_place(z: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx512f() {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { gelu_only_in_place_avx512(z) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { gelu_only_in_place_avx2(z) };
        }
        gelu_only_in_place_generic::<false>(z)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn gelu_in_place_avx512(z: &mut [f32], deriv: &mut [MaybeUninit<f32>]) {
        gelu_in_place_generic::<true>(z, deriv)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gelu_in_place_avx2(z: &mut [f32], deriv: &mut [MaybeUninit<f32>]) {
        gelu_in_place_generic::<true>(z, deriv)
    }

    /// `z <- gelu(z)` and `deriv <- gelu'(z)`, elementwise.
    pub(super) fn gelu_in_place(z: &mut [f32], deriv: &mut [MaybeUninit<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx512f() {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { gelu_in_place_avx512(z, deriv) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { gelu_in_place_avx2(z, deriv) };
        }
        gelu_in_place_generic::<false>(z, deriv)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gelu_avx2(x: &[f32], y: &mut [f32]) {
        gelu_generic::<true>(x, y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gelu_grad_avx2(x: &[f32], g: &[f32], dx: &mut [f32]) {
        gelu_grad_generic::<true>(x, g, dx)
    }

    /// `y = gelu(x)`, elementwise.
    pub(super) fn gelu(x: &[f32], y: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { gelu_avx2(x, y) };
        }
        gelu_generic::<false>(x, y)
    }

    /// `dx = g * gelu'(x)`, elementwise.
    pub(super) fn gelu_grad(x: &[f32], g: &[f32], dx: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { gelu_grad_avx2(x, g, dx) };
        }
        gelu_grad_generic::<false>(x, g, dx)
    }

    /// Both builds of the kernels (fused multiply-adds and separate ones),
    /// with and without the derivative, against the f64 reference: the portable one is not what runs on an
    /// AVX2 machine, so it gets its own check.
    #[cfg(test)]
    #[test]
    fn fused_and_portable_kernels_match_f64() {
        let xs: Vec<f32> = (0..8_001).map(|i| -8.0 + i as f32 * 2e-3).collect();
        for fused in [false, true] {
            let mut z = xs.clone();
            let mut d = vec![MaybeUninit::new(0f32); xs.len()];
            if fused {
                gelu_in_place_generic::<true>(&mut z, &mut d);
            } else {
                gelu_in_place_generic::<false>(&mut z, &mut d);
            }
            let mut only = xs.clone();
            only.push(f32::NAN);
            if fused {
                gelu_only_in_place_generic::<true>(&mut only);
            } else {
                gelu_only_in_place_generic::<false>(&mut only);
            }
            assert!(
                only.pop().is_some_and(f32::is_nan),
                "gelu(NaN), fused {fused}"
            );
            for (&x, &y) in xs.iter().zip(&only) {
                let x = x as f64;
                assert!(
                    (y as f64 - super::gelu_f64(x)).abs() < 1e-6,
                    "value-only gelu({x}), fused {fused}"
                );
            }
            for ((&x, &y), d) in xs.iter().zip(&z).zip(&d) {
                // SAFETY: the kernel wrote every element.
                let d = unsafe { d.assume_init() };
                let x = x as f64;
                assert!(
                    (y as f64 - super::gelu_f64(x)).abs() < 1e-6,
                    "gelu({x}), fused {fused}"
                );
                assert!(
                    (d as f64 - super::gelu_grad_f64(x)).abs() < 2e-6,
                    "gelu'({x}), fused {fused}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The fast f32 path against the accurate f64 one, over the whole range
    /// where GELU is not trivially 0 or x.
    #[test]
    fn f32_matches_f64_reference() {
        let xs: Vec<f64> = (0..40_001).map(|i| -10.0 + i as f64 * 5e-4).collect();
        let x32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let mut y = vec![0f32; xs.len()];
        let mut dy = vec![0f32; xs.len()];
        f32_kernels::gelu(&x32, &mut y);
        f32_kernels::gelu_grad(&x32, &vec![1.0; xs.len()], &mut dy);
        for i in 0..xs.len() {
            let x = x32[i] as f64;
            assert!((y[i] as f64 - gelu_f64(x)).abs() < 1e-6, "gelu({x})");
            assert!((dy[i] as f64 - gelu_grad_f64(x)).abs() < 2e-6, "gelu'({x})");
        }
    }

    #[test]
    fn matches_candle_gelu_erf() {
        let x = Tensor::randn(0f32, 3.0, (7, 1000), &Device::Cpu).unwrap();
        let ours = gelu(&x).unwrap();
        let theirs = x.gelu_erf().unwrap();
        let diff = crate::model::testutil::max_abs_diff(&ours, &theirs);
        assert!(diff < 1e-6, "max difference {diff}");
    }

    /// Hand-written backward against central finite differences, in f64.
    #[test]
    fn gradient_matches_finite_differences() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f64, 2.0, (3, 50), &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f64, 1.0, (3, 50), &dev).unwrap();
        let loss = |x: &Tensor| gelu(x).unwrap().mul(&w).unwrap().sum_all().unwrap();
        let grads = loss(x.as_tensor()).backward().unwrap();
        let analytic: Vec<f64> = grads
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let base: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
        let h = 1e-5;
        for (i, &a) in analytic.iter().enumerate() {
            let shifted = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                let t = Tensor::from_vec(v, (3, 50), &dev).unwrap();
                loss(&t).to_scalar::<f64>().unwrap()
            };
            let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
            let rel = (a - numeric).abs() / a.abs().max(1e-3);
            assert!(rel < 1e-6, "element {i}: analytic {a}, numeric {numeric}");
        }
    }

    #[test]
    fn strided_input_is_accepted() {
        let x = Tensor::randn(0f32, 1.0, (4, 6), &Device::Cpu).unwrap();
        let t = x.t().unwrap();
        let a = gelu(&t.contiguous().unwrap()).unwrap();
        let b = gelu(&t).unwrap();
        assert_eq!(a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
    }

    #[test]
    fn other_activations_apply() {
        let x = Tensor::new(&[-1.0f32, 2.0], &Device::Cpu).unwrap();
        assert_eq!(
            Activation::Relu
                .apply(&x)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            [0.0, 2.0]
        );
        let t: Vec<f32> = Activation::Tanh.apply(&x).unwrap().to_vec1().unwrap();
        assert!((t[1] - 2f32.tanh()).abs() < 1e-6);
    }
}
