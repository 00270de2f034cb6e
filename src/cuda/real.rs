//! The float types our CUDA kernels are compiled for.

use candle_core::cuda::CudaDType;
use candle_core::WithDType;
use cudarc::driver::{DeviceRepr, ValidAsZeroBits};

/// A real type the CUDA bodies accept (f32 for training, f64 for gradient
/// checks): a candle dtype that lives in device buffers, with the suffix
/// `kernels/*.cu` gives its instantiation of each kernel.
pub(crate) trait GpuReal:
    WithDType + CudaDType + DeviceRepr + ValidAsZeroBits + Copy + 'static
{
    /// Suffix of the kernel names (`fno_<name>_<suffix>`).
    const SUFFIX: &'static str;
}

impl GpuReal for f32 {
    const SUFFIX: &'static str = "f32";
}

impl GpuReal for f64 {
    const SUFFIX: &'static str = "f64";
}
