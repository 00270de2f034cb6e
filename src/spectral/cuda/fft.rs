//! The `cuda_fwd` bodies of the FFT ops of [`crate::spectral::fft`]: the
//! device transforms of [`super::transform`] on candle's CUDA storages.

use candle_core::backend::BackendStorage;
use candle_core::{CudaStorage, Layout};
use cudarc::cufft::FftDirection;
use cudarc::driver::CudaSlice;

use super::plan::FftReal;
use super::transform::{axis_fft, c2r_rows, rfft_rows};
use crate::cuda::{by_dtype, view};

fn real_forward_t<T: FftReal>(
    op: &'static str,
    s: &CudaStorage,
    l: &Layout,
    n: usize,
    weights: &[f64],
) -> candle_core::Result<CudaSlice<T>> {
    let x = view::<T>(op, s, l)?;
    rfft_rows(s.device(), &x, l.shape().elem_count() / n, n, weights)
}

fn real_inverse_t<T: FftReal>(
    op: &'static str,
    s: &CudaStorage,
    l: &Layout,
    (rows, n): (usize, usize),
    weights: &[f64],
) -> candle_core::Result<CudaSlice<T>> {
    let y = view::<T>(op, s, l)?;
    c2r_rows(s.device(), &y, rows, n, weights)
}

/// Real FFT along the last axis (`n` points), keeping `weights.len()` bins,
/// bin `k` times `weights[k]`; the caller has checked the shape.
pub(crate) fn real_forward(
    op: &'static str,
    s: &CudaStorage,
    l: &Layout,
    n: usize,
    weights: &[f64],
) -> candle_core::Result<CudaStorage> {
    by_dtype(
        op,
        s,
        || real_forward_t::<f32>(op, s, l, n, weights),
        || real_forward_t::<f64>(op, s, l, n, weights),
    )
}

/// `Re(sum_k w_k Y_k e^{2πikt/n})` along the second-to-last axis of a
/// complex `[rows.., weights.len(), 2]` tensor onto `n` points; the caller
/// has checked the shape.
pub(crate) fn real_inverse(
    op: &'static str,
    s: &CudaStorage,
    l: &Layout,
    (rows, n): (usize, usize),
    weights: &[f64],
) -> candle_core::Result<CudaStorage> {
    by_dtype(
        op,
        s,
        || real_inverse_t::<f32>(op, s, l, (rows, n), weights),
        || real_inverse_t::<f64>(op, s, l, (rows, n), weights),
    )
}

fn complex_axis_t<T: FftReal>(
    op: &'static str,
    s: &CudaStorage,
    l: &Layout,
    axis: usize,
    scale: f64,
    direction: FftDirection,
) -> candle_core::Result<CudaSlice<T>> {
    let dims = l.dims();
    let n = dims[axis];
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..dims.len() - 1].iter().product();
    let identity: Vec<usize> = (0..n).collect();
    let src_of_bin: Vec<Option<usize>> = identity.iter().copied().map(Some).collect();
    let x = view::<T>(op, s, l)?;
    axis_fft(
        s.device(),
        &x,
        (outer, n, inner),
        &src_of_bin,
        &identity,
        scale,
        direction,
    )
}

/// `scale * sum_t x_t e^{∓2πikt/n}` along `axis` (not the trailing pair
/// axis) of a complex tensor; the caller has checked the shape.
pub(crate) fn complex_axis(
    op: &'static str,
    s: &CudaStorage,
    l: &Layout,
    axis: usize,
    scale: f64,
    direction: FftDirection,
) -> candle_core::Result<CudaStorage> {
    by_dtype(
        op,
        s,
        || complex_axis_t::<f32>(op, s, l, axis, scale, direction),
        || complex_axis_t::<f64>(op, s, l, axis, scale, direction),
    )
}
