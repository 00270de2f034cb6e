//! The elementwise product of two CUDA tensors in one pass of our kernel
//! (`kernels/pointwise.cu`), which chains a saved GELU derivative into the
//! incoming gradient.
use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CudaDevice, CudaStorage, CustomOp2, Error, Layout, Result, Shape, Tensor,
};
use cudarc::driver::{CudaSlice, CudaView, PushKernelArg};

use crate::cuda::{by_dtype, config, view, GpuReal, Kernel, Module};

/// `a * b` for two CUDA tensors of one shape, in one pass of our kernel
/// (candle's broadcasting `mul` is about three times slower on full
/// activations); not differentiable.
pub(crate) fn multiply(a: &Tensor, b: &Tensor) -> Result<Tensor> {
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
    let kernel = Kernel::new::<T>(dev, Module::Pointwise, "multiply")?;
    let total64 = total as u64;
    let mut args = kernel.args();
    args.arg(a).arg(b).arg(&mut out).arg(&total64);
    // SAFETY: matches fno_multiply's signature; all three hold `total`.
    unsafe { args.launch(config(total64)) }.map_err(|e| kernel.error(e))?;
    Ok(out)
}
