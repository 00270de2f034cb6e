//! The three GEMMs of a pointwise (1×1) layer on CUDA, through cuBLAS on
//! candle's stream: `y_b (+)= W x_b`, `dx_b (+)= Wᵀ dy_b` and the weight
//! and bias gradients `Σ_b dy_b x_bᵀ`, `Σ dy`.
//!
//! Tensors are channels-first `[batch, C, points]`, which cuBLAS (column
//! major) sees as `points x C` matrices with leading dimension `points`;
//! the packed weights `[C_out, C_in + 1]` (bias in the last column) are a
//! `(C_in + 1) x C_out` column-major matrix whose first `C_in` rows are
//! `Wᵀ`. Accumulating (β = 1) lets a caller add a GEMM onto another
//! term (the spectral branch, its gradient) without a separate pass.
use candle_core::backend::BackendStorage;
use candle_core::{CudaDevice, CudaStorage, Layout, Result};
use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, DevicePtrMut};

use super::kernels::{launch_batch_sum, launch_channel_sum};
use crate::cuda::{by_dtype, u32_of, view, BatchedGemm, GpuReal};
use crate::model::dims::Dims;

/// The name the GEMMs' errors carry (and the channel MLP's, two of them).
pub(super) const NAME: &str = "fno-pointwise-gemm";

/// `out_b (+)= W x_b` for `x` `[B, C_in, P]`, `wb` packed `[C_out, C_in + 1]`,
/// `out` `[B, C_out, P]`.
pub(crate) fn linear<T: GpuReal, O: DevicePtrMut<T>>(
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    wb: &CudaView<'_, T>,
    out: &mut O,
    d: Dims,
    accumulate: bool,
) -> Result<()> {
    BatchedGemm {
        op: NAME,
        trans_a: false,
        trans_b: false,
        m: d.points,
        n: d.c_out,
        k: d.c_in,
        ld: (d.points, d.c_in + 1, d.points),
        strides: (d.c_in * d.points, 0, d.c_out * d.points),
        batch: d.batch,
        accumulate,
    }
    .run(&dev.cublas_handle(), x, wb, out)
}

/// `out_b (+)= Wᵀ dy_b` for `dy` `[B, C_out, P]`, `out` `[B, C_in, P]`.
pub(crate) fn linear_input_grad<T: GpuReal, O: DevicePtrMut<T>>(
    dev: &CudaDevice,
    dy: &CudaView<'_, T>,
    wb: &CudaView<'_, T>,
    out: &mut O,
    d: Dims,
    accumulate: bool,
) -> Result<()> {
    BatchedGemm {
        op: NAME,
        trans_a: false,
        trans_b: true,
        m: d.points,
        n: d.c_in,
        k: d.c_out,
        ld: (d.points, d.c_in + 1, d.points),
        strides: (d.c_out * d.points, 0, d.c_in * d.points),
        batch: d.batch,
        accumulate,
    }
    .run(&dev.cublas_handle(), dy, wb, out)
}

/// The packed gradient `[C_out, C_in + 1]` into `out` (overwritten): `Σ_b
/// dy_b x_bᵀ` (per-sample GEMMs, then one kernel sums over the batch) and
/// the bias column `Σ dy`. `out` must be zeroed (the bias sum adds).
pub(crate) fn linear_weight_grad<T: GpuReal>(
    dev: &CudaDevice,
    dy: &CudaView<'_, T>,
    x: &CudaView<'_, T>,
    out: &mut CudaViewMut<'_, T>,
    d: Dims,
) -> Result<()> {
    // SAFETY: the GEMM writes every element (β = 0) before the sum reads.
    let mut per_sample: CudaSlice<T> = unsafe { dev.alloc(d.batch * d.c_out * d.c_in)? };
    // dW_b as C_in x C_out column-major (= [C_out, C_in] row-major):
    // op(X_b) = X_b (C_in x P) times DY_b (P x C_out).
    BatchedGemm {
        op: NAME,
        trans_a: true,
        trans_b: false,
        m: d.c_in,
        n: d.c_out,
        k: d.points,
        ld: (d.points, d.points, d.c_in),
        strides: (d.c_in * d.points, d.c_out * d.points, d.c_in * d.c_out),
        batch: d.batch,
        accumulate: false,
    }
    .run(&dev.cublas_handle(), x, dy, &mut per_sample)?;
    launch_batch_sum(
        dev,
        &per_sample.slice(..),
        out,
        (d.batch, d.c_out, d.c_in),
        d.c_in + 1,
    )?;
    launch_channel_sum(
        dev,
        dy,
        &mut out.slice_mut(d.c_in..),
        u32_of("channels", d.c_in + 1)?,
        (d.batch, d.c_out, d.points),
    )
}

fn grad_input_t<T: GpuReal>(
    (dy, ldy): (&CudaStorage, &Layout),
    (wb, lwb): (&CudaStorage, &Layout),
    d: Dims,
) -> Result<CudaSlice<T>> {
    let dev = dy.device();
    // SAFETY: the GEMM writes every element (β = 0).
    let mut out: CudaSlice<T> = unsafe { dev.alloc(d.batch * d.c_in * d.points)? };
    let (dy, wb) = (view::<T>(NAME, dy, ldy)?, view::<T>(NAME, wb, lwb)?);
    linear_input_grad(dev, &dy, &wb, &mut out, d, false)?;
    Ok(out)
}

/// `Wᵀ dy` on CUDA storages (the pointwise layer's input gradient op).
pub(crate) fn grad_input(
    dy: (&CudaStorage, &Layout),
    wb: (&CudaStorage, &Layout),
    d: Dims,
) -> Result<CudaStorage> {
    by_dtype(
        NAME,
        dy.0,
        || grad_input_t::<f32>(dy, wb, d),
        || grad_input_t::<f64>(dy, wb, d),
    )
}

fn grad_weight_t<T: GpuReal>(
    (dy, ldy): (&CudaStorage, &Layout),
    (x, lx): (&CudaStorage, &Layout),
    d: Dims,
) -> Result<CudaSlice<T>> {
    let dev = dy.device();
    let mut out = dev.alloc_zeros::<T>(d.c_out * (d.c_in + 1))?;
    let (dy, x) = (view::<T>(NAME, dy, ldy)?, view::<T>(NAME, x, lx)?);
    linear_weight_grad(dev, &dy, &x, &mut out.slice_mut(..), d)?;
    Ok(out)
}

/// The packed weight gradient `[C_out, C_in + 1]` on CUDA storages (the
/// pointwise layer's weight gradient op).
pub(crate) fn grad_weight(
    dy: (&CudaStorage, &Layout),
    x: (&CudaStorage, &Layout),
    d: Dims,
) -> Result<CudaStorage> {
    by_dtype(
        NAME,
        dy.0,
        || grad_weight_t::<f32>(dy, x, d),
        || grad_weight_t::<f64>(dy, x, d),
    )
}
