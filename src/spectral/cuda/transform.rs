//! Device transforms built from cuFFT plans and our kernels: rows of real
//! FFTs keeping a band of weighted bins, the matching real inverse, complex
//! FFTs along one axis with truncation or zero padding, and the whole-grid
//! analysis and synthesis of the spectral convolution, the device twins of
//! [`crate::spectral::kernels`]' `rfft_rows`, `c2r_rows`, `axis_fft` and
//! `GridTransform`.
//!
//! All buffers hold interleaved complex values as `2 x count` reals.

use candle_core::CudaDevice;
use cudarc::cufft::FftDirection;
use cudarc::driver::{CudaSlice, CudaView, PushKernelArg};

use super::direct;
use super::plan::{run, FftReal};
use crate::cuda::{config, u32_of, upload_index, upload_real, CudaError, Kernel, Module};
use crate::spectral::dft_plan::DirectPlan;
use crate::spectral::modes::{hermitian_coefficient, ModeSet};
use crate::spectral::{cuda_transforms, CudaTransforms};

/// `Y[r, k] = w_k sum_t x[r, t] e^{-2πikt/n}` for `k < weights.len()` (at
/// most `n/2 + 1`), rows of `x` being `n` contiguous reals.
pub(crate) fn rfft_rows<T: FftReal>(
    dev: &CudaDevice,
    x: &CudaView<'_, T>,
    rows: usize,
    n: usize,
    weights: &[f64],
) -> candle_core::Result<CudaSlice<T>> {
    let keep = weights.len();
    let half = n / 2 + 1;
    if rows == 0 || keep == 0 || n == 0 {
        return dev.alloc_zeros::<T>(2 * rows * keep);
    }
    if keep > half {
        return Err(CudaError::TooManyBins {
            op: "rfft",
            keep,
            n,
        }
        .into());
    }
    // SAFETY: cuFFT writes every bin of every row before anything reads it.
    let mut full = unsafe { dev.alloc::<T::Complex>(rows * half)? };
    run(dev, T::R2C, n, rows, |p| T::r2c(p, x, &mut full))?;
    let w = upload_real::<T>(dev, weights)?;
    // SAFETY: the kernel writes all `rows * keep` complex outputs.
    let mut out = unsafe { dev.alloc::<T>(2 * rows * keep)? };
    let kernel = Kernel::new::<T>(dev, Module::Spectral, "rows_take")?;
    let (rows64, half32, keep32) = (rows as u64, u32_of("bins", half)?, u32_of("modes", keep)?);
    let mut args = kernel.args();
    args.arg(&full)
        .arg(&w)
        .arg(&mut out)
        .arg(&rows64)
        .arg(&half32)
        .arg(&keep32);
    // SAFETY: the arguments match the kernel's signature in spectral.cu and
    // every index it forms stays inside the buffers sized above.
    unsafe { args.launch(config(rows64 * u64::from(keep32))) }.map_err(|e| kernel.error(e))?;
    Ok(out)
}

/// `x[r, t] = Re(sum_k w_k Y[r, k] e^{2πikt/n})` for `k < weights.len()` (at
/// most `n/2 + 1`); the imaginary parts of the zero and Nyquist bins are
/// ignored, as on the CPU.
pub(crate) fn c2r_rows<T: FftReal>(
    dev: &CudaDevice,
    spec: &CudaView<'_, T>,
    rows: usize,
    n: usize,
    weights: &[f64],
) -> candle_core::Result<CudaSlice<T>> {
    let keep = weights.len();
    let half = n / 2 + 1;
    if rows == 0 || keep == 0 || n == 0 {
        return dev.alloc_zeros::<T>(rows * n);
    }
    if keep > half {
        return Err(CudaError::TooManyBins {
            op: "irfft",
            keep,
            n,
        }
        .into());
    }
    // cuFFT's real inverse counts bin k (0 < k < n/2) twice, once for its
    // conjugate partner, so the Hermitian coefficient comes out of the weight.
    let scaled: Vec<f64> = weights
        .iter()
        .enumerate()
        .map(|(k, &w)| w / hermitian_coefficient(k, n))
        .collect();
    let w = upload_real::<T>(dev, &scaled)?;
    // SAFETY: the kernel writes every bin of every row.
    let mut full = unsafe { dev.alloc::<T::Complex>(rows * half)? };
    let kernel = Kernel::new::<T>(dev, Module::Spectral, "rows_pad")?;
    let (rows64, half32, keep32, n32) = (
        rows as u64,
        u32_of("bins", half)?,
        u32_of("modes", keep)?,
        u32_of("length", n)?,
    );
    let mut args = kernel.args();
    args.arg(spec)
        .arg(&w)
        .arg(&mut full)
        .arg(&rows64)
        .arg(&half32)
        .arg(&keep32)
        .arg(&n32);
    // SAFETY: as in `rfft_rows`.
    unsafe { args.launch(config(rows64 * u64::from(half32))) }.map_err(|e| kernel.error(e))?;
    // SAFETY: cuFFT writes every output point.
    let mut out = unsafe { dev.alloc::<T>(rows * n)? };
    run(dev, T::C2R, n, rows, |p| T::c2r(p, &mut full, &mut out))?;
    Ok(out)
}

