//! Between candle's CUDA storages and typed device buffers: contiguous
//! views, the f32/f64 dispatch, and wrapping results back into storages
//! and tensors.

use candle_core::backend::BackendStorage;
use candle_core::op::BackpropOp;
use candle_core::{CudaDevice, CudaStorage, DType, Layout, Storage, Tensor};
use cudarc::driver::{CudaSlice, CudaView};

use super::error::CudaError;
use super::real::GpuReal;

/// The contiguous values of `storage` seen through `layout`.
pub(crate) fn view<'a, T: GpuReal>(
    op: &'static str,
    storage: &'a CudaStorage,
    layout: &Layout,
) -> candle_core::Result<CudaView<'a, T>> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or(CudaError::NonContiguous { op })?;
    Ok(storage.as_cuda_slice::<T>()?.slice(start..end))
}

/// Runs `single` or `double` depending on `storage`'s dtype (f32, f64) and
/// wraps the result as a storage on the same device.
pub(crate) fn by_dtype(
    op: &'static str,
    storage: &CudaStorage,
    single: impl FnOnce() -> candle_core::Result<CudaSlice<f32>>,
    double: impl FnOnce() -> candle_core::Result<CudaSlice<f64>>,
) -> candle_core::Result<CudaStorage> {
    let dev = storage.device();
    match storage.dtype() {
        DType::F32 => Ok(wrap(dev, single()?)),
        DType::F64 => Ok(wrap(dev, double()?)),
        dtype => Err(CudaError::UnsupportedDType { op, dtype }.into()),
    }
}

/// The CUDA storage behind a tensor.
pub(crate) fn cuda_of<'a>(
    op: &'static str,
    s: &'a Storage,
) -> candle_core::Result<&'a CudaStorage> {
    match s {
        Storage::Cuda(c) => Ok(c),
        other => Err(CudaError::NotOnCuda {
            op,
            device: format!("{:?}", other.device().location()),
        }
        .into()),
    }
}

/// A device buffer as a storage on `dev`.
pub(crate) fn wrap<T: GpuReal>(dev: &CudaDevice, slice: CudaSlice<T>) -> CudaStorage {
    CudaStorage::wrap_cuda_slice(slice, dev.clone())
}

/// A tensor with no graph of its own (a gradient, a value kept for the
/// backward pass) from a device buffer.
pub(crate) fn tensor<T: GpuReal>(dev: &CudaDevice, slice: CudaSlice<T>, shape: &[usize]) -> Tensor {
    let storage = Storage::Cuda(wrap(dev, slice));
    Tensor::from_storage(storage, shape.to_vec(), BackpropOp::none(), false)
}
