//! The fused spectral convolution: FFT, mode mixing and inverse FFT in one
//! candle custom op with a hand-written backward, on the CPU ([`passes`]
//! and [`mix`]) and on CUDA ([`super::cuda::fused`], same formulas, cuFFT
//! and our kernels). This module holds the op; its sizes are a
//! [`Geometry`].
//!
//! For a real input `x[b, i, n]` on the grid `N = (N_1..N_d)`, kept modes `k`
//! and complex weights `W[i, o, k]`, the output on the grid `M` is
//!
//! ```text
//! X[b, i, k] = (1/|N|) sum_n x[b, i, n] e^{-2πi k.n/N}
//! Y[b, o, k] = sum_i X[b, i, k] W[i, o, k]
//! y[b, o, t] = Re( sum_k c_k Y[b, o, k] e^{+2πi k.t/M} )
//! ```
//!
//! with `c_k` the Hermitian coefficient of the last-axis index on `M` (1 for
//! the zero and Nyquist columns, 2 otherwise). This is a real-linear map in
//! `x` and in `W`; its adjoint, with `g = dL/dy`, is
//!
//! ```text
//! G[b, o, k]  = c_k sum_t g[b, o, t] e^{-2πi k.t/M}
//! dL/dX       = sum_o G conj(W)        dL/dW = sum_b G conj(X)
//! dL/dx[b,i,n] = (1/|N|) Re( sum_k dL/dX[b, i, k] e^{+2πi k.n/N} )
//! ```
//!
//! so the backward is the forward with the roles of the two grids and of
//! the two last-axis weightings (`1/|N|` and `c_k`) swapped.
//!
//! # Work plan
//!
//! Each rayon task transforms a run of (batch, channel) fields: real FFTs of
//! all last-axis rows (two rows per complex FFT, across fields in 1D), then
//! complex FFTs along the other axes only over the kept columns. The task
//! then writes its spectra mode-major, in separate real and imaginary
//! arrays, while they are still in cache, so mixing is one small complex
//! GEMM per mode (`[batch, C_in] x [C_in, C_out]`, parallel over modes)
//! whose inner loop runs over contiguous output channels. The inverse runs the zero-padded
//! complex FFTs first (on few columns) and the real inverse last.
//!
//! # Shapes
//!
//! `x`: `[batch, C_in, N_1..N_d]`; `w_re`, `w_im`: `[C_in, C_out, 2m_1, ..,
//! 2m_{d-1}, m_d]`; output `[batch, C_out, M_1..M_d]`.

use candle_core::backend::BackendStorage;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor};

use super::error::SpectralError;
use super::geometry::Geometry;
use super::host::{self, HostView};

mod mix;
mod passes;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cuda_on_host;

pub(crate) use passes::{backward, forward, Cached, Spectrum, Wanted};

const OP: &str = "spectral-conv-fft";

/// The fused op; the output grid and the requested modes travel in it.
///
/// One instance is built per application, so the input spectrum its forward
/// pass stores is that of its own input; the backward pass takes it instead
/// of transforming the input again (and recomputes it if it is missing,
/// with the same result).
pub(crate) struct SpectralConvOp {
    modes: Vec<usize>,
    out_grid: Vec<usize>,
    spectrum: Mutex<Option<Spectrum>>,
}

impl SpectralConvOp {
    fn cpu_forward<T: Cached>(&self, geo: &Geometry, x: &[T], w_re: &[T], w_im: &[T]) -> Vec<T> {
        let (out, spec) = forward(geo, x, w_re, w_im);
        *self.spectrum.lock().unwrap_or_else(|p| p.into_inner()) = spec.map(T::wrap);
        out
    }

    /// The backward pass on host views of (`x`, `w_re`, `w_im`, `grad`),
    /// returned as tensors of the input shape and the weight shape.
    fn cpu_backward<T: Cached>(
        &self,
        geo: &Geometry,
        [x, w_re, w_im, grad]: [&HostView; 4],
        (x_shape, w_shape, device): (&Shape, &Shape, &candle_core::Device),
        want_x: bool,
        want_weights: bool,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let spectrum = self
            .spectrum
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .and_then(T::unwrap);
        let wanted = Wanted {
            x: want_x,
            weights: want_weights,
            spectrum,
        };
        let (gx, gw) = backward(
            geo,
            x.slice()?,
            w_re.slice()?,
            w_im.slice()?,
            grad.slice()?,
            wanted,
        );
        let gx = gx
            .map(|g| Tensor::from_vec(g, x_shape, device))
            .transpose()?;
        let (gr, gi) = match gw {
            Some((r, i)) => (
                Some(Tensor::from_vec(r, w_shape, device)?),
                Some(Tensor::from_vec(i, w_shape, device)?),
            ),
            None => (None, None),
        };
        Ok((gx, gr, gi))
    }
}

