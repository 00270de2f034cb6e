//! Differentiable FFTs on candle tensors (CPU, and CUDA with the `cuda`
//! feature; f32 and f64).
//!
//! candle has no complex dtype, so a complex tensor is a real tensor with a
//! trailing axis of size 2 holding `(re, im)`: a complex `[b, c, n]` array is
//! a real `[b, c, n, 2]` tensor.
//!
//! - [`rfft`]: `X_k = sum_t x_t e^{-2πikt/n}`, `0 <= k <= n/2`, along the last
//!   axis (unnormalised, like `numpy.fft.rfft`).
//! - [`irfft`]: `x_t = (1/n) Re(sum_k c_k X_k e^{2πikt/n})` with `c_0 = 1`,
//!   `c_{n/2} = 1` (even `n`) and `c_k = 2` otherwise: the exact inverse of
//!   [`rfft`]; the imaginary parts of the zero and Nyquist bins are ignored,
//!   which enforces Hermitian symmetry. Fewer than `n/2 + 1` bins may be
//!   given (the missing high bins are zero), which interpolates spectrally.
//! - [`fft`] / [`ifft`]: complex transform along one axis (not the trailing
//!   pair axis); the forward is unnormalised, the inverse divides by `n`.
//!
//! Each op is a candle custom op whose backward is the exact adjoint of its
//! real-linear forward map, itself implemented as one of these ops, so
//! gradients of gradients work too.
//!
//! # Shapes
//!
//! | op | input | output |
//! |---|---|---|
//! | `rfft(x)` | `[.., n]` | `[.., n/2 + 1, 2]` |
//! | `irfft(x, n)` | `[.., k, 2]`, `k <= n/2 + 1` | `[.., n]` |
//! | `fft(x, axis)`, `ifft(x, axis)` | `[.., n, .., 2]` | same |
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let x = Tensor::new(&[1f64, 2., 3., 4.], &Device::Cpu)?;
//! let spec = fno::spectral::fft::rfft(&x)?; // [3, 2]: 10, -2+2i, -2
//! assert_eq!(spec.to_vec2::<f64>()?, vec![vec![10., 0.], vec![-2., 2.], vec![-2., 0.]]);
//! let back = fno::spectral::fft::irfft(&spec, 4)?;
//! assert_eq!(back.to_vec1::<f64>()?, vec![1., 2., 3., 4.]);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftDirection;

use super::error::SpectralError;
use super::host;
use super::kernels::{axis_fft, c2r_rows, rfft_rows};
use super::modes::hermitian_coefficient;
use super::plan::{Plan, Real};

/// Direction of a complex FFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    /// `e^{-2πikt/n}`, unnormalised.
    Forward,
    /// `e^{+2πikt/n}`, divided by `n`.
    Inverse,
}

/// Rows handed to one rayon task: enough work to amortise the task, few
/// enough that two cores stay busy on small tensors.
const ROWS_PER_TASK: usize = 64;

/// Real FFT along the last axis: `[.., n]` -> `[.., n/2 + 1, 2]`.
pub fn rfft(x: &Tensor) -> candle_core::Result<Tensor> {
    const OP: &str = "rfft";
    check_float(OP, x)?;
    let n = *x.dims().last().ok_or(SpectralError::UnsupportedDims {
        op: OP,
        dims: 0,
        supported: "rank >= 1",
    })?;
    if n == 0 {
        return Err(SpectralError::InvalidGrid {
            op: OP,
            grid: x.dims().to_vec(),
            reason: "empty last axis",
        }
        .into());
    }
    x.contiguous()?.apply_op1(RealForward {
        weights: vec![1.0; n / 2 + 1],
        n,
    })
}

