//! The float types our CUDA kernels are compiled for.

use candle_core::cuda::CudaDType;
use candle_core::WithDType;
use cudarc::cublas::result::CublasError;
use cudarc::cublas::{CudaBlas, Gemm, StridedBatchedConfig};
use cudarc::driver::{DevicePtr, DevicePtrMut, DeviceRepr, ValidAsZeroBits};

/// A real type the CUDA bodies accept (f32 for training, f64 for gradient
/// checks): a candle dtype that lives in device buffers, with the suffix
/// `kernels/*.cu` gives its instantiation of each kernel.
pub(crate) trait GpuReal:
    WithDType + CudaDType + DeviceRepr + ValidAsZeroBits + Copy + 'static
{
    /// Suffix of the kernel names (`fno_<name>_<suffix>`).
    const SUFFIX: &'static str;

    /// cuBLAS's strided-batched GEMM in this type, so that generic code
    /// needs no `CudaBlas: Gemm<T>` bound.
    ///
    /// # Safety
    /// As `Gemm::gemm_strided_batched`: `a`, `b` and `c` hold what `cfg`'s
    /// sizes, leading dimensions and strides address.
    unsafe fn gemm_strided_batched<A: DevicePtr<Self>, B: DevicePtr<Self>, C: DevicePtrMut<Self>>(
        blas: &CudaBlas,
        cfg: StridedBatchedConfig<Self>,
        a: &A,
        b: &B,
        c: &mut C,
    ) -> Result<(), CublasError>;
}

impl GpuReal for f32 {
    const SUFFIX: &'static str = "f32";

    unsafe fn gemm_strided_batched<A: DevicePtr<f32>, B: DevicePtr<f32>, C: DevicePtrMut<f32>>(
        blas: &CudaBlas,
        cfg: StridedBatchedConfig<f32>,
        a: &A,
        b: &B,
        c: &mut C,
    ) -> Result<(), CublasError> {
        // SAFETY: the caller's contract.
        unsafe { Gemm::<f32>::gemm_strided_batched(blas, cfg, a, b, c) }
    }
}

impl GpuReal for f64 {
    const SUFFIX: &'static str = "f64";

    unsafe fn gemm_strided_batched<A: DevicePtr<f64>, B: DevicePtr<f64>, C: DevicePtrMut<f64>>(
        blas: &CudaBlas,
        cfg: StridedBatchedConfig<f64>,
        a: &A,
        b: &B,
        c: &mut C,
    ) -> Result<(), CublasError> {
        // SAFETY: the caller's contract.
        unsafe { Gemm::<f64>::gemm_strided_batched(blas, cfg, a, b, c) }
    }
}
