//! The pointwise layers' epilogue on CUDA (feature `cuda`).
//!
//! After cuBLAS has computed `z = W x`, one kernel (`kernels/pointwise.cu`)
//! writes `y = σ(z + bias + skip)` and, for GELU, the derivative σ′ at the
//! same point, which the backward pass multiplies into the incoming
//! gradient. The bias gradient is a per-channel sum in a second kernel.
//! With candle's own ops the same layer costs a broadcast add, an add, the
//! activation, about eight elementwise passes for GELU's derivative and a
//! generic reduction, each over the full activation (see BENCHMARKS.md,
//! "Where the batch-128 step goes").
use candle_core::backend::BackendStorage;
use candle_core::op::BackpropOp;
use candle_core::CudaDevice;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, DType, Error, Layout, Result, Shape,
    Storage, Tensor,
};
use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, LaunchConfig, PushKernelArg};

use super::pointwise::{Epilogue, SavedDerivative};
use crate::spectral::cuda::launch::{config, u32_of, Kernel, Module};
use crate::spectral::cuda::ops::{by_dtype, view};
use crate::spectral::cuda::plan::GpuReal;

/// `σ(z + bias[c] (+ skip))` for `z` `[batch, C, grid..]` on a CUDA device,
/// σ GELU (erf form) when `gelu`, the identity otherwise. Differentiable in
/// all three inputs.
pub(crate) fn epilogue(
    z: &Tensor,
    bias: &Tensor,
    skip: Option<&Tensor>,
    gelu: bool,
) -> Result<Tensor> {
    let z = z.contiguous()?;
    let bias = bias.contiguous()?;
    match skip {
        None => z.apply_op2(&bias, EpilogueOp::new(gelu)),
        Some(skip) => z.apply_op3(&bias, &skip.contiguous()?, EpilogueOp::new(gelu)),
    }
}

const OP: &str = "fno-pointwise-epilogue";

/// Threads per block of `channel_sum` (its shared array has this size) and
/// of `epilogue`.
const SUM_THREADS: u32 = 256;

/// The epilogue as a candle op; one instance per forward call, holding that
/// call's GELU derivative for its backward pass.
struct EpilogueOp {
    /// Chosen when the op is built: inside [`super::inference`] GELU's
    /// derivative is not kept.
    epilogue: Epilogue,
    derivative: SavedDerivative,
}

impl EpilogueOp {
    fn new(gelu: bool) -> Self {
        Self {
            epilogue: Epilogue::new(gelu),
            derivative: SavedDerivative::default(),
        }
    }

    fn run(
        &self,
        z: (&CudaStorage, &Layout),
        bias: (&CudaStorage, &Layout),
        skip: Option<(&CudaStorage, &Layout)>,
    ) -> Result<(CudaStorage, Shape)> {
        let shape = z.1.shape().clone();
        let dims = shape.dims();
        if dims.len() < 2 || bias.1.shape().dims() != [dims[1]] {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: shape.clone(),
                rhs: bias.1.shape().clone(),
                op: OP,
            });
        }
        if let Some((_, l)) = skip {
            if l.shape() != &shape {
                return Err(Error::ShapeMismatchBinaryOp {
                    lhs: shape.clone(),
                    rhs: l.shape().clone(),
                    op: OP,
                });
            }
        }
        let dev = z.0.device().clone();
        let (out, derivative) = match z.0.dtype() {
            DType::F32 => {
                let (o, d) = forward_t::<f32>(z, bias, skip, self.epilogue)?;
                (
                    CudaStorage::wrap_cuda_slice(o, dev.clone()),
                    d.map(|d| CudaStorage::wrap_cuda_slice(d, dev.clone())),
                )
            }
            DType::F64 => {
                let (o, d) = forward_t::<f64>(z, bias, skip, self.epilogue)?;
                (
                    CudaStorage::wrap_cuda_slice(o, dev.clone()),
                    d.map(|d| CudaStorage::wrap_cuda_slice(d, dev.clone())),
                )
            }
            dtype => return Err(Error::UnsupportedDTypeForOp(dtype, OP)),
        };
        if let Some(d) = derivative {
            let saved =
                Tensor::from_storage(Storage::Cuda(d), shape.clone(), BackpropOp::none(), false);
            self.derivative.save(saved);
        }
        Ok((out, shape))
    }

    /// The gradient of the affine value `z + bias + skip`, which is also
    /// the gradient of `z` and of `skip`, and the bias gradient.
    fn backward(&self, grad: &Tensor) -> Result<(Tensor, Tensor)> {
        let dz = self.derivative.chain(
            grad,
            self.epilogue != Epilogue::Affine,
            "fno-pointwise-epilogue without a recorded forward pass",
        )?;
        let dbias = dz.apply_op1_no_bwd(&ChannelSum)?;
        Ok((dz, dbias))
    }
}

fn cpu_refused<T>() -> Result<T> {
    Err(Error::Msg(format!("{OP} runs on CUDA tensors only")))
}

