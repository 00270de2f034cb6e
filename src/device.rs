//! The device a model runs on, named as users write it (`cpu`, `cuda`,
//! `cuda:N`), and opening it: the CLI's `--device` flag and the Python
//! package's `device=` argument share this.
use candle_core::Device;
use std::str::FromStr;

/// A device named by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// The CUDA GPU with this ordinal; `cuda` alone (`None`) is the GPU of
    /// this process's local rank under an MPI launcher
    /// ([`crate::dist::gpu_of_local_rank`]), GPU 0 otherwise.
    Cuda(Option<usize>),
}

/// Why a device could not be named or opened.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The name is none of `cpu`, `cuda`, `cuda:N`.
    #[error("`{0}` is not a device; expected cpu, cuda or cuda:N")]
    Unknown(String),
    /// A CUDA device was asked of a build without the `cuda` feature.
    #[error("fno was built without CUDA; rebuild with --features cuda")]
    NoCuda,
    /// No CUDA device is visible, or the driver could not count them.
    #[error("no CUDA device is visible ({0})")]
    NoGpu(String),
    /// The driver refused the device.
    #[error("{what} CUDA device cuda:{ordinal}")]
    Cuda {
        /// `opening` or `configuring`.
        what: &'static str,
        /// The GPU's ordinal.
        ordinal: usize,
        /// candle's error.
        source: candle_core::Error,
    },
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DeviceError::Unknown(s.to_string());
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(None)),
            _ => {
                let n = s.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse().map(|n| Self::Cuda(Some(n))).map_err(|_| bad())
            }
        }
    }
}

impl DeviceChoice {
    /// Opens the device. A CUDA device needs a build with the `cuda`
    /// feature and a working driver; otherwise this is the error the user
    /// sees.
    pub fn open(self) -> Result<Device, DeviceError> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(Some(ordinal)) => open_cuda(ordinal),
            Self::Cuda(None) => open_cuda(gpu_of_this_rank()?),
        }
    }

    /// The device as users write it, `cuda:N` for a named GPU.
    pub fn name(self) -> String {
        match self {
            Self::Cpu => "cpu".into(),
            Self::Cuda(Some(n)) => format!("cuda:{n}"),
            Self::Cuda(None) => "cuda".into(),
        }
    }
}

/// This process's GPU when `cuda` names none: by its local rank under an
/// MPI launcher (the ranks on a node take the GPUs in turn), GPU 0
/// otherwise.
#[cfg(feature = "cuda")]
fn gpu_of_this_rank() -> Result<usize, DeviceError> {
    let local_rank = crate::dist::detect(|name| std::env::var(name).ok())
        .ok()
        .flatten()
        .and_then(|launch| launch.local_rank)
        .unwrap_or(0);
    let gpus = cudarc::driver::CudaContext::device_count()
        .map_err(|e| DeviceError::NoGpu(format!("counting them failed: {e}")))?;
    match usize::try_from(gpus) {
        Ok(gpus) if gpus > 0 => Ok(crate::dist::gpu_of_local_rank(local_rank, gpus)),
        _ => Err(DeviceError::NoGpu("the driver counts none".into())),
    }
}

/// Without CUDA every GPU is refused when opened; GPU 0 names it.
#[cfg(not(feature = "cuda"))]
fn gpu_of_this_rank() -> Result<usize, DeviceError> {
    Ok(0)
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<Device, DeviceError> {
    let failed = |what| {
        move |source| DeviceError::Cuda {
            what,
            ordinal,
            source,
        }
    };
    let device = Device::new_cuda(ordinal).map_err(failed("opening"))?;
    if let Device::Cuda(gpu) = &device {
        crate::alloc::keep_freed_gpu_memory(gpu).map_err(failed("configuring"))?;
    }
    Ok(device)
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_ordinal: usize) -> Result<Device, DeviceError> {
    Err(DeviceError::NoCuda)
}

/// Gives candle's own elementwise thread pool one thread unless the user
/// set `CANDLE_NUM_THREADS`. That pool spin-waits at a barrier after every
/// op; on a shared machine a descheduled worker stalls each op, and on the
/// 2-core development VM one thread made the FNO-1D training step 1.3x to
/// 2.6x faster (docs/history/cpu.md, "candle's elementwise pool at one thread"). The heavy
/// kernels run on rayon and are not affected. The `fno` binary calls it first in `main`, and the Python
/// package when it is imported: before candle reads the variable.
pub fn candle_pool_default() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}
