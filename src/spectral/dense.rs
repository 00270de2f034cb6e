//! The spectral convolution as a dense truncated DFT, built only from
//! candle's native ops (matmuls against precomputed cosine/sine bases).
//!
//! It computes the same real-linear map as the fused FFT op (see
//! [`super::fused`] for the formulas): on each axis the kept modes are
//! obtained by multiplying with a `[N, K]` basis `e^{-2πi f_j n/N}` (the
//! `1/|N|` normalisation is folded into the last axis' basis), the modes are
//! mixed with batched complex matmuls, and the output grid is reached with
//! `[K, M]` bases `e^{+2πi f_j t/M}` (times the Hermitian coefficients `c_k`
//! on the last axis). candle's autograd differentiates it, so it serves as
//! the test oracle for the fused op, and as the backend on devices the fused
//! op does not support. Its cost grows like `N K` per axis instead of
//! `N log N`, which is why the FFT is preferred on the CPU.
//!
//! # Shapes
//!
//! Same as the fused op: `x` `[batch, C_in, N..]`, weights `[C_in, C_out,
//! 2m.., m_d]`, output `[batch, C_out, M..]`.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, DeviceLocation, Tensor};

use super::geometry::Geometry;
use super::modes::{hermitian_coefficient, ModeSet};

/// Bases of one (input grid, output grid, dtype, device) combination.
#[derive(Debug)]
struct Bases {
    /// Per non-last axis: analysis `[N, K]` and synthesis `[K, M]`, re and im.
    axes: Vec<[Tensor; 4]>,
    /// Last axis: analysis `[N, K]` (scaled by `1/|N|`), re and im.
    last_fwd: [Tensor; 2],
    /// Last axis: synthesis `[K, M]` with `c_k`, so `y = Yr A + Yi B`.
    last_inv: [Tensor; 2],
    /// Flat weight index of each kept mode, `[K]` u32.
    weight_index: Tensor,
}

type Key = (Vec<usize>, Vec<usize>, DType, DeviceLocation);

/// Per-layer cache of DFT bases keyed by grids, dtype and device. Shared by
/// clones of the layer; it holds values derived from the key alone, so it
/// never changes results.
#[derive(Debug, Clone, Default)]
pub(crate) struct DenseCache {
    bases: Arc<Mutex<HashMap<Key, Arc<Bases>>>>,
}

/// `[rows, cols]` tensor of `f(r, c)` in `dtype` on `device`.
fn table(
    rows: usize,
    cols: usize,
    dtype: DType,
    device: &Device,
    f: impl Fn(usize, usize) -> f64,
) -> candle_core::Result<Tensor> {
    let data: Vec<f64> = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
    Tensor::from_vec(data, (rows, cols), device)?.to_dtype(dtype)
}

/// `2π (f n mod len) / len`, reduced first so large products keep precision.
fn angle(f: isize, n: usize, len: usize) -> f64 {
    let r = (f * n as isize).rem_euclid(len as isize);
    2.0 * PI * r as f64 / len as f64
}

impl Bases {
    fn new(geo: &Geometry, dtype: DType, device: &Device) -> candle_core::Result<Self> {
        let modes: &ModeSet = &geo.modes;
        let d = modes.rank();
        let mut axes = Vec::with_capacity(d - 1);
        for ax in 0..d - 1 {
            let f = &modes.freqs[ax];
            let (n, m, k) = (geo.in_grid[ax], geo.out_grid[ax], f.len());
            axes.push([
                table(n, k, dtype, device, |t, j| angle(f[j], t, n).cos())?,
                table(n, k, dtype, device, |t, j| -angle(f[j], t, n).sin())?,
                table(k, m, dtype, device, |j, t| angle(f[j], t, m).cos())?,
                table(k, m, dtype, device, |j, t| angle(f[j], t, m).sin())?,
            ]);
        }
        let f = &modes.freqs[d - 1];
        let (n, m, k) = (geo.in_grid[d - 1], geo.out_grid[d - 1], f.len());
        let scale = 1.0 / geo.in_grid.iter().product::<usize>() as f64;
        let last_fwd = [
            table(n, k, dtype, device, |t, j| scale * angle(f[j], t, n).cos())?,
            table(n, k, dtype, device, |t, j| -scale * angle(f[j], t, n).sin())?,
        ];
        let c = |j: usize| hermitian_coefficient(j, m);
        let last_inv = [
            table(k, m, dtype, device, |j, t| c(j) * angle(f[j], t, m).cos())?,
            table(k, m, dtype, device, |j, t| -c(j) * angle(f[j], t, m).sin())?,
        ];
        let index: Vec<u32> = modes.weight_index().iter().map(|&i| i as u32).collect();
        let weight_index = Tensor::from_vec(index, modes.kept_total(), device)?;
        Ok(Self {
            axes,
            last_fwd,
            last_inv,
            weight_index,
        })
    }
}

