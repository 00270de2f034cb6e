//! Loading and launching the kernels of `kernels/` (`spectral.cu` for the
//! spectral ops, `dft.cu` for their direct transforms, `pointwise.cu` for the pointwise layers, `optim.cu` for
//! AdamW), and moving the small host tables they read (bin maps, weights)
//! to the device.

use std::sync::Arc;

use candle_core::CudaDevice;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchArgs, LaunchConfig};

use super::error::CudaError;
use super::real::GpuReal;

/// The PTX `build.rs` compiled from `kernels/`.
mod ptx {
    include!(concat!(env!("OUT_DIR"), "/ptx.rs"));
}

/// The PTX modules of `kernels/`, each cached by candle per device under
/// its own name.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Module {
    /// `kernels/spectral.cu`.
    Spectral,
    /// `kernels/dft.cu`.
    Dft,
    /// `kernels/pointwise.cu`.
    Pointwise,
    /// `kernels/optim.cu`.
    Optim,
}

impl Module {
    fn name_and_ptx(self) -> (&'static str, &'static str) {
        match self {
            Self::Spectral => ("fno-spectral", ptx::SPECTRAL),
            Self::Dft => ("fno-dft", ptx::DFT),
            Self::Pointwise => ("fno-pointwise", ptx::POINTWISE),
            Self::Optim => ("fno-optim", ptx::OPTIM),
        }
    }
}

/// Threads per block: every kernel is a grid-stride loop with no shared
/// memory, so any size works; 256 keeps several blocks per SM resident.
const THREADS: u32 = 256;

/// Blocks beyond this many add nothing (the grid-stride loop covers the
/// rest) and stay far below the grid-size limit.
const MAX_BLOCKS: u64 = 1 << 16;

/// One of our kernels, ready to launch on a device's stream.
pub(crate) struct Kernel {
    name: &'static str,
    func: CudaFunction,
    stream: Arc<CudaStream>,
}

impl Kernel {
    /// The kernel `fno_<name>_<f32|f64>` of `module` on `dev` (candle loads
    /// the module on first use and caches it per device).
    pub(crate) fn new<T: GpuReal>(
        dev: &CudaDevice,
        module: Module,
        name: &'static str,
    ) -> candle_core::Result<Self> {
        let (module_name, ptx) = module.name_and_ptx();
        let func = dev
            .get_or_load_custom_func(&format!("fno_{name}_{}", T::SUFFIX), module_name, ptx)?
            .into_cuda_function();
        Ok(Self {
            name,
            func,
            stream: dev.cuda_stream(),
        })
    }

    /// A fresh argument list for one launch on the device's stream.
    pub(crate) fn args(&self) -> LaunchArgs<'_> {
        self.stream.launch_builder(&self.func)
    }

    /// Wraps a driver error from a launch of this kernel.
    pub(crate) fn error(&self, e: impl std::fmt::Display) -> candle_core::Error {
        CudaError::Launch {
            kernel: self.name,
            message: e.to_string(),
        }
        .into()
    }
}

/// A launch covering `total` output elements (at least one block, so a
/// launch is always valid; the kernels check their bounds).
pub(crate) fn config(total: u64) -> LaunchConfig {
    let blocks = total.div_ceil(u64::from(THREADS)).clamp(1, MAX_BLOCKS);
    LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Copies a host table to the device.
fn upload<V: DeviceRepr + 'static>(
    dev: &CudaDevice,
    values: &[V],
) -> candle_core::Result<CudaSlice<V>> {
    dev.clone_htod(values)
}

/// Uploads `values` converted to `T`.
pub(crate) fn upload_real<T: GpuReal>(
    dev: &CudaDevice,
    values: &[f64],
) -> candle_core::Result<CudaSlice<T>> {
    let v: Vec<T> = values.iter().map(|&x| T::from_f64(x)).collect();
    upload(dev, &v)
}

/// Uploads indices as the kernels' `int32_t`, with `-1` for `None`.
pub(crate) fn upload_index(
    dev: &CudaDevice,
    values: &[Option<usize>],
) -> candle_core::Result<CudaSlice<i32>> {
    let v = values
        .iter()
        .map(|v| match v {
            None => Ok(-1),
            Some(i) => i32::try_from(*i).map_err(|_| CudaError::TooLarge {
                what: "index".to_string(),
                value: *i,
                limit: "the kernels' i32",
            }),
        })
        .collect::<Result<Vec<i32>, CudaError>>()?;
    upload(dev, &v)
}

/// Checks that a size fits the kernels' `uint32_t` parameters.
pub(crate) fn u32_of(what: &str, v: usize) -> candle_core::Result<u32> {
    u32::try_from(v).map_err(|_| {
        CudaError::TooLarge {
            what: what.to_string(),
            value: v,
            limit: "u32",
        }
        .into()
    })
}