/// One axis of a complex array `[outer, n_src, inner]` through a length-`n`
/// FFT: source index `j` sits at FFT bin `b` where `src_of_bin[b] == Some(j)`
/// (zero elsewhere), and output index `j` reads bin `bin_of_dst[j]`, times
/// `scale`. Returns `[outer, bin_of_dst.len(), inner]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn axis_fft<T: FftReal>(
    dev: &CudaDevice,
    src: &CudaView<'_, T>,
    (outer, n_src, inner): (usize, usize, usize),
    src_of_bin: &[Option<usize>],
    bin_of_dst: &[usize],
    scale: f64,
    direction: FftDirection,
) -> candle_core::Result<CudaSlice<T>> {
    let n = src_of_bin.len();
    let n_dst = bin_of_dst.len();
    if outer == 0 || inner == 0 || n_dst == 0 || n == 0 {
        return dev.alloc_zeros::<T>(2 * outer * n_dst * inner);
    }
    let rows = outer * inner;
    let (outer64, inner64, n32, n_src32, n_dst32) = (
        outer as u64,
        inner as u64,
        u32_of("length", n)?,
        u32_of("length", n_src)?,
        u32_of("length", n_dst)?,
    );
    let sob = upload_index(dev, src_of_bin)?;
    let bod: Vec<Option<usize>> = bin_of_dst.iter().copied().map(Some).collect();
    let bod = upload_index(dev, &bod)?;

    // SAFETY: the gather kernel writes every bin of every row.
    let mut rows_in = unsafe { dev.alloc::<T::Complex>(rows * n)? };
    let gather = Kernel::new::<T>(dev, Module::Spectral, "axis_gather")?;
    let mut args = gather.args();
    args.arg(src)
        .arg(&sob)
        .arg(&mut rows_in)
        .arg(&outer64)
        .arg(&n_src32)
        .arg(&inner64)
        .arg(&n32);
    // SAFETY: as in `rfft_rows`; `src_of_bin` holds indices below `n_src`.
    unsafe { args.launch(config(rows as u64 * u64::from(n32))) }.map_err(|e| gather.error(e))?;

    // SAFETY: cuFFT writes every bin of every row.
    let mut rows_out = unsafe { dev.alloc::<T::Complex>(rows * n)? };
    run(dev, T::C2C, n, rows, |p| {
        T::c2c(p, &mut rows_in, &mut rows_out, direction)
    })?;

    // SAFETY: the scatter kernel writes every output element.
    let mut out = unsafe { dev.alloc::<T>(2 * outer * n_dst * inner)? };
    let scatter = Kernel::new::<T>(dev, Module::Spectral, "axis_scatter")?;
    let scale = T::from_f64(scale);
    let mut args = scatter.args();
    args.arg(&rows_out)
        .arg(&bod)
        .arg(&scale)
        .arg(&mut out)
        .arg(&outer64)
        .arg(&n_dst32)
        .arg(&inner64)
        .arg(&n32);
    // SAFETY: as in `rfft_rows`; `bin_of_dst` holds bins below `n`.
    unsafe { args.launch(config(outer64 * u64::from(n_dst32) * inner64)) }
        .map_err(|e| scatter.error(e))?;
    Ok(out)
}

