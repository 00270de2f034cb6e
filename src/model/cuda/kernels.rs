//! The launches of the pointwise layers' kernels (`kernels/pointwise.cu`):
//! the epilogue `σ(z + bias (+ skip))` with GELU's derivative, the
//! per-channel sum of the bias gradient, and the batch sum of per-sample
//! weight gradients.
use candle_core::{CudaDevice, Error, Result};
use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, LaunchConfig, PushKernelArg};

use crate::cuda::{config, u32_of, GpuReal, Kernel, Module};
use crate::model::epilogue::Epilogue;

/// Threads per block of `channel_sum` (its shared array has this size) and
/// of `epilogue`.
const SUM_THREADS: u32 = 256;

/// A per-channel bias: channel `c`'s value at `values[c * stride]`.
pub(super) struct Bias<'a, 'b, T> {
    pub(super) values: &'a CudaView<'b, T>,
    pub(super) stride: u32,
}

/// `σ(z + bias (+ skip))` and, when `epilogue` keeps it, GELU's `σ′` at the
/// same point, for `z` `[batch, channels, inner]` (`sizes`).
pub(super) fn launch_epilogue<T: GpuReal>(
    dev: &CudaDevice,
    z: &CudaView<'_, T>,
    bias: Bias<'_, '_, T>,
    skip: Option<&CudaView<'_, T>>,
    epilogue: Epilogue,
    (batch, channels, inner): (usize, usize, usize),
) -> Result<(CudaSlice<T>, Option<CudaSlice<T>>)> {
    let total = batch * channels * inner;
    // SAFETY: the kernel writes every element of both buffers.
    let mut out = unsafe { dev.alloc::<T>(total)? };
    let mut derivative = if epilogue == Epilogue::GeluWithDerivative {
        Some(unsafe { dev.alloc::<T>(total)? })
    } else {
        None
    };
    if total == 0 {
        return Ok((out, derivative));
    }
    let kernel = Kernel::new::<T>(dev, Module::Pointwise, "epilogue")?;
    let (rows, channels32, inner64) = (
        u32_of("batch x channels", batch * channels)?,
        u32_of("channels", channels)?,
        inner as u64,
    );
    // The kernel reads a null pointer as "no skip" / "no derivative".
    let null: u64 = 0;
    let mut args = kernel.args();
    args.arg(z).arg(bias.values);
    match skip {
        Some(s) => args.arg(s),
        None => args.arg(&null),
    };
    args.arg(&mut out);
    match &mut derivative {
        Some(d) => args.arg(d),
        None => args.arg(&null),
    };
    let gelu = u32::from(epilogue != Epilogue::Affine);
    args.arg(&rows)
        .arg(&channels32)
        .arg(&inner64)
        .arg(&bias.stride)
        .arg(&gelu);
    // Blocks along x take rows (both loops of the kernel stride, so any
    // grid within the limits covers everything).
    let cfg = LaunchConfig {
        grid_dim: (
            rows.min(i32::MAX as u32),
            inner64.div_ceil(u64::from(SUM_THREADS)).clamp(1, 65_535) as u32,
            1,
        ),
        block_dim: (SUM_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: the argument list matches fno_epilogue's signature, every
    // buffer holds `total` elements and the bias `channels` strided ones
    // (the callers' shapes).
    unsafe { args.launch(cfg) }.map_err(|e| kernel.error(e))?;
    Ok((out, derivative))
}

/// Adds the per-channel sums of `g` `[batch, channels, inner]` (`sizes`)
/// into `out[c * out_stride]`.
pub(super) fn launch_channel_sum<T: GpuReal>(
    dev: &CudaDevice,
    g: &CudaView<'_, T>,
    out: &mut CudaViewMut<'_, T>,
    out_stride: u32,
    (batch, channels, inner): (usize, usize, usize),
) -> Result<()> {
    let count = (batch * inner) as u64;
    if count == 0 || channels == 0 {
        return Ok(());
    }
    if channels > 65_535 {
        return Err(Error::Msg(format!(
            "fno-channel-sum: {channels} channels exceed the grid's 65535"
        )));
    }
    let kernel = Kernel::new::<T>(dev, Module::Pointwise, "channel_sum")?;
    // Blocks along x split a row's points, along z the batch (about 32
    // rows each, so the block reduction is a small part), the channel
    // along y.
    let along_row = (inner as u64).div_ceil(u64::from(SUM_THREADS)).clamp(1, 64) as u32;
    let along_batch = (batch as u64).div_ceil(32).clamp(1, 64) as u32;
    let cfg = LaunchConfig {
        grid_dim: (along_row, channels as u32, along_batch),
        block_dim: (SUM_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let (batch64, channels32, inner64) = (batch as u64, channels as u32, inner as u64);
    let mut args = kernel.args();
    args.arg(g)
        .arg(out)
        .arg(&batch64)
        .arg(&channels32)
        .arg(&inner64)
        .arg(&out_stride);
    // SAFETY: the argument list matches fno_channel_sum's signature; `g`
    // holds batch × channels × inner elements and `out` reaches
    // (channels - 1) × out_stride (the callers' shapes).
    unsafe { args.launch(cfg) }.map_err(|e| kernel.error(e))?;
    Ok(())
}

/// `out[r * ld_out + c] = Σ_b x[b, r, c]` for `x` `[batch, rows, cols]`.
pub(super) fn launch_batch_sum<T: GpuReal>(
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    out: &mut CudaViewMut<'_, T>,
    (batch, rows, cols): (usize, usize, usize),
    ld_out: usize,
) -> Result<()> {
    let per_sample = (rows * cols) as u64;
    if per_sample == 0 {
        return Ok(());
    }
    let kernel = Kernel::new::<T>(dev, Module::Pointwise, "batch_sum")?;
    let batch64 = batch as u64;
    let (rows32, cols32, ld32) = (
        u32_of("rows", rows)?,
        u32_of("columns", cols)?,
        u32_of("leading dimension", ld_out)?,
    );
    let mut args = kernel.args();
    args.arg(x)
        .arg(out)
        .arg(&batch64)
        .arg(&rows32)
        .arg(&cols32)
        .arg(&ld32);
    // SAFETY: matches fno_batch_sum's signature; `x` holds batch × rows ×
    // cols values and `out` reaches (rows - 1) × ld_out + cols.
    unsafe { args.launch(config(per_sample)) }.map_err(|e| kernel.error(e))?;
    Ok(())
}
