//! The one error type of the CUDA plumbing and of the wrappers around the
//! CUDA libraries (kernel launches, cuFFT, cuBLAS).
//!
//! Custom ops must return `candle_core::Result`; the `From` impl below
//! carries a [`CudaError`] inside `candle_core::Error::Cuda`, which displays
//! it unchanged.

use candle_core::DType;

/// What can go wrong between candle's CUDA storages and our kernels.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CudaError {
    /// A storage is not laid out contiguously where the op needs it.
    #[error("{op}: operand is not contiguous")]
    NonContiguous {
        /// The op that checked the layout.
        op: &'static str,
    },
    /// The kernels exist for f32 and f64 only.
    #[error("{op}: unsupported dtype {dtype:?} (supported: f32, f64)")]
    UnsupportedDType {
        /// The op that checked the dtype.
        op: &'static str,
        /// The dtype that was passed.
        dtype: DType,
    },
    /// A tensor the CUDA body needs on the device lives elsewhere.
    #[error("{op}: not implemented on device {device}")]
    NotOnCuda {
        /// The op that checked the device.
        op: &'static str,
        /// The device, in words (e.g. `Cpu`).
        device: String,
    },
    /// A size or index does not fit the integer type a kernel or library
    /// takes.
    #[error("{what} {value} exceeds {limit}")]
    TooLarge {
        /// What the value is, with the library or op it is for where that
        /// helps.
        what: String,
        /// The value.
        value: usize,
        /// The type it must fit, in words.
        limit: &'static str,
    },
    /// A real transform was asked to keep more bins than it has.
    #[error("{op}: {keep} bins for a length-{n} real transform")]
    TooManyBins {
        /// The transform (`rfft`, `irfft`).
        op: &'static str,
        /// The bins asked for.
        keep: usize,
        /// The transform length.
        n: usize,
    },
    /// The driver refused a launch of one of our kernels.
    #[error("kernel fno_{kernel}: {message}")]
    Launch {
        /// The kernel's name without the `fno_` prefix and dtype suffix.
        kernel: &'static str,
        /// The driver's message.
        message: String,
    },
    /// A cuFFT plan could not be made or run.
    #[error("cuFFT {what}: {message}")]
    Cufft {
        /// The step and the plan's type and sizes.
        what: String,
        /// The library's message.
        message: String,
    },
    /// A cuBLAS call failed.
    #[error("{op}: cuBLAS: {message}")]
    Cublas {
        /// The op that called cuBLAS.
        op: &'static str,
        /// The library's status.
        message: String,
    },
}

impl From<CudaError> for candle_core::Error {
    fn from(err: CudaError) -> Self {
        candle_core::Error::Cuda(Box::new(err))
    }
}