impl DenseCache {
    fn get(
        &self,
        geo: &Geometry,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Arc<Bases>> {
        let key = (
            geo.in_grid.clone(),
            geo.out_grid.clone(),
            dtype,
            device.location(),
        );
        // A poisoned lock only means a panic elsewhere mid-insert; the map
        // itself is still consistent.
        let mut map = self.bases.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(&key) {
            return Ok(Arc::clone(b));
        }
        let b = Arc::new(Bases::new(geo, dtype, device)?);
        map.insert(key, Arc::clone(&b));
        Ok(b)
    }
}

/// Applies the complex matrix `(ar, ai)` (`[Q, P]`) along tensor dimension
/// `dim` of the complex field `(re, im)`: `out[.., p, ..] = sum_q in[.., q, ..] A[q, p]`.
fn along(
    re: &Tensor,
    im: &Tensor,
    dim: usize,
    ar: &Tensor,
    ai: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let last = re.rank() - 1;
    let r = re.transpose(dim, last)?.contiguous()?;
    let i = im.transpose(dim, last)?.contiguous()?;
    let out_re = (r.broadcast_matmul(ar)? - i.broadcast_matmul(ai)?)?;
    let out_im = (r.broadcast_matmul(ai)? + i.broadcast_matmul(ar)?)?;
    Ok((out_re.transpose(dim, last)?, out_im.transpose(dim, last)?))
}

/// The dense truncated-DFT spectral convolution (differentiable through
/// candle's autograd). `geo` must have been validated against the tensors.
pub(crate) fn spectral_conv_dense(
    cache: &DenseCache,
    geo: &Geometry,
    x: &Tensor,
    w_re: &Tensor,
    w_im: &Tensor,
) -> candle_core::Result<Tensor> {
    let (dtype, device) = (x.dtype(), x.device());
    let d = geo.modes.rank();
    let kept = geo.modes.kept();
    let k_total = geo.modes.kept_total();
    if k_total == 0 {
        let mut shape = vec![geo.batch, geo.c_out];
        shape.extend(&geo.out_grid);
        return Tensor::zeros(shape, dtype, device);
    }
    let bases = cache.get(geo, dtype, device)?;

    // Analysis: last axis (real input), then the others from the back.
    let x = x.contiguous()?;
    let mut re = x.broadcast_matmul(&bases.last_fwd[0])?;
    let mut im = x.broadcast_matmul(&bases.last_fwd[1])?;
    for ax in (0..d - 1).rev() {
        let [ar, ai, _, _] = &bases.axes[ax];
        (re, im) = along(&re, &im, 2 + ax, ar, ai)?;
    }

    // Mixing: [K, B, C_in] x [K, C_in, C_out] per mode.
    let (b, ci, co) = (geo.batch, geo.c_in, geo.c_out);
    let to_modes = |t: Tensor| -> candle_core::Result<Tensor> {
        t.reshape((b, ci, k_total))?
            .permute((2, 0, 1))?
            .contiguous()
    };
    let (xr, xi) = (to_modes(re)?, to_modes(im)?);
    let kept_weights = |w: &Tensor| -> candle_core::Result<Tensor> {
        w.flatten_from(2)?
            .index_select(&bases.weight_index, 2)?
            .permute((2, 0, 1))?
            .contiguous()
    };
    let (wr, wi) = (kept_weights(w_re)?, kept_weights(w_im)?);
    let yr = (xr.matmul(&wr)? - xi.matmul(&wi)?)?;
    let yi = (xr.matmul(&wi)? + xi.matmul(&wr)?)?;
    let mut spectral_shape = vec![b, co];
    spectral_shape.extend(&kept);
    let from_modes = |t: Tensor| -> candle_core::Result<Tensor> {
        t.permute((1, 2, 0))?.reshape(spectral_shape.as_slice())
    };
    let (mut re, mut im) = (from_modes(yr)?, from_modes(yi)?);

    // Synthesis: the complex axes first, the real last axis at the end.
    for ax in 0..d - 1 {
        let [_, _, sr, si] = &bases.axes[ax];
        (re, im) = along(&re, &im, 2 + ax, sr, si)?;
    }
    re.contiguous()?.broadcast_matmul(&bases.last_inv[0])?
        + im.contiguous()?.broadcast_matmul(&bases.last_inv[1])?
}