impl CustomOp2 for EpilogueOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_refused()
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.run((s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dz, dbias) = self.backward(grad)?;
        Ok((Some(dz), Some(dbias)))
    }
}

impl CustomOp3 for EpilogueOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_refused()
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.run((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dz, dbias) = self.backward(grad)?;
        Ok((Some(dz.clone()), Some(dbias), Some(dz)))
    }
}

/// `a * b` for two CUDA tensors of one shape, in one pass of our kernel
/// (candle's broadcasting `mul` is about three times slower on full
/// activations); not differentiable.
pub(super) fn multiply(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.shape() != b.shape() {
        return Err(Error::ShapeMismatchBinaryOp {
            lhs: a.shape().clone(),
            rhs: b.shape().clone(),
            op: MULTIPLY,
        });
    }
    a.contiguous()?
        .apply_op2_no_bwd(&b.contiguous()?, &Multiply)
}

struct Multiply;

const MULTIPLY: &str = "fno-multiply";

impl CustomOp2 for Multiply {
    fn name(&self) -> &'static str {
        MULTIPLY
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Err(Error::Msg(format!("{MULTIPLY} runs on CUDA tensors only")))
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let dev = s1.device();
        let n = l1.shape().elem_count();
        let out = by_dtype(
            MULTIPLY,
            s1,
            || launch_multiply::<f32>(dev, &view(MULTIPLY, s1, l1)?, &view(MULTIPLY, s2, l2)?, n),
            || launch_multiply::<f64>(dev, &view(MULTIPLY, s1, l1)?, &view(MULTIPLY, s2, l2)?, n),
        )?;
        Ok((out, l1.shape().clone()))
    }
}

/// `[batch, C, grid..]` → `[C]`: the sum over everything but the channel.
struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "fno-channel-sum"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        cpu_refused()
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let dims = l.shape().dims();
        if dims.len() < 2 {
            return Err(Error::UnexpectedNumberOfDims {
                expected: 2,
                got: dims.len(),
                shape: l.shape().clone(),
            });
        }
        let channels = dims[1];
        let dev = s.device().clone();
        let out = match s.dtype() {
            DType::F32 => CudaStorage::wrap_cuda_slice(channel_sum_t::<f32>(s, l)?, dev),
            DType::F64 => CudaStorage::wrap_cuda_slice(channel_sum_t::<f64>(s, l)?, dev),
            dtype => return Err(Error::UnsupportedDTypeForOp(dtype, "fno-channel-sum")),
        };
        Ok((out, Shape::from(channels)))
    }
}

/// `[batch, C, inner]` sizes of a channels-first shape.
fn split(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

fn forward_t<T: GpuReal>(
    z: (&CudaStorage, &Layout),
    bias: (&CudaStorage, &Layout),
    skip: Option<(&CudaStorage, &Layout)>,
    epilogue: Epilogue,
) -> Result<(CudaSlice<T>, Option<CudaSlice<T>>)> {
    let zv = view::<T>(OP, z.0, z.1)?;
    let bv = view::<T>(OP, bias.0, bias.1)?;
    let sv = skip.map(|(s, l)| view::<T>(OP, s, l)).transpose()?;
    let bias = Bias {
        values: &bv,
        stride: 1,
    };
    launch_epilogue(
        z.0.device(),
        &zv,
        bias,
        sv.as_ref(),
        epilogue,
        split(z.1.dims()),
    )
}

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
    let kernel = Kernel::from_module::<T>(dev, Module::Pointwise, "epilogue")?;
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
    let kernel = Kernel::from_module::<T>(dev, Module::Pointwise, "channel_sum")?;
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

/// `a * b` elementwise (`total` values each).
pub(super) fn launch_multiply<T: GpuReal>(
    dev: &CudaDevice,
    a: &CudaView<'_, T>,
    b: &CudaView<'_, T>,
    total: usize,
) -> Result<CudaSlice<T>> {
    // SAFETY: the kernel writes every element.
    let mut out = unsafe { dev.alloc::<T>(total)? };
    if total == 0 {
        return Ok(out);
    }
    let kernel = Kernel::from_module::<T>(dev, Module::Pointwise, "multiply")?;
    let total64 = total as u64;
    let mut args = kernel.args();
    args.arg(a).arg(b).arg(&mut out).arg(&total64);
    // SAFETY: matches fno_multiply's signature; all three hold `total`.
    unsafe { args.launch(config(total64)) }.map_err(|e| kernel.error(e))?;
    Ok(out)
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
    let kernel = Kernel::from_module::<T>(dev, Module::Pointwise, "batch_sum")?;
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

fn channel_sum_t<T: GpuReal>(s: &CudaStorage, l: &Layout) -> Result<CudaSlice<T>> {
    let dev = s.device();
    let sizes = split(l.shape().dims());
    let mut out = dev.alloc_zeros::<T>(sizes.1)?;
    let g = view::<T>("fno-channel-sum", s, l)?;
    launch_channel_sum(dev, &g, &mut out.slice_mut(..), 1, sizes)?;
    Ok(out)
}