/// Inverse real FFT onto `n` points along the second-to-last axis of a
/// complex tensor: `[.., k, 2]` -> `[.., n]`, with `k <= n/2 + 1`.
pub fn irfft(x: &Tensor, n: usize) -> candle_core::Result<Tensor> {
    const OP: &str = "irfft";
    check_float(OP, x)?;
    let k = complex_len(OP, x, 1)?;
    if n == 0 || k > n / 2 + 1 {
        return Err(SpectralError::ShapeMismatch {
            op: OP,
            expected: format!("[.., k, 2] with k <= n/2 + 1 = {} and n > 0", n / 2 + 1),
            got: x.dims().to_vec(),
        }
        .into());
    }
    let weights = (0..k)
        .map(|k| hermitian_coefficient(k, n) / n as f64)
        .collect();
    x.contiguous()?.apply_op1(RealInverse { weights, n })
}

/// Complex FFT (unnormalised) along `axis` of a complex tensor `[.., 2]`.
pub fn fft(x: &Tensor, axis: usize) -> candle_core::Result<Tensor> {
    complex_axis(x, axis, Direction::Forward)
}

/// Inverse complex FFT (divided by `n`) along `axis` of a complex tensor
/// `[.., 2]`.
pub fn ifft(x: &Tensor, axis: usize) -> candle_core::Result<Tensor> {
    complex_axis(x, axis, Direction::Inverse)
}

fn complex_axis(x: &Tensor, axis: usize, direction: Direction) -> candle_core::Result<Tensor> {
    const OP: &str = "fft";
    check_float(OP, x)?;
    let rank = x.rank();
    if axis + 1 >= rank {
        return Err(SpectralError::UnsupportedDims {
            op: OP,
            dims: axis,
            supported: "axis < rank - 1 (the last axis holds re, im)",
        }
        .into());
    }
    complex_len(OP, x, rank - 1 - axis)?;
    let n = x.dims()[axis];
    if n == 0 {
        return Err(SpectralError::InvalidGrid {
            op: OP,
            grid: x.dims().to_vec(),
            reason: "empty FFT axis",
        }
        .into());
    }
    let scale = match direction {
        Direction::Forward => 1.0,
        Direction::Inverse => 1.0 / n as f64,
    };
    x.contiguous()?.apply_op1(ComplexAxis {
        axis,
        direction,
        scale,
    })
}

fn check_float(op: &'static str, x: &Tensor) -> candle_core::Result<()> {
    // `is_cuda` is false for every device a build without `cuda` can make.
    if !(x.device().is_cpu() || x.device().is_cuda()) {
        return Err(SpectralError::UnsupportedDevice {
            op,
            device: format!("{:?}", x.device().location()),
        }
        .into());
    }
    match x.dtype() {
        DType::F32 | DType::F64 => Ok(()),
        dtype => Err(SpectralError::UnsupportedDType { op, dtype }.into()),
    }
}

/// Checks the trailing pair axis and returns the size of the axis `back`
/// places before it.
fn complex_len(op: &'static str, x: &Tensor, back: usize) -> candle_core::Result<usize> {
    let dims = x.dims();
    match dims {
        [.., 2] if dims.len() > back => Ok(dims[dims.len() - 1 - back]),
        _ => Err(SpectralError::ShapeMismatch {
            op,
            expected: "[.., n, .., 2] (complex as re, im pairs)".to_string(),
            got: dims.to_vec(),
        }
        .into()),
    }
}

/// `Y_k = w_k sum_t x_t e^{-2πikt/n}` for `k < weights.len()` along the last
/// axis. Its adjoint is [`RealInverse`] with the same weights.
struct RealForward {
    weights: Vec<f64>,
    n: usize,
}

/// `x_t = Re(sum_k w_k Y_k e^{2πikt/n})` along the second-to-last axis of a
/// complex tensor. Its adjoint is [`RealForward`] with the same weights.
struct RealInverse {
    weights: Vec<f64>,
    n: usize,
}

/// `scale * sum_t x_t e^{∓2πikt/n}` along `axis`. Its adjoint has the other
/// direction and the same scale.
struct ComplexAxis {
    axis: usize,
    direction: Direction,
    scale: f64,
}

