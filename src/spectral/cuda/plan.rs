//! cuFFT plans, cached per (device, stream, transform type, length, batch),
//! and what cuFFT needs to know about the float types the CUDA ops run on.
//!
//! Creating a cuFFT plan allocates a work area and picks kernels, which
//! costs far more than running a small transform, so each plan is built
//! once and reused for every call with the same key. A plan is bound to the
//! stream it was made on, hence the stream in the key. cuFFT plans are not
//! safe to execute from two threads at once, so each sits behind its own
//! mutex, held only while the (asynchronous) execution is enqueued.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::CudaDevice;
use cudarc::cufft::result::CufftError;
use cudarc::cufft::sys::{cufftType, double2, float2};
use cudarc::cufft::{CudaFft, FftDirection};
use cudarc::driver::{CudaSlice, CudaView, DeviceRepr, ValidAsZeroBits};

use crate::cuda::{CudaError, GpuReal};

/// A [`GpuReal`] the CUDA spectral ops transform (f32, f64), with its
/// cuFFT complex type and transforms.
pub(crate) trait FftReal: GpuReal {
    /// cuFFT's complex type of this precision (`float2`, `double2`).
    type Complex: DeviceRepr + ValidAsZeroBits;
    /// The real-to-complex transform type.
    const R2C: cufftType;
    /// The complex-to-real transform type.
    const C2R: cufftType;
    /// The complex-to-complex transform type.
    const C2C: cufftType;

    /// Runs a real-to-complex plan.
    fn r2c(
        plan: &CudaFft,
        x: &CudaView<'_, Self>,
        out: &mut CudaSlice<Self::Complex>,
    ) -> Result<(), CufftError>;

    /// Runs a complex-to-real plan (cuFFT may overwrite `x`).
    fn c2r(
        plan: &CudaFft,
        x: &mut CudaSlice<Self::Complex>,
        out: &mut CudaSlice<Self>,
    ) -> Result<(), CufftError>;

    /// Runs a complex-to-complex plan in `direction`.
    fn c2c(
        plan: &CudaFft,
        x: &mut CudaSlice<Self::Complex>,
        out: &mut CudaSlice<Self::Complex>,
        direction: FftDirection,
    ) -> Result<(), CufftError>;
}

impl FftReal for f32 {
    type Complex = float2;
    const R2C: cufftType = cufftType::CUFFT_R2C;
    const C2R: cufftType = cufftType::CUFFT_C2R;
    const C2C: cufftType = cufftType::CUFFT_C2C;

    fn r2c(
        plan: &CudaFft,
        x: &CudaView<'_, f32>,
        out: &mut CudaSlice<float2>,
    ) -> Result<(), CufftError> {
        plan.exec_r2c(x, out)
    }

    fn c2r(
        plan: &CudaFft,
        x: &mut CudaSlice<float2>,
        out: &mut CudaSlice<f32>,
    ) -> Result<(), CufftError> {
        plan.exec_c2r(x, out)
    }

    fn c2c(
        plan: &CudaFft,
        x: &mut CudaSlice<float2>,
        out: &mut CudaSlice<float2>,
        direction: FftDirection,
    ) -> Result<(), CufftError> {
        plan.exec_c2c(x, out, direction)
    }
}

impl FftReal for f64 {
    type Complex = double2;
    const R2C: cufftType = cufftType::CUFFT_D2Z;
    const C2R: cufftType = cufftType::CUFFT_Z2D;
    const C2C: cufftType = cufftType::CUFFT_Z2Z;

    fn r2c(
        plan: &CudaFft,
        x: &CudaView<'_, f64>,
        out: &mut CudaSlice<double2>,
    ) -> Result<(), CufftError> {
        plan.exec_d2z(x, out)
    }

    fn c2r(
        plan: &CudaFft,
        x: &mut CudaSlice<double2>,
        out: &mut CudaSlice<f64>,
    ) -> Result<(), CufftError> {
        plan.exec_z2d(x, out)
    }

    fn c2c(
        plan: &CudaFft,
        x: &mut CudaSlice<double2>,
        out: &mut CudaSlice<double2>,
        direction: FftDirection,
    ) -> Result<(), CufftError> {
        plan.exec_z2z(x, out, direction)
    }
}

/// What a cached plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    ordinal: usize,
    stream: usize,
    kind: cufftType,
    n: usize,
    batch: usize,
}

type Cache = Mutex<HashMap<Key, Arc<Mutex<CudaFft>>>>;

fn cache() -> &'static Cache {
    static PLANS: OnceLock<Cache> = OnceLock::new();
    PLANS.get_or_init(Cache::default)
}

/// Runs `exec` with the plan of [`plan`] for (`kind`, `n`, `batch`) on
/// `dev`'s stream, holding the plan's lock while the transform is enqueued.
pub(crate) fn run(
    dev: &CudaDevice,
    kind: cufftType,
    n: usize,
    batch: usize,
    exec: impl FnOnce(&CudaFft) -> Result<(), CufftError>,
) -> candle_core::Result<()> {
    let plan = plan(dev, kind, n, batch)?;
    let fft = plan.lock().unwrap_or_else(|p| p.into_inner());
    // cuFFT runs in whatever context is current on this thread.
    dev.cuda_stream()
        .context()
        .bind_to_thread()
        .map_err(|e| CudaError::Cufft {
            what: format!("{kind:?}"),
            message: e.to_string(),
        })?;
    exec(&fft).map_err(|e| {
        CudaError::Cufft {
            what: format!("{kind:?} n={n} batch={batch}"),
            message: e.to_string(),
        }
        .into()
    })
}

/// The batched 1D plan of `kind` for `batch` contiguous transforms of
/// length `n` on `dev`'s stream (cuFFT's default layout: rows of `n` reals
/// or complexes, `n/2 + 1` complexes on the half-spectrum side).
fn plan(
    dev: &CudaDevice,
    kind: cufftType,
    n: usize,
    batch: usize,
) -> candle_core::Result<Arc<Mutex<CudaFft>>> {
    let stream = dev.cuda_stream();
    let key = Key {
        ordinal: stream.context().ordinal(),
        stream: stream.cu_stream() as usize,
        kind,
        n,
        batch,
    };
    // A poisoned lock only means a panic elsewhere mid-insert; the map is
    // still a valid cache.
    let mut plans = cache().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = plans.get(&key) {
        return Ok(Arc::clone(p));
    }
    let too_big = |what: &str, value: usize| CudaError::TooLarge {
        what: format!("cuFFT: {what}"),
        value,
        limit: "i32",
    };
    let n32 = i32::try_from(n).map_err(|_| too_big("length", n))?;
    let batch32 = i32::try_from(batch).map_err(|_| too_big("batch", batch))?;
    let fft = CudaFft::plan_1d(n32, kind, batch32, stream).map_err(|e| CudaError::Cufft {
        what: format!("plan {kind:?} n={n} batch={batch}"),
        message: e.to_string(),
    })?;
    let fft = Arc::new(Mutex::new(fft));
    plans.insert(key, Arc::clone(&fft));
    Ok(fft)
}