/// Applies the fused spectral convolution: `x` `[batch, C_in, N..]`, weights
/// `[C_in, C_out, 2m.., m_d]` (same dtype, f32 or f64, on the CPU or, with
/// the `cuda` feature, a CUDA device) to the output grid `out_grid`.
pub(crate) fn spectral_conv_fft(
    x: &Tensor,
    w_re: &Tensor,
    w_im: &Tensor,
    modes: &[usize],
    out_grid: &[usize],
) -> candle_core::Result<Tensor> {
    for t in [x, w_re, w_im] {
        // `is_cuda` is false for every device a build without `cuda` makes.
        if !(t.device().is_cpu() || t.device().is_cuda()) {
            return Err(SpectralError::UnsupportedDevice {
                op: OP,
                device: format!("{:?}", t.device().location()),
            }
            .into());
        }
    }
    check_dtypes(x.dtype(), w_re.dtype(), w_im.dtype())?;
    Geometry::new(OP, x.dims(), w_re.dims(), w_im.dims(), modes, out_grid)?;
    let op = SpectralConvOp {
        modes: modes.to_vec(),
        out_grid: out_grid.to_vec(),
        spectrum: Mutex::new(None),
    };
    x.contiguous()?
        .apply_op3(&w_re.contiguous()?, &w_im.contiguous()?, op)
}

pub(crate) fn check_dtypes(x: DType, w_re: DType, w_im: DType) -> Result<(), SpectralError> {
    if !matches!(x, DType::F32 | DType::F64) {
        return Err(SpectralError::UnsupportedDType { op: OP, dtype: x });
    }
    for got in [w_re, w_im] {
        if got != x {
            return Err(SpectralError::DTypeMismatch {
                op: OP,
                expected: x,
                got,
            });
        }
    }
    Ok(())
}

impl CustomOp3 for SpectralConvOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        check_dtypes(s1.dtype(), s2.dtype(), s3.dtype())?;
        let geo = Geometry::new(
            OP,
            l1.dims(),
            l2.dims(),
            l3.dims(),
            &self.modes,
            &self.out_grid,
        )?;
        let out = match s1 {
            CpuStorage::F32(_) => CpuStorage::F32(self.cpu_forward::<f32>(
                &geo,
                host::slice(OP, s1, l1)?,
                host::slice(OP, s2, l2)?,
                host::slice(OP, s3, l3)?,
            )),
            _ => CpuStorage::F64(self.cpu_forward::<f64>(
                &geo,
                host::slice(OP, s1, l1)?,
                host::slice(OP, s2, l2)?,
                host::slice(OP, s3, l3)?,
            )),
        };
        Ok((out, Shape::from(geo.out_shape())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        check_dtypes(s1.dtype(), s2.dtype(), s3.dtype())?;
        let geo = Geometry::new(
            OP,
            l1.dims(),
            l2.dims(),
            l3.dims(),
            &self.modes,
            &self.out_grid,
        )?;
        let out = super::cuda::fused::forward(OP, &geo, (s1, l1), (s2, l2), (s3, l3))?;
        Ok((out, Shape::from(geo.out_shape())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w_re: &Tensor,
        w_im: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        check_dtypes(x.dtype(), w_re.dtype(), w_im.dtype())?;
        let geo = Geometry::new(
            OP,
            x.dims(),
            w_re.dims(),
            w_im.dims(),
            &self.modes,
            &self.out_grid,
        )?;
        if grad_res.dims() != geo.out_shape().as_slice() {
            return Err(SpectralError::ShapeMismatch {
                op: OP,
                expected: format!("gradient {:?}", geo.out_shape()),
                got: grad_res.dims().to_vec(),
            }
            .into());
        }
        // Skip the gradients candle would throw away (inputs that are
        // neither variables nor computed from variables).
        let want_x = x.track_op();
        let want_weights = w_re.track_op() || w_im.track_op();
        if !want_x && !want_weights {
            return Ok((None, None, None));
        }
        let grad_res = grad_res.to_dtype(x.dtype())?;
        let (x, w_re, w_im, grad) = (
            x.contiguous()?,
            w_re.contiguous()?,
            w_im.contiguous()?,
            grad_res.contiguous()?,
        );
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() {
            return super::cuda::fused::backward(
                OP,
                &geo,
                [&x, &w_re, &w_im, &grad],
                (want_x, want_weights),
            );
        }
        let views = [
            HostView::new(OP, &x)?,
            HostView::new(OP, &w_re)?,
            HostView::new(OP, &w_im)?,
            HostView::new(OP, &grad)?,
        ];
        let views = [&views[0], &views[1], &views[2], &views[3]];
        let shapes = (x.shape(), w_re.shape(), x.device());
        match x.dtype() {
            DType::F32 => self.cpu_backward::<f32>(&geo, views, shapes, want_x, want_weights),
            _ => self.cpu_backward::<f64>(&geo, views, shapes, want_x, want_weights),
        }
    }
}