fn real_forward<T: Real>(x: &[T], n: usize, weights: &[f64]) -> Vec<T> {
    let w: Vec<T> = weights.iter().map(|&v| T::of(v)).collect();
    let keep = w.len();
    let rows = x.len() / n;
    let mut out = vec![T::zero(); rows * keep * 2];
    let plan = Plan::<T>::new(n, FftDirection::Forward);
    out.par_chunks_mut(ROWS_PER_TASK * keep * 2)
        .zip(x.par_chunks(ROWS_PER_TASK * n))
        .for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(spec, work, scratch), (out, x)| {
                spec.clear();
                spec.resize(out.len() / 2, Complex::default());
                rfft_rows(x, &w, spec, &plan, work, scratch);
                for (pair, z) in out.chunks_exact_mut(2).zip(spec.iter()) {
                    pair[0] = z.re;
                    pair[1] = z.im;
                }
            },
        );
    out
}

fn real_inverse<T: Real>(y: &[T], rows: usize, n: usize, weights: &[f64]) -> Vec<T> {
    let w: Vec<T> = weights.iter().map(|&v| T::of(v)).collect();
    let keep = w.len();
    if keep == 0 || n == 0 {
        return vec![T::zero(); rows * n];
    }
    let plan = Plan::<T>::new(n, FftDirection::Inverse);
    // Not zeroed: `c2r_rows` writes every value of the whole rows it gets.
    let mut out = Vec::<T>::with_capacity(rows * n);
    out.spare_capacity_mut()[..rows * n]
        .par_chunks_mut(ROWS_PER_TASK * n)
        .zip(y.par_chunks(ROWS_PER_TASK * keep * 2))
        .for_each_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(spec, work, scratch), (out, y)| {
                spec.clear();
                spec.extend(y.chunks_exact(2).map(|p| Complex::new(p[0], p[1])));
                c2r_rows(spec, &w, out, &plan, work, scratch);
            },
        );
    // SAFETY: the chunks cover all `rows * n` values, each a whole number of
    // rows of `n`, and `c2r_rows` wrote all of them.
    unsafe { out.set_len(rows * n) };
    out
}

fn complex_along<T: Real>(
    x: &[T],
    dims: &[usize],
    axis: usize,
    direction: Direction,
    scale: f64,
) -> Vec<T> {
    let n = dims[axis];
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..dims.len() - 1].iter().product();
    let dir = match direction {
        Direction::Forward => FftDirection::Forward,
        Direction::Inverse => FftDirection::Inverse,
    };
    let plan = Plan::<T>::new(n, dir);
    let identity: Vec<usize> = (0..n).collect();
    let scale = T::of(scale);
    let block = n * inner * 2;
    let mut out = vec![T::zero(); x.len()];
    if block == 0 || outer == 0 {
        return out;
    }
    out.par_chunks_mut(block)
        .zip(x.par_chunks(block))
        .for_each_init(
            || (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
            |(src, dst, work, scratch), (out, x)| {
                src.clear();
                src.extend(x.chunks_exact(2).map(|p| Complex::new(p[0], p[1])));
                dst.clear();
                dst.resize(src.len(), Complex::default());
                axis_fft(
                    src, 1, inner, &identity, &identity, scale, dst, &plan, work, scratch,
                );
                for (pair, z) in out.chunks_exact_mut(2).zip(dst.iter()) {
                    pair[0] = z.re;
                    pair[1] = z.im;
                }
            },
        );
    out
}

impl RealForward {
    /// The output shape for an input of shape `dims`, checked.
    fn out_dims(&self, dims: &[usize]) -> candle_core::Result<Vec<usize>> {
        let mut out_dims = dims.to_vec();
        if self.n == 0 || out_dims.last() != Some(&self.n) {
            return Err(SpectralError::ShapeMismatch {
                op: "rfft",
                expected: format!("[.., {}]", self.n),
                got: dims.to_vec(),
            }
            .into());
        }
        out_dims.pop();
        out_dims.extend([self.weights.len(), 2]);
        Ok(out_dims)
    }
}

