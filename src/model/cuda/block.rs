//! The stack of Fourier blocks (`model::block_op::BlocksOp`) on CUDA,
//! forward and backward, for training on the input grid.
//!
//! As separate candle ops each block costs, in the backward pass, a zero
//! tensor and an addition per gradient contribution to every intermediate
//! (the reshapes and the broadcast matmul of the pointwise layer, its
//! epilogue, the spectral branch): six activation-sized additions per
//! block, the largest item of the GPU profile (docs/history/gpu.md,
//! "Where the batch-128 step went (before the epilogue)"). Here a block is
//!
//! - forward: `s = K v` (the fused spectral convolution), `s += W v` (cuBLAS
//!   accumulating onto `s`), then one epilogue kernel for `σ(s + b)` and
//!   `σ′`;
//! - backward: `dz = dy σ′` (one kernel), the spectral adjoint of `dz` and
//!   the weight gradient from the input spectrum the forward pass kept,
//!   `dv += Wᵀ dz` (cuBLAS accumulating onto the spectral part), `dW` as
//!   per-sample GEMMs summed over the batch by one kernel, `db` by the
//!   per-channel sum,
//!
//! so the two gradient contributions to a block input meet inside a GEMM
//! and no intermediate passes through candle's gradient store.
use candle_core::backend::BackendStorage;
use candle_core::{CudaDevice, CudaStorage, DType, Error, Layout, Result, Tensor};
use cudarc::driver::{CudaSlice, CudaView};

use super::gemm::{linear, linear_input_grad, linear_weight_grad};
use super::kernels::{launch_epilogue, Bias};
use super::multiply::launch_multiply;
use crate::cuda::{cuda_of, tensor, u32_of, view};
use crate::model::block_stack::{Layer, Stack, NAME};
use crate::model::epilogue::Epilogue;
use crate::model::precision::Precision;
use crate::spectral::cuda::fused::{
    backward_t as spectral_backward, forward_keeping_spectrum, Operands,
};
use crate::spectral::cuda::plan::FftReal;

/// Sizes of one block as the GEMMs see them: batch, width, grid points.
fn sizes(s: &Stack) -> (usize, usize, usize) {
    (s.pointwise.batch, s.pointwise.c_in, s.pointwise.points)
}

