//! Floating-point types the FFT kernels accept and their FFT plan caches.
//!
//! Planning an FFT (choosing radices, building twiddles) costs far more than
//! running a short one, so each op fetches its plans once per call from a
//! process-wide cache. The cache is rustfft's [`FftPlanner`], which memoises
//! plans keyed by (length, direction); it sits behind a `Mutex` in a
//! `OnceLock`, one per float type. The cache never changes results: a plan for
//! a given length and direction computes the same transform whether it was
//! just built or reused.

use std::sync::{Arc, Mutex, OnceLock};

use rustfft::num_complex::Complex;
use rustfft::num_traits::{Float, NumAssign};
use rustfft::{Fft, FftDirection, FftNum, FftPlanner};

#[cfg(target_arch = "x86_64")]
use super::pruned::PrunedRows;
use super::pruned::RowTransform;

/// A real scalar the spectral kernels run on: f32 (training) or f64
/// (gradient checks).
pub(crate) trait Real:
    FftNum + Float + NumAssign + candle_core::WithDType + Default + Send + Sync
{
    /// The plan cache for this type.
    fn planner() -> &'static Mutex<FftPlanner<Self>>;

    /// Converts an f64 constant (a scale, a cosine) to this type.
    fn of(v: f64) -> Self {
        <Self as candle_core::WithDType>::from_f64(v)
    }

    /// The pruned last-axis transform for rows of `points` keeping `kept`
    /// bins, where this type, CPU and shape have one.
    fn pruned_rows(points: usize, kept: usize) -> Option<Arc<dyn RowTransform<Self>>> {
        let _ = (points, kept);
        None
    }
}

impl Real for f32 {
    fn planner() -> &'static Mutex<FftPlanner<f32>> {
        static PLANNER: OnceLock<Mutex<FftPlanner<f32>>> = OnceLock::new();
        PLANNER.get_or_init(|| Mutex::new(FftPlanner::new()))
    }

    #[cfg(target_arch = "x86_64")]
    fn pruned_rows(points: usize, kept: usize) -> Option<Arc<dyn RowTransform<f32>>> {
        PrunedRows::shared(points, kept).map(|p| p as Arc<dyn RowTransform<f32>>)
    }
}

impl Real for f64 {
    fn planner() -> &'static Mutex<FftPlanner<f64>> {
        static PLANNER: OnceLock<Mutex<FftPlanner<f64>>> = OnceLock::new();
        PLANNER.get_or_init(|| Mutex::new(FftPlanner::new()))
    }
}

/// A planned transform of one length and direction.
#[derive(Clone)]
pub(crate) struct Plan<T: Real> {
    fft: Arc<dyn Fft<T>>,
}

impl<T: Real> Plan<T> {
    /// Fetches (or builds and caches) the plan for `len` and `direction`.
    pub(crate) fn new(len: usize, direction: FftDirection) -> Self {
        // A poisoned lock only means another thread panicked while planning;
        // the planner's cache is still a valid map, so keep using it.
        let mut planner = T::planner()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Self {
            fft: planner.plan_fft(len, direction),
        }
    }

    /// The transform length.
    pub(crate) fn len(&self) -> usize {
        self.fft.len()
    }

    /// Scratch length for [`Plan::run`].
    pub(crate) fn scratch_len(&self) -> usize {
        self.fft.get_inplace_scratch_len()
    }

    /// Transforms every consecutive chunk of `len()` values in `buf` in place
    /// (unnormalised). `buf.len()` must be a multiple of `len()`; `scratch`
    /// is grown to the needed length if it is shorter.
    pub(crate) fn run(&self, buf: &mut [Complex<T>], scratch: &mut Vec<Complex<T>>) {
        if buf.is_empty() {
            return;
        }
        let need = self.scratch_len();
        if scratch.len() < need {
            scratch.resize(need, Complex::default());
        }
        self.fft.process_with_scratch(buf, &mut scratch[..need]);
    }
}
