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
    /// The CUDA GPU with this ordinal (`cuda` alone is GPU 0).
    Cuda(usize),
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
            "cuda" => Ok(Self::Cuda(0)),
            _ => {
                let n = s.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse().map(Self::Cuda).map_err(|_| bad())
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
            Self::Cuda(ordinal) => open_cuda(ordinal),
        }
    }
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