/// The forward pass: the output and, per block, what the backward pass
/// needs (its input, except the first block's, and GELU's derivative,
/// both kept in `precision`).
fn forward_t<T: FftReal>(
    s: &Stack,
    precision: Precision,
    dev: &CudaDevice,
    [v, w, wb]: [&CudaView<'_, T>; 3],
) -> Result<(CudaSlice<T>, Vec<Layer>)> {
    let (batch, width, points) = sizes(s);
    let shape = s.geometry.in_shape();
    let bias_stride = u32_of("channels", width + 1)?;
    let mut layers = Vec::with_capacity(s.layers);
    let mut current: Option<CudaSlice<T>> = None;
    for l in 0..s.layers {
        let input = match &current {
            Some(c) => c.slice(..),
            None => v.slice(..),
        };
        let w_re = w.slice(2 * l * s.spectral_len..(2 * l + 1) * s.spectral_len);
        let w_im = w.slice((2 * l + 1) * s.spectral_len..(2 * l + 2) * s.spectral_len);
        let wb_l = wb.slice(l * s.pointwise_len..(l + 1) * s.pointwise_len);
        let (mut z, spectrum) = forward_keeping_spectrum(&s.geometry, dev, &input, &w_re, &w_im)?;
        linear(dev, &input, &wb_l, &mut z, s.pointwise, true)?;
        let last = l + 1 == s.layers;
        let bias_values = wb_l.slice(width..);
        let bias = Bias {
            values: &bias_values,
            stride: bias_stride,
        };
        let epilogue = match last {
            true => Epilogue::Affine,
            false => Epilogue::GeluWithDerivative,
        };
        let (out, derivative) = launch_epilogue(
            dev,
            &z.slice(..),
            bias,
            None,
            epilogue,
            (batch, width, points),
        )?;
        let layer = Layer {
            input: current.take().map(|c| tensor(dev, c, &shape)),
            derivative: derivative.map(|d| tensor(dev, d, &shape)),
            spectrum: None,
            device_spectrum: spectrum.map(|k| {
                let len = k.len();
                tensor(dev, k, &[len])
            }),
        };
        layers.push(layer.kept_in(precision)?);
        current = Some(out);
    }
    current
        .map(|c| (c, layers))
        .ok_or_else(|| Error::Msg(format!("{NAME}: no blocks")))
}

/// `BlocksOp`'s `cuda_fwd`: the output storage and the layers to keep.
pub(crate) fn forward(
    s: &Stack,
    precision: Precision,
    (v, lv): (&CudaStorage, &Layout),
    (w, lw): (&CudaStorage, &Layout),
    (wb, lwb): (&CudaStorage, &Layout),
) -> Result<(CudaStorage, Vec<Layer>)> {
    let dev = v.device().clone();
    match v.dtype() {
        DType::F32 => {
            let args = [
                &view(NAME, v, lv)?,
                &view(NAME, w, lw)?,
                &view(NAME, wb, lwb)?,
            ];
            let (out, layers) = forward_t::<f32>(s, precision, &dev, args)?;
            Ok((CudaStorage::wrap_cuda_slice(out, dev), layers))
        }
        DType::F64 => {
            let args = [
                &view(NAME, v, lv)?,
                &view(NAME, w, lw)?,
                &view(NAME, wb, lwb)?,
            ];
            let (out, layers) = forward_t::<f64>(s, precision, &dev, args)?;
            Ok((CudaStorage::wrap_cuda_slice(out, dev), layers))
        }
        dtype => Err(Error::UnsupportedDTypeForOp(dtype, NAME)),
    }
}

/// Gradients of `v`, the stacked spectral weights and the packed pointwise
/// weights, through the blocks in reverse.
fn backward_t<T: FftReal>(
    s: &Stack,
    [v, w, wb, dy]: [&Tensor; 4],
    mut layers: Vec<Layer>,
) -> Result<(Tensor, Tensor, Tensor)> {
    let guards = [v, w, wb, dy].map(|t| t.storage_and_layout());
    let [(sv, lv), (sw, lw), (swb, lwb), (sdy, ldy)] = &guards;
    let sv = cuda_of(NAME, sv)?;
    let dev = sv.device();
    let v_view = view::<T>(NAME, sv, lv)?;
    let w_view = view::<T>(NAME, cuda_of(NAME, sw)?, lw)?;
    let wb_view = view::<T>(NAME, cuda_of(NAME, swb)?, lwb)?;
    let dy_view = view::<T>(NAME, cuda_of(NAME, sdy)?, ldy)?;
    let (batch, width, points) = sizes(s);
    let mut grad_w = dev.alloc_zeros::<T>(w.elem_count())?;
    let mut grad_wb = dev.alloc_zeros::<T>(wb.elem_count())?;
    let mut grad: Option<CudaSlice<T>> = None;
    for l in (0..s.layers).rev() {
        let layer = layers
            .pop()
            .ok_or_else(|| Error::Msg(format!("{NAME}: the forward pass kept {l} blocks too few")))?
            .widened(v.dtype())?;
        let kept_input = layer.input.as_ref().map(|t| t.storage_and_layout());
        let input = match &kept_input {
            Some((st, lt)) => view::<T>(NAME, cuda_of(NAME, st)?, lt)?,
            None => v_view.slice(..),
        };
        let output_grad = match &grad {
            Some(g) => g.slice(..),
            None => dy_view.slice(..),
        };
        let chained = match &layer.derivative {
            Some(d) => {
                let (sd, ld) = d.storage_and_layout();
                let derivative = view::<T>(NAME, cuda_of(NAME, &sd)?, ld)?;
                Some(launch_multiply(
                    dev,
                    &output_grad,
                    &derivative,
                    batch * width * points,
                )?)
            }
            None => None,
        };
        let dz = match &chained {
            Some(c) => c.slice(..),
            None => output_grad,
        };
        let w_re = w_view.slice(2 * l * s.spectral_len..(2 * l + 1) * s.spectral_len);
        let w_im = w_view.slice((2 * l + 1) * s.spectral_len..(2 * l + 2) * s.spectral_len);
        let wb_l = wb_view.slice(l * s.pointwise_len..(l + 1) * s.pointwise_len);
        let operands = Operands {
            x: input.slice(..),
            w_re,
            w_im,
            grad: dz.slice(..),
        };
        let kept = layer
            .device_spectrum
            .as_ref()
            .map(|t| t.storage_and_layout());
        let spectrum = match &kept {
            Some((st, lt)) => Some(view::<T>(NAME, cuda_of(NAME, st)?, lt)?),
            None => None,
        };
        let (dx, dw) =
            spectral_backward(&s.geometry, dev, &operands, (true, true), spectrum.as_ref())?;
        let mut dx = dx.ok_or_else(|| Error::Msg(format!("{NAME}: no input gradient")))?;
        if let Some((re, im)) = dw {
            let len = s.spectral_len;
            dev.memcpy_dtod(&re, &mut grad_w.slice_mut(2 * l * len..(2 * l + 1) * len))?;
            dev.memcpy_dtod(
                &im,
                &mut grad_w.slice_mut((2 * l + 1) * len..(2 * l + 2) * len),
            )?;
        }
        linear_input_grad(dev, &dz, &wb_l, &mut dx, s.pointwise, true)?;
        let base = l * s.pointwise_len;
        linear_weight_grad(
            dev,
            &dz,
            &input,
            &mut grad_wb.slice_mut(base..base + s.pointwise_len),
            s.pointwise,
        )?;
        grad = Some(dx);
    }
    let grad = grad.ok_or_else(|| Error::Msg(format!("{NAME}: no blocks")))?;
    Ok((
        tensor(dev, grad, v.dims()),
        tensor(dev, grad_w, w.dims()),
        tensor(dev, grad_wb, wb.dims()),
    ))
}

/// `BlocksOp`'s backward pass on CUDA tensors (contiguous, one dtype).
pub(crate) fn backward(
    s: &Stack,
    args: [&Tensor; 4],
    layers: Vec<Layer>,
) -> Result<(Tensor, Tensor, Tensor)> {
    match args[0].dtype() {
        DType::F32 => backward_t::<f32>(s, args, layers),
        DType::F64 => backward_t::<f64>(s, args, layers),
        dtype => Err(Error::UnsupportedDTypeForOp(dtype, NAME)),
    }
}