impl CustomOp1 for RealForward {
    fn name(&self) -> &'static str {
        "rfft"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out_dims = self.out_dims(layout.dims())?;
        let out = match storage {
            CpuStorage::F32(_) => CpuStorage::F32(real_forward(
                host::slice::<f32>(self.name(), storage, layout)?,
                self.n,
                &self.weights,
            )),
            CpuStorage::F64(_) => CpuStorage::F64(real_forward(
                host::slice::<f64>(self.name(), storage, layout)?,
                self.n,
                &self.weights,
            )),
            other => {
                return Err(SpectralError::UnsupportedDType {
                    op: self.name(),
                    dtype: other.dtype(),
                }
                .into())
            }
        };
        Ok((out, Shape::from(out_dims)))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let out_dims = self.out_dims(layout.dims())?;
        let out =
            super::cuda::fft::real_forward(self.name(), storage, layout, self.n, &self.weights)?;
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let adjoint = RealInverse {
            weights: self.weights.clone(),
            n: self.n,
        };
        Ok(Some(grad_res.contiguous()?.apply_op1(adjoint)?))
    }
}

impl RealInverse {
    /// The number of rows and the output shape for an input of shape
    /// `dims`, checked.
    fn out_dims(&self, dims: &[usize]) -> candle_core::Result<(usize, Vec<usize>)> {
        let keep = self.weights.len();
        let mut out_dims = dims.to_vec();
        if !(dims.len() >= 2 && dims[dims.len() - 1] == 2 && dims[dims.len() - 2] == keep) {
            return Err(SpectralError::ShapeMismatch {
                op: "irfft",
                expected: format!("[.., {keep}, 2]"),
                got: dims.to_vec(),
            }
            .into());
        }
        out_dims.truncate(dims.len() - 2);
        let rows = out_dims.iter().product();
        out_dims.push(self.n);
        Ok((rows, out_dims))
    }
}

impl CustomOp1 for RealInverse {
    fn name(&self) -> &'static str {
        "irfft"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, out_dims) = self.out_dims(layout.dims())?;
        let out = match storage {
            CpuStorage::F32(_) => CpuStorage::F32(real_inverse(
                host::slice::<f32>(self.name(), storage, layout)?,
                rows,
                self.n,
                &self.weights,
            )),
            CpuStorage::F64(_) => CpuStorage::F64(real_inverse(
                host::slice::<f64>(self.name(), storage, layout)?,
                rows,
                self.n,
                &self.weights,
            )),
            other => {
                return Err(SpectralError::UnsupportedDType {
                    op: self.name(),
                    dtype: other.dtype(),
                }
                .into())
            }
        };
        Ok((out, Shape::from(out_dims)))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (rows, out_dims) = self.out_dims(layout.dims())?;
        let out = super::cuda::fft::real_inverse(
            self.name(),
            storage,
            layout,
            (rows, self.n),
            &self.weights,
        )?;
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let adjoint = RealForward {
            weights: self.weights.clone(),
            n: self.n,
        };
        Ok(Some(grad_res.contiguous()?.apply_op1(adjoint)?))
    }
}

impl ComplexAxis {
    /// Checks that `dims` is complex with the FFT axis before the pair axis.
    fn check(&self, dims: &[usize]) -> candle_core::Result<()> {
        if !(dims.len() >= 2 && self.axis + 1 < dims.len() && dims[dims.len() - 1] == 2) {
            return Err(SpectralError::ShapeMismatch {
                op: "fft",
                expected: format!(
                    "complex [.., 2] with axis {} before the pair axis",
                    self.axis
                ),
                got: dims.to_vec(),
            }
            .into());
        }
        Ok(())
    }
}