/// The whole-grid transform between real fields on one grid and their kept
/// modes, as [`crate::spectral::kernels::GridTransform`] does on the CPU,
/// for a batch of fields at once: through cuFFT, or as direct pruned DFTs
/// when [`cuda_transforms`] says so.
pub(crate) struct GridPlan {
    /// The grid, its kept modes and the last axis's weights.
    plan: DirectPlan,
    /// Whether to run `plan`'s direct steps instead of cuFFT.
    direct: bool,
}

impl GridPlan {
    /// A transform on `grid` for the kept modes of `modes`; `last_weights[k]`
    /// multiplies last-axis mode `k` (after the forward transform, before
    /// the inverse one).
    pub(crate) fn new(grid: &[usize], modes: &ModeSet, last_weights: Vec<f64>) -> Self {
        Self {
            plan: DirectPlan::new(grid, modes, last_weights),
            direct: cuda_transforms() == CudaTransforms::Direct,
        }
    }

    /// Forward transform of `fields` real fields (`[fields, grid..]`) into
    /// their kept modes, `[fields, kept..]` complex.
    pub(crate) fn analysis<T: FftReal>(
        &self,
        dev: &CudaDevice,
        x: &CudaView<'_, T>,
        fields: usize,
    ) -> candle_core::Result<CudaSlice<T>> {
        if self.direct {
            return direct::run(dev, x, &self.plan.analysis(fields));
        }
        let p = &self.plan;
        let d = p.grid.len();
        let rows = fields * p.grid[..d - 1].iter().product::<usize>();
        let mut cur = rfft_rows(dev, x, rows, p.grid[d - 1], &p.last_weights)?;
        // From the second-to-last axis down: the array is [fields,
        // grid[..=ax], kept[ax+1..]] and shrinks at every step.
        for ax in (0..d - 1).rev() {
            let n = p.grid[ax];
            let outer = fields * p.grid[..ax].iter().product::<usize>();
            let inner: usize = p.kept[ax + 1..].iter().product();
            let identity: Vec<Option<usize>> = (0..n).map(Some).collect();
            let next = axis_fft(
                dev,
                &cur.slice(..),
                (outer, n, inner),
                &identity,
                &p.bins[ax],
                1.0,
                FftDirection::Forward,
            )?;
            cur = next;
        }
        Ok(cur)
    }

    /// Inverse transform of kept modes (`[fields, kept..]` complex) onto the
    /// grid, `[fields, grid..]` real.
    pub(crate) fn synthesis<T: FftReal>(
        &self,
        dev: &CudaDevice,
        spec: &CudaView<'_, T>,
        fields: usize,
    ) -> candle_core::Result<CudaSlice<T>> {
        if self.direct {
            return direct::run(dev, spec, &self.plan.synthesis(fields));
        }
        let p = &self.plan;
        let d = p.grid.len();
        let mut cur: Option<CudaSlice<T>> = None;
        // From the first axis on: the array is [fields, grid[..ax],
        // kept[ax..]] and grows at every step, so the cheap axes come first.
        for ax in 0..d - 1 {
            let n = p.grid[ax];
            let outer = fields * p.grid[..ax].iter().product::<usize>();
            let inner: usize = p.kept[ax + 1..].iter().product();
            let mut src_of_bin = vec![None; n];
            for (j, &b) in p.bins[ax].iter().enumerate() {
                src_of_bin[b] = Some(j);
            }
            let identity: Vec<usize> = (0..n).collect();
            let src = cur.as_ref().map_or_else(|| spec.slice(..), |c| c.slice(..));
            let next = axis_fft(
                dev,
                &src,
                (outer, p.kept[ax], inner),
                &src_of_bin,
                &identity,
                1.0,
                FftDirection::Inverse,
            )?;
            cur = Some(next);
        }
        let rows = fields * p.grid[..d - 1].iter().product::<usize>();
        let src = cur.as_ref().map_or_else(|| spec.slice(..), |c| c.slice(..));
        c2r_rows(dev, &src, rows, p.grid[d - 1], &p.last_weights)
    }
}
