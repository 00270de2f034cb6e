//! The CUDA bodies of `adamw_inplace.rs`'s in-place ops: one kernel of
//! `kernels/optim.cu` per moment and one for the parameter.
use candle_core::backend::BackendStorage;
use candle_core::{bail, CudaStorage, DType, Result};
use cudarc::driver::PushKernelArg;

use crate::cuda::{config, GpuReal, Kernel, Module};
use crate::train::adamw_params::StepParams;

fn moment_t<T: GpuReal>(
    dst: &mut CudaStorage,
    (start, n): (usize, usize),
    (grad, grad_start): (&CudaStorage, usize),
    decay: f64,
    square: bool,
) -> Result<()> {
    let dev = dst.device().clone();
    let g = grad.as_cuda_slice::<T>()?.slice(grad_start..grad_start + n);
    let mut d = dst.as_cuda_slice_mut::<T>()?.slice_mut(start..start + n);
    let kernel = Kernel::new::<T>(&dev, Module::Optim, "adamw_moment")?;
    let (decay, square, n64) = (T::from_f64(decay), u32::from(square), n as u64);
    let mut args = kernel.args();
    args.arg(&mut d).arg(&g).arg(&decay).arg(&square).arg(&n64);
    // SAFETY: matches fno_adamw_moment's signature; both views hold `n`.
    unsafe { args.launch(config(n64)) }.map_err(|e| kernel.error(e))?;
    Ok(())
}

/// `dst[start..start + n] ← decay · dst + (1 − decay) · g` (or `g²`), `g`
/// read from `grad` at `grad_start`.
pub(crate) fn moment(
    dst: &mut CudaStorage,
    span: (usize, usize),
    grad: (&CudaStorage, usize),
    decay: f64,
    square: bool,
) -> Result<()> {
    if grad.0.dtype() != dst.dtype() {
        bail!("adamw: moments and gradients must be f32 or f64 alike");
    }
    match dst.dtype() {
        DType::F32 => moment_t::<f32>(dst, span, grad, decay, square),
        DType::F64 => moment_t::<f64>(dst, span, grad, decay, square),
        _ => bail!("adamw: moments and gradients must be f32 or f64 alike"),
    }
}

fn update_t<T: GpuReal>(
    param: &mut CudaStorage,
    (start, n): (usize, usize),
    (m, m_start): (&CudaStorage, usize),
    (v, v_start): (&CudaStorage, usize),
    s: &StepParams,
) -> Result<()> {
    let dev = param.device().clone();
    let m = m.as_cuda_slice::<T>()?.slice(m_start..m_start + n);
    let v = v.as_cuda_slice::<T>()?.slice(v_start..v_start + n);
    let mut p = param.as_cuda_slice_mut::<T>()?.slice_mut(start..start + n);
    let kernel = Kernel::new::<T>(&dev, Module::Optim, "adamw_update")?;
    let scalars = [
        1.0 - s.lr * s.weight_decay,
        s.lr,
        1.0 / s.bias1,
        1.0 / s.bias2,
        s.eps,
    ]
    .map(T::from_f64);
    let n64 = n as u64;
    let mut args = kernel.args();
    args.arg(&mut p).arg(&m).arg(&v);
    for x in &scalars {
        args.arg(x);
    }
    args.arg(&n64);
    // SAFETY: matches fno_adamw_update's signature (five scalars between
    // the buffers and the count); all three views hold `n`.
    unsafe { args.launch(config(n64)) }.map_err(|e| kernel.error(e))?;
    Ok(())
}

/// `p ← p (1 − lr λ) − lr (m / b1) / (√(v / b2) + ε)` on
/// `param[start..start + n]`, the moments read at their own offsets.
pub(crate) fn update(
    param: &mut CudaStorage,
    span: (usize, usize),
    m: (&CudaStorage, usize),
    v: (&CudaStorage, usize),
    s: &StepParams,
) -> Result<()> {
    if m.0.dtype() != param.dtype() || v.0.dtype() != param.dtype() {
        bail!("adamw: parameters and moments must be f32 or f64 alike");
    }
    match param.dtype() {
        DType::F32 => update_t::<f32>(param, span, m, v, s),
        DType::F64 => update_t::<f64>(param, span, m, v, s),
        _ => bail!("adamw: parameters and moments must be f32 or f64 alike"),
    }
}