impl CustomOp1 for ComplexAxis {
    fn name(&self) -> &'static str {
        "fft"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = layout.dims();
        self.check(dims)?;
        let out = match storage {
            CpuStorage::F32(_) => CpuStorage::F32(complex_along(
                host::slice::<f32>(self.name(), storage, layout)?,
                dims,
                self.axis,
                self.direction,
                self.scale,
            )),
            CpuStorage::F64(_) => CpuStorage::F64(complex_along(
                host::slice::<f64>(self.name(), storage, layout)?,
                dims,
                self.axis,
                self.direction,
                self.scale,
            )),
            other => {
                return Err(SpectralError::UnsupportedDType {
                    op: self.name(),
                    dtype: other.dtype(),
                }
                .into())
            }
        };
        Ok((out, layout.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        self.check(layout.dims())?;
        let direction = match self.direction {
            Direction::Forward => cudarc::cufft::FftDirection::Forward,
            Direction::Inverse => cudarc::cufft::FftDirection::Inverse,
        };
        let out = super::cuda::fft::complex_axis(
            self.name(),
            storage,
            layout,
            self.axis,
            self.scale,
            direction,
        )?;
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let direction = match self.direction {
            Direction::Forward => Direction::Inverse,
            Direction::Inverse => Direction::Forward,
        };
        let adjoint = ComplexAxis {
            axis: self.axis,
            direction,
            scale: self.scale,
        };
        Ok(Some(grad_res.contiguous()?.apply_op1(adjoint)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectral::testutil::{grad_check, random, rel_err};
    use candle_core::Device;
    use std::f64::consts::PI;

    /// Naive complex DFT of `x` (`[outer, n, inner, 2]` as a flat f64 slice)
    /// along the middle axis.
    fn naive(x: &[f64], outer: usize, n: usize, inner: usize, sign: f64, scale: f64) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for o in 0..outer {
            for i in 0..inner {
                for k in 0..n {
                    let (mut re, mut im) = (0.0, 0.0);
                    for t in 0..n {
                        let th = sign * 2.0 * PI * ((k * t) % n) as f64 / n as f64;
                        let idx = ((o * n + t) * inner + i) * 2;
                        let (a, b) = (x[idx], x[idx + 1]);
                        re += a * th.cos() - b * th.sin();
                        im += a * th.sin() + b * th.cos();
                    }
                    let idx = ((o * n + k) * inner + i) * 2;
                    out[idx] = re * scale;
                    out[idx + 1] = im * scale;
                }
            }
        }
        out
    }

    fn vec(t: &Tensor) -> Vec<f64> {
        t.flatten_all()
            .and_then(|t| t.to_dtype(DType::F64))
            .and_then(|t| t.to_vec1())
            .expect("vec")
    }

    #[test]
    fn rfft_matches_naive_dft() -> candle_core::Result<()> {
        for (n, dtype, tol) in [
            (15, DType::F64, 1e-12),
            (16, DType::F32, 1e-5),
            (33, DType::F64, 1e-12),
        ] {
            let x = random(n as u64, &[3, 2, n], dtype);
            let got = rfft(&x)?;
            assert_eq!(got.dims(), &[3, 2, n / 2 + 1, 2]);
            // Zero-pad to complex and keep the first n/2+1 bins of the naive DFT.
            let xs = vec(&x);
            let xc: Vec<f64> = xs.iter().flat_map(|&v| [v, 0.0]).collect();
            let full = naive(&xc, 6, n, 1, -1.0, 1.0);
            let want: Vec<f64> = full
                .chunks(2 * n)
                .flat_map(|row| row[..2 * (n / 2 + 1)].to_vec())
                .collect();
            let want = Tensor::from_vec(want, got.dims(), &Device::Cpu)?;
            assert!(rel_err(&got, &want) < tol, "n = {n}");
        }
        Ok(())
    }

    #[test]
    fn irfft_inverts_rfft_and_interpolates() -> candle_core::Result<()> {
        for n in [15, 16, 33] {
            let x = random(n as u64, &[4, n], DType::F64);
            let back = irfft(&rfft(&x)?, n)?;
            assert!(rel_err(&back, &x) < 1e-12, "n = {n}");
        }
        // A cosine of frequency 2 on 8 points, upsampled to 16 points: irfft
        // divides by 16 instead of 8, hence the factor 2.
        let t8: Vec<f64> = (0..8)
            .map(|t| (2.0 * PI * 2.0 * t as f64 / 8.0).cos())
            .collect();
        let t16: Vec<f64> = (0..16)
            .map(|t| (2.0 * PI * 2.0 * t as f64 / 16.0).cos())
            .collect();
        let spec = rfft(&Tensor::new(t8, &Device::Cpu)?)?;
        let up = irfft(&spec.narrow(0, 0, 4)?, 16)?;
        assert!(rel_err(&(up * 2.0)?, &Tensor::new(t16, &Device::Cpu)?) < 1e-12);
        Ok(())
    }

    #[test]
    fn fft_and_ifft_match_naive_dft_along_each_axis() -> candle_core::Result<()> {
        let dims = [3usize, 5, 4];
        let x = random(3, &[3, 5, 4, 2], DType::F64);
        let xs = vec(&x);
        for axis in 0..3 {
            let outer: usize = dims[..axis].iter().product();
            let inner: usize = dims[axis + 1..].iter().product();
            let n = dims[axis];
            let f = fft(&x, axis)?;
            let want = Tensor::from_vec(
                naive(&xs, outer, n, inner, -1.0, 1.0),
                x.dims(),
                &Device::Cpu,
            )?;
            assert!(rel_err(&f, &want) < 1e-12, "fft axis {axis}");
            let i = ifft(&x, axis)?;
            let want = Tensor::from_vec(
                naive(&xs, outer, n, inner, 1.0, 1.0 / n as f64),
                x.dims(),
                &Device::Cpu,
            )?;
            assert!(rel_err(&i, &want) < 1e-12, "ifft axis {axis}");
        }
        let f32_in = x.to_dtype(DType::F32)?;
        assert!(rel_err(&ifft(&fft(&f32_in, 1)?, 1)?, &f32_in) < 1e-6);
        Ok(())
    }

    #[test]
    fn gradients_match_finite_differences() {
        for n in [15, 16, 33] {
            let x = random(n as u64, &[2, n], DType::F64);
            let e = grad_check(&[x], |a| rfft(&a[0]));
            assert!(e[0] < 1e-6, "rfft n = {n}: {e:?}");
            for k in [n / 2 + 1, 3] {
                let y = random(n as u64 + 1, &[2, k, 2], DType::F64);
                let e = grad_check(&[y], |a| irfft(&a[0], n));
                assert!(e[0] < 1e-6, "irfft n = {n} k = {k}: {e:?}");
            }
        }
        let z = random(5, &[3, 6, 5, 2], DType::F64);
        for axis in 0..3 {
            let e = grad_check(std::slice::from_ref(&z), |a| fft(&a[0], axis));
            assert!(e[0] < 1e-6, "fft axis {axis}: {e:?}");
            let e = grad_check(std::slice::from_ref(&z), |a| ifft(&a[0], axis));
            assert!(e[0] < 1e-6, "ifft axis {axis}: {e:?}");
        }
    }

    #[test]
    fn second_derivative_through_adjoint_ops() -> candle_core::Result<()> {
        // d/dx of <rfft(x), r> is irfft-like in r: its backward must run too.
        let x = candle_core::Var::from_tensor(&random(1, &[8], DType::F64))?;
        let y = rfft(x.as_tensor())?;
        let grads = y.sqr()?.sum_all()?.backward()?;
        assert!(grads.get(x.as_tensor()).is_some());
        Ok(())
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let x = random(1, &[4, 3], DType::F64);
        assert!(fft(&x, 0).is_err(), "last axis is not a pair");
        let z = random(1, &[4, 2], DType::F64);
        assert!(fft(&z, 1).is_err(), "axis 1 is the pair axis");
        assert!(
            irfft(&random(1, &[9, 2], DType::F64), 8).is_err(),
            "too many bins"
        );
        let ints = Tensor::new(&[1u32, 2], &Device::Cpu).expect("u32");
        let err = rfft(&ints).expect_err("u32 rejected");
        assert!(err.to_string().contains("rfft"), "{err}");
    }
}
