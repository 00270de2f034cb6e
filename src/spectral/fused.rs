//! The fused spectral convolution: FFT, mode mixing and inverse FFT in one
//! candle custom op with a hand-written backward, on the CPU (this module)
//! and on CUDA ([`super::cuda::conv`], same formulas, cuFFT and our
//! kernels).
//!
//! For a real input `x[b, i, n]` on the grid `N = (N_1..N_d)`, kept modes `k`
//! and complex weights `W[i, o, k]`, the output on the grid `M` is
//!
//! ```text
//! X[b, i, k] = (1/|N|) sum_n x[b, i, n] e^{-2πi k.n/N}
//! Y[b, o, k] = sum_i X[b, i, k] W[i, o, k]
//! y[b, o, t] = Re( sum_k c_k Y[b, o, k] e^{+2πi k.t/M} )
//! ```
//!
//! with `c_k` the Hermitian coefficient of the last-axis index on `M` (1 for
//! the zero and Nyquist columns, 2 otherwise). This is a real-linear map in
//! `x` and in `W`; its adjoint, with `g = dL/dy`, is
//!
//! ```text
//! G[b, o, k]  = c_k sum_t g[b, o, t] e^{-2πi k.t/M}
//! dL/dX       = sum_o G conj(W)        dL/dW = sum_b G conj(X)
//! dL/dx[b,i,n] = (1/|N|) Re( sum_k dL/dX[b, i, k] e^{+2πi k.n/N} )
//! ```
//!
//! so the backward is the forward with the roles of the two grids and of
//! the two last-axis weightings (`1/|N|` and `c_k`) swapped.
//!
//! # Work plan
//!
//! Each rayon task transforms a run of (batch, channel) fields: real FFTs of
//! all last-axis rows (two rows per complex FFT, across fields in 1D), then
//! complex FFTs along the other axes only over the kept columns. The task
//! then writes its spectra mode-major, in separate real and imaginary
//! arrays, while they are still in cache, so mixing is one small complex
//! GEMM per mode (`[batch, C_in] x [C_in, C_out]`, parallel over modes)
//! whose inner loop runs over contiguous output channels. The inverse runs the zero-padded
//! complex FFTs first (on few columns) and the real inverse last.
//!
//! # Shapes
//!
//! `x`: `[batch, C_in, N_1..N_d]`; `w_re`, `w_im`: `[C_in, C_out, 2m_1, ..,
//! 2m_{d-1}, m_d]`; output `[batch, C_out, M_1..M_d]`.

use candle_core::backend::BackendStorage;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor};
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftDirection;

use super::error::SpectralError;
use super::host::{self, HostView};
use super::kernels::{GridTransform, Workspace};
use super::modes::{hermitian_coefficient, weight_spatial_shape, ModeSet};
use super::plan::Real;
use crate::disjoint::SharedMut;

const OP: &str = "spectral-conv-fft";

/// Validated sizes of one spectral convolution call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub in_grid: Vec<usize>,
    pub out_grid: Vec<usize>,
    pub modes: ModeSet,
}

impl Geometry {
    /// Checks the input and weight shapes against the requested modes and
    /// the output grid.
    pub(crate) fn new(
        op: &'static str,
        x: &[usize],
        w_re: &[usize],
        w_im: &[usize],
        requested: &[usize],
        out_grid: &[usize],
    ) -> Result<Self, SpectralError> {
        let d = requested.len();
        if !(1..=3).contains(&d) {
            return Err(SpectralError::UnsupportedDims {
                op,
                dims: d,
                supported: "1, 2 or 3 spatial dimensions",
            });
        }
        if requested.contains(&0) {
            return Err(SpectralError::InvalidConfig {
                field: "modes",
                reason: format!("every entry must be positive, got {requested:?}"),
            });
        }
        if x.len() != d + 2 {
            return Err(SpectralError::ShapeMismatch {
                op,
                expected: format!("[batch, channels] + {d} spatial axes"),
                got: x.to_vec(),
            });
        }
        let in_grid = x[2..].to_vec();
        for grid in [&in_grid[..], out_grid] {
            if grid.len() != d || grid.contains(&0) {
                return Err(SpectralError::InvalidGrid {
                    op,
                    grid: grid.to_vec(),
                    reason: "needs one positive size per spatial axis",
                });
            }
        }
        let c_in = x[1];
        let c_out = w_re.get(1).copied().unwrap_or(0);
        let mut expected = vec![c_in, c_out];
        expected.extend(weight_spatial_shape(requested));
        for w in [w_re, w_im] {
            if w != expected.as_slice() {
                return Err(SpectralError::ShapeMismatch {
                    op,
                    expected: format!("weights {expected:?}"),
                    got: w.to_vec(),
                });
            }
        }
        Ok(Self {
            batch: x[0],
            c_in,
            c_out,
            modes: ModeSet::new(requested, &in_grid, out_grid),
            in_grid,
            out_grid: out_grid.to_vec(),
        })
    }

    /// True when the map is zero: no kept modes, or an empty batch or
    /// channel axis (nothing to transform or mix).
    pub(crate) fn is_trivial(&self) -> bool {
        self.modes.kept_total() == 0 || self.batch == 0 || self.c_in == 0 || self.c_out == 0
    }

    /// `[batch, C_in, in_grid..]`.
    pub(crate) fn in_shape(&self) -> Vec<usize> {
        [&[self.batch, self.c_in][..], &self.in_grid].concat()
    }

    fn out_shape(&self) -> Vec<usize> {
        let mut s = vec![self.batch, self.c_out];
        s.extend(&self.out_grid);
        s
    }

    /// Last-axis weights of the normalised forward transform on `N`.
    pub(crate) fn inv_points<T: Real>(&self) -> Vec<T> {
        let points: usize = self.in_grid.iter().product();
        vec![T::of(1.0 / points as f64); self.modes.kept().last().copied().unwrap_or(0)]
    }

    /// Hermitian coefficients of the last-axis modes on the output grid.
    pub(crate) fn hermitian<T: Real>(&self) -> Vec<T> {
        let m = self.out_grid.last().copied().unwrap_or(0);
        let keep = self.modes.kept().last().copied().unwrap_or(0);
        (0..keep)
            .map(|k| T::of(hermitian_coefficient(k, m)))
            .collect()
    }
}

/// Mode-major planar spectra: `re[k][row][ch]`, `im` alike.
pub(crate) struct Planar<T> {
    re: Vec<T>,
    im: Vec<T>,
}

/// Fields per rayon task of the grid transforms: an even number (two 1D
/// fields share one complex FFT), enough tasks to balance the workers, and
/// few enough fields that a task's spectra stay in cache until they are
/// transposed.
fn fields_per_task(fields: usize) -> usize {
    let per_worker = fields.div_ceil(8 * rayon::current_num_threads().max(1));
    (per_worker.clamp(2, 64) + 1) & !1
}

/// Transforms every field of `input` (`[fields, points]`) and returns the
/// spectra mode-major: `[modes, fields]`.
fn analyse_all<T: Real>(tr: &GridTransform<T>, input: &[T]) -> Planar<T> {
    let (points, modes) = (tr.points(), tr.modes());
    let fields = input.len() / points;
    let per_task = fields_per_task(fields);
    let mut planar = Planar {
        re: vec![T::zero(); fields * modes],
        im: vec![T::zero(); fields * modes],
    };
    let (re, im) = (
        SharedMut::new(planar.re.as_mut_ptr()),
        SharedMut::new(planar.im.as_mut_ptr()),
    );
    input
        .par_chunks(per_task * points)
        .enumerate()
        .for_each_init(
            || (Workspace::default(), Vec::new()),
            |(ws, spec), (task, run)| {
                let count = run.len() / points;
                spec.resize(count * modes, Complex::default());
                tr.analysis(run, spec, ws);
                // Transposed while still in cache: this task's fields are one
                // contiguous run of every mode's row.
                let first = task * per_task;
                for k in 0..modes {
                    for (f, field) in spec.chunks_exact(modes).enumerate() {
                        let at = k * fields + first + f;
                        // SAFETY: `at < modes * fields`, and the fields
                        // `first..first + count` belong to this task alone.
                        unsafe {
                            *re.ptr().add(at) = field[k].re;
                            *im.ptr().add(at) = field[k].im;
                        }
                    }
                }
            },
        );
    planar
}

/// Inverse of [`analyse_all`]: mode-major spectra `[modes, fields]` to fields
/// on the transform's grid.
fn synthesise_all<T: Real>(tr: &GridTransform<T>, planar: &Planar<T>, fields: usize) -> Vec<T> {
    let (points, modes) = (tr.points(), tr.modes());
    let per_task = fields_per_task(fields);
    let len = fields * points;
    // Not zeroed: the synthesis writes every point of every field.
    let mut out = Vec::<T>::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(per_task * points)
        .enumerate()
        .for_each_init(
            || (Workspace::default(), Vec::new()),
            |(ws, spec), (task, run)| {
                let count = run.len() / points;
                let first = task * per_task;
                // Back to field-major for this task's run of fields.
                spec.clear();
                spec.extend((0..count).flat_map(|f| {
                    (0..modes).map(move |k| {
                        let at = k * fields + first + f;
                        Complex::new(planar.re[at], planar.im[at])
                    })
                }));
                tr.synthesis(spec, run, ws);
            },
        );
    // SAFETY: each chunk of whole fields was written in full by `synthesis`
    // (through `c2r_rows`, which writes whole rows).
    unsafe { out.set_len(len) };
    out
}

/// The kept weights, mode-major: `[modes, C_in, C_out]`.
fn gather_weights<T: Real>(geo: &Geometry, w_re: &[T], w_im: &[T]) -> Planar<T> {
    let index = geo.modes.weight_index();
    let full: usize = geo.modes.weight_shape().iter().product();
    let (ci, co) = (geo.c_in, geo.c_out);
    let mut out = Planar {
        re: vec![T::zero(); index.len() * ci * co],
        im: vec![T::zero(); index.len() * ci * co],
    };
    // One task per run of modes, each filling whole [C_in, C_out] blocks:
    // writes are contiguous, and the column of weights a mode reads sits in
    // the same cache lines as the next mode's column.
    out.re
        .par_chunks_mut(ci * co)
        .zip(out.im.par_chunks_mut(ci * co))
        .zip(index.par_iter())
        .for_each(|((re, im), &src)| {
            for (io, (re, im)) in re.iter_mut().zip(im.iter_mut()).enumerate() {
                *re = w_re[io * full + src];
                *im = w_im[io * full + src];
            }
        });
    out
}

/// `Y[k, b, o] = sum_i X[k, b, i] W[k, i, o]` for every kept mode.
fn mix<T: Real>(geo: &Geometry, x: &Planar<T>, w: &Planar<T>) -> Planar<T> {
    let (b, ci, co) = (geo.batch, geo.c_in, geo.c_out);
    let modes = geo.modes.kept_total();
    let mut y = Planar {
        re: vec![T::zero(); modes * b * co],
        im: vec![T::zero(); modes * b * co],
    };
    y.re.par_chunks_mut(b * co)
        .zip(y.im.par_chunks_mut(b * co))
        .enumerate()
        .for_each(|(k, (yr, yi))| {
            let xs = (
                &x.re[k * b * ci..(k + 1) * b * ci],
                &x.im[k * b * ci..(k + 1) * b * ci],
            );
            let ws = (
                &w.re[k * ci * co..(k + 1) * ci * co],
                &w.im[k * ci * co..(k + 1) * ci * co],
            );
            mix_mode(xs, ws, (yr, yi), ci, co);
        });
    y
}

/// One mode of [`mix`]: `Y[b, o] += sum_i X[b, i] W[i, o]` on planar
/// `[batch, C_in]`, `[C_in, C_out]` and `[batch, C_out]` slices.
/// Compiled for AVX2 + FMA as well as for the baseline, picked at run
/// time: the baseline build moves four lanes per instruction and perf put
/// it at 7% of the FNO-1D forward pass.
fn mix_mode<T: Real>(
    x: (&[T], &[T]),
    w: (&[T], &[T]),
    y: (&mut [T], &mut [T]),
    ci: usize,
    co: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { mix_mode_avx2(x, w, y, ci, co) };
    }
    mix_mode_body(x, w, y, ci, co)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn mix_mode_avx2<T: Real>(
    x: (&[T], &[T]),
    w: (&[T], &[T]),
    y: (&mut [T], &mut [T]),
    ci: usize,
    co: usize,
) {
    mix_mode_body(x, w, y, ci, co)
}

#[inline(always)]
fn mix_mode_body<T: Real>(
    (xr, xi): (&[T], &[T]),
    (wr, wi): (&[T], &[T]),
    (yr, yi): (&mut [T], &mut [T]),
    ci: usize,
    co: usize,
) {
    for ((yr, yi), (xr, xi)) in yr
        .chunks_exact_mut(co)
        .zip(yi.chunks_exact_mut(co))
        .zip(xr.chunks_exact(ci).zip(xi.chunks_exact(ci)))
    {
        for ((&a, &c), (wr, wi)) in xr
            .iter()
            .zip(xi)
            .zip(wr.chunks_exact(co).zip(wi.chunks_exact(co)))
        {
            for (((yr, yi), &p), &q) in yr.iter_mut().zip(yi.iter_mut()).zip(wr).zip(wi) {
                *yr += a * p - c * q;
                *yi += a * q + c * p;
            }
        }
    }
}

/// Adjoint of [`mix`]: `dX = sum_o G conj(W)` and `dW = sum_b G conj(X)`.
/// Both products are written as accumulations whose inner loop runs over a
/// contiguous channel axis (the weights are transposed per mode for `dX`),
/// so they vectorise instead of reducing into one scalar.
/// `want_x` false skips `dX`; `x` `None` skips `dW` (both come back zero).
fn mix_adjoint<T: Real>(
    geo: &Geometry,
    g: &Planar<T>,
    x: Option<&Planar<T>>,
    w: &Planar<T>,
    want_x: bool,
) -> (Planar<T>, Planar<T>) {
    let (b, ci, co) = (geo.batch, geo.c_in, geo.c_out);
    let modes = geo.modes.kept_total();
    let mut gx = Planar {
        re: vec![T::zero(); modes * b * ci],
        im: vec![T::zero(); modes * b * ci],
    };
    let mut gw = Planar {
        re: vec![T::zero(); modes * ci * co],
        im: vec![T::zero(); modes * ci * co],
    };
    gx.re
        .par_chunks_mut(b * ci)
        .zip(gx.im.par_chunks_mut(b * ci))
        .zip(
            gw.re
                .par_chunks_mut(ci * co)
                .zip(gw.im.par_chunks_mut(ci * co)),
        )
        .enumerate()
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(wtr, wti), (k, ((gxr, gxi), (gwr, gwi)))| {
                let (gr, gi) = (
                    &g.re[k * b * co..(k + 1) * b * co],
                    &g.im[k * b * co..(k + 1) * b * co],
                );
                let (wr, wi) = (
                    &w.re[k * ci * co..(k + 1) * ci * co],
                    &w.im[k * ci * co..(k + 1) * ci * co],
                );
                let xs = x.map(|x| {
                    let rows = k * b * ci..(k + 1) * b * ci;
                    (&x.re[rows.clone()], &x.im[rows])
                });
                adjoint_mode(
                    AdjointMode {
                        g: (gr, gi),
                        w: (wr, wi),
                        x: xs,
                        b,
                        ci,
                        co,
                    },
                    (wtr, wti),
                    want_x.then_some((gxr, gxi)),
                    (gwr, gwi),
                );
            },
        );
    (gx, gw)
}

/// The inputs of one mode of [`mix_adjoint`]: planar `G` `[batch, C_out]`,
/// `W` `[C_in, C_out]` and, when the weight gradient is wanted, `X`
/// `[batch, C_in]`.
struct AdjointMode<'a, T> {
    g: (&'a [T], &'a [T]),
    w: (&'a [T], &'a [T]),
    x: Option<(&'a [T], &'a [T])>,
    b: usize,
    ci: usize,
    co: usize,
}

/// One mode of [`mix_adjoint`], into `dx` (when wanted) and `dw`;
/// `wt` is scratch for the transposed weights. Dispatched like
/// [`mix_mode`].
fn adjoint_mode<T: Real>(
    m: AdjointMode<'_, T>,
    wt: (&mut Vec<T>, &mut Vec<T>),
    dx: Option<(&mut [T], &mut [T])>,
    dw: (&mut [T], &mut [T]),
) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { adjoint_mode_avx2(m, wt, dx, dw) };
    }
    adjoint_mode_body(m, wt, dx, dw)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn adjoint_mode_avx2<T: Real>(
    m: AdjointMode<'_, T>,
    wt: (&mut Vec<T>, &mut Vec<T>),
    dx: Option<(&mut [T], &mut [T])>,
    dw: (&mut [T], &mut [T]),
) {
    adjoint_mode_body(m, wt, dx, dw)
}

#[inline(always)]
fn adjoint_mode_body<T: Real>(
    m: AdjointMode<'_, T>,
    (wtr, wti): (&mut Vec<T>, &mut Vec<T>),
    mut dx: Option<(&mut [T], &mut [T])>,
    (gwr, gwi): (&mut [T], &mut [T]),
) {
    let AdjointMode {
        g: (gr, gi),
        w: (wr, wi),
        x,
        b,
        ci,
        co,
    } = m;
    // W^T for this mode: [C_out, C_in].
    wtr.clear();
    wti.clear();
    wtr.resize(ci * co, T::zero());
    wti.resize(ci * co, T::zero());
    for i in 0..ci {
        for o in 0..co {
            wtr[o * ci + i] = wr[i * co + o];
            wti[o * ci + i] = wi[i * co + o];
        }
    }
    for bi in 0..b {
        let (gr, gi) = (&gr[bi * co..(bi + 1) * co], &gi[bi * co..(bi + 1) * co]);
        if let Some((gxr, gxi)) = dx.as_mut() {
            // dX[b, i] += (gr + i gi)(wr - i wi), accumulated over o.
            let (dxr, dxi) = (
                &mut gxr[bi * ci..(bi + 1) * ci],
                &mut gxi[bi * ci..(bi + 1) * ci],
            );
            for (((&gr, &gi), wr), wi) in gr
                .iter()
                .zip(gi)
                .zip(wtr.chunks_exact(ci))
                .zip(wti.chunks_exact(ci))
            {
                for (((dxr, dxi), &p), &q) in dxr.iter_mut().zip(dxi.iter_mut()).zip(wr).zip(wi) {
                    *dxr += gr * p + gi * q;
                    *dxi += gi * p - gr * q;
                }
            }
        }
        let Some((xr, xi)) = x else { continue };
        // dW[i, o] += (gr + i gi)(xr - i xi), accumulated over b.
        let (xr, xi) = (&xr[bi * ci..(bi + 1) * ci], &xi[bi * ci..(bi + 1) * ci]);
        for (((&a, &c), gwr), gwi) in xr
            .iter()
            .zip(xi)
            .zip(gwr.chunks_exact_mut(co))
            .zip(gwi.chunks_exact_mut(co))
        {
            for (((gwr, gwi), &gr), &gi) in gwr.iter_mut().zip(gwi.iter_mut()).zip(gr).zip(gi) {
                *gwr += gr * a + gi * c;
                *gwi += gi * a - gr * c;
            }
        }
    }
}

/// Forward pass on host slices; also returns the input's kept spectrum,
/// which the weight gradient needs.
pub(crate) fn forward<T: Real>(
    geo: &Geometry,
    x: &[T],
    w_re: &[T],
    w_im: &[T],
) -> (Vec<T>, Option<Planar<T>>) {
    let out_points: usize = geo.out_grid.iter().product();
    if geo.is_trivial() {
        return (vec![T::zero(); geo.batch * geo.c_out * out_points], None);
    }
    let analysis = GridTransform::new(
        &geo.in_grid,
        &geo.modes,
        geo.inv_points(),
        FftDirection::Forward,
    );
    let synthesis = GridTransform::new(
        &geo.out_grid,
        &geo.modes,
        geo.hermitian(),
        FftDirection::Inverse,
    );
    let spec = analyse_all(&analysis, x);
    let w = gather_weights(geo, w_re, w_im);
    let y = mix(geo, &spec, &w);
    (
        synthesise_all(&synthesis, &y, geo.batch * geo.c_out),
        Some(spec),
    )
}

/// Which gradients the backward pass computes, and the input spectrum kept
/// from the forward pass if there is one.
pub(crate) struct Wanted<T> {
    pub(crate) x: bool,
    pub(crate) weights: bool,
    pub(crate) spectrum: Option<Planar<T>>,
}

/// Gradients with respect to `x` and to (`w_re`, `w_im`), `None` where not
/// wanted.
pub(crate) type Gradients<T> = (Option<Vec<T>>, Option<(Vec<T>, Vec<T>)>);

/// Gradients of `sum(y * grad)` with respect to `x` and the weights (`None`
/// where not wanted).
pub(crate) fn backward<T: Real>(
    geo: &Geometry,
    x: &[T],
    w_re: &[T],
    w_im: &[T],
    grad: &[T],
    wanted: Wanted<T>,
) -> Gradients<T> {
    let full: usize = geo.modes.weight_shape().iter().product();
    let (ci, co) = (geo.c_in, geo.c_out);
    let mut gw_re = vec![T::zero(); ci * co * full];
    let mut gw_im = vec![T::zero(); ci * co * full];
    if geo.is_trivial() {
        let gx = wanted.x.then(|| vec![T::zero(); x.len()]);
        return (gx, wanted.weights.then_some((gw_re, gw_im)));
    }
    let g_analysis = GridTransform::new(
        &geo.out_grid,
        &geo.modes,
        geo.hermitian(),
        FftDirection::Forward,
    );
    let g = analyse_all(&g_analysis, grad);
    let w = gather_weights(geo, w_re, w_im);
    let spec = match (wanted.weights, wanted.spectrum) {
        (false, _) => None,
        (true, Some(spec)) => Some(spec),
        (true, None) => {
            let x_analysis = GridTransform::new(
                &geo.in_grid,
                &geo.modes,
                geo.inv_points(),
                FftDirection::Forward,
            );
            Some(analyse_all(&x_analysis, x))
        }
    };
    let (gx, gw) = mix_adjoint(geo, &g, spec.as_ref(), &w, wanted.x);
    let grad_x = wanted.x.then(|| {
        let x_synthesis = GridTransform::new(
            &geo.in_grid,
            &geo.modes,
            geo.inv_points(),
            FftDirection::Inverse,
        );
        synthesise_all(&x_synthesis, &gx, geo.batch * ci)
    });
    if !wanted.weights {
        return (grad_x, None);
    }
    // Scatter the kept modes' weight gradients; dropped (clipped) modes get
    // 0. One task per run of weight rows, so writes stay in one row and the
    // strided reads of a row reuse the lines the previous row loaded.
    let index = geo.modes.weight_index();
    gw_re
        .par_chunks_mut(full)
        .zip(gw_im.par_chunks_mut(full))
        .enumerate()
        .for_each(|(io, (re, im))| {
            for (k, &dst) in index.iter().enumerate() {
                re[dst] = gw.re[k * ci * co + io];
                im[dst] = gw.im[k * ci * co + io];
            }
        });
    (grad_x, Some((gw_re, gw_im)))
}

/// The input spectrum kept by the forward pass for the backward pass, in
/// the op's dtype.
pub(crate) enum Spectrum {
    F32(Planar<f32>),
    F64(Planar<f64>),
}

/// Moves a [`Planar`] in and out of a [`Spectrum`].
pub(crate) trait Cached: Real {
    fn wrap(p: Planar<Self>) -> Spectrum;
    fn unwrap(s: Spectrum) -> Option<Planar<Self>>;
}

impl Cached for f32 {
    fn wrap(p: Planar<f32>) -> Spectrum {
        Spectrum::F32(p)
    }
    fn unwrap(s: Spectrum) -> Option<Planar<f32>> {
        match s {
            Spectrum::F32(p) => Some(p),
            Spectrum::F64(_) => None,
        }
    }
}

impl Cached for f64 {
    fn wrap(p: Planar<f64>) -> Spectrum {
        Spectrum::F64(p)
    }
    fn unwrap(s: Spectrum) -> Option<Planar<f64>> {
        match s {
            Spectrum::F64(p) => Some(p),
            Spectrum::F32(_) => None,
        }
    }
}

/// The fused op; the output grid and the requested modes travel in it.
///
/// One instance is built per application, so the input spectrum its forward
/// pass stores is that of its own input; the backward pass takes it instead
/// of transforming the input again (and recomputes it if it is missing,
/// with the same result).
pub(crate) struct SpectralConvOp {
    modes: Vec<usize>,
    out_grid: Vec<usize>,
    spectrum: Mutex<Option<Spectrum>>,
}

impl SpectralConvOp {
    fn cpu_forward<T: Cached>(&self, geo: &Geometry, x: &[T], w_re: &[T], w_im: &[T]) -> Vec<T> {
        let (out, spec) = forward(geo, x, w_re, w_im);
        *self.spectrum.lock().unwrap_or_else(|p| p.into_inner()) = spec.map(T::wrap);
        out
    }

    /// The backward pass on host views of (`x`, `w_re`, `w_im`, `grad`),
    /// returned as tensors of the input shape and the weight shape.
    fn cpu_backward<T: Cached>(
        &self,
        geo: &Geometry,
        [x, w_re, w_im, grad]: [&HostView; 4],
        (x_shape, w_shape, device): (&Shape, &Shape, &candle_core::Device),
        want_x: bool,
        want_weights: bool,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let spectrum = self
            .spectrum
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .and_then(T::unwrap);
        let wanted = Wanted {
            x: want_x,
            weights: want_weights,
            spectrum,
        };
        let (gx, gw) = backward(
            geo,
            x.slice()?,
            w_re.slice()?,
            w_im.slice()?,
            grad.slice()?,
            wanted,
        );
        let gx = gx
            .map(|g| Tensor::from_vec(g, x_shape, device))
            .transpose()?;
        let (gr, gi) = match gw {
            Some((r, i)) => (
                Some(Tensor::from_vec(r, w_shape, device)?),
                Some(Tensor::from_vec(i, w_shape, device)?),
            ),
            None => (None, None),
        };
        Ok((gx, gr, gi))
    }
}

/// Applies the fused spectral convolution: `x` `[batch, C_in, N..]`, weights
/// `[C_in, C_out, 2m.., m_d]` (same dtype, f32 or f64, on the CPU or, with
/// the `cuda` feature, a CUDA device) to the output grid `out_grid`.
pub(crate) fn spectral_conv_fft(
    x: &Tensor,
    w_re: &Tensor,
    w_im: &Tensor,
    modes: &[usize],
    out_grid: &[usize],
) -> candle_core::Result<Tensor> {
    for t in [x, w_re, w_im] {
        // `is_cuda` is false for every device a build without `cuda` makes.
        if !(t.device().is_cpu() || t.device().is_cuda()) {
            return Err(SpectralError::UnsupportedDevice {
                op: OP,
                device: format!("{:?}", t.device().location()),
            }
            .into());
        }
    }
    check_dtypes(x.dtype(), w_re.dtype(), w_im.dtype())?;
    Geometry::new(OP, x.dims(), w_re.dims(), w_im.dims(), modes, out_grid)?;
    let op = SpectralConvOp {
        modes: modes.to_vec(),
        out_grid: out_grid.to_vec(),
        spectrum: Mutex::new(None),
    };
    x.contiguous()?
        .apply_op3(&w_re.contiguous()?, &w_im.contiguous()?, op)
}

pub(crate) fn check_dtypes(x: DType, w_re: DType, w_im: DType) -> Result<(), SpectralError> {
    if !matches!(x, DType::F32 | DType::F64) {
        return Err(SpectralError::UnsupportedDType { op: OP, dtype: x });
    }
    for got in [w_re, w_im] {
        if got != x {
            return Err(SpectralError::DTypeMismatch {
                op: OP,
                expected: x,
                got,
            });
        }
    }
    Ok(())
}

impl CustomOp3 for SpectralConvOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        check_dtypes(s1.dtype(), s2.dtype(), s3.dtype())?;
        let geo = Geometry::new(
            OP,
            l1.dims(),
            l2.dims(),
            l3.dims(),
            &self.modes,
            &self.out_grid,
        )?;
        let out = match s1 {
            CpuStorage::F32(_) => CpuStorage::F32(self.cpu_forward::<f32>(
                &geo,
                host::slice(OP, s1, l1)?,
                host::slice(OP, s2, l2)?,
                host::slice(OP, s3, l3)?,
            )),
            _ => CpuStorage::F64(self.cpu_forward::<f64>(
                &geo,
                host::slice(OP, s1, l1)?,
                host::slice(OP, s2, l2)?,
                host::slice(OP, s3, l3)?,
            )),
        };
        Ok((out, Shape::from(geo.out_shape())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        check_dtypes(s1.dtype(), s2.dtype(), s3.dtype())?;
        let geo = Geometry::new(
            OP,
            l1.dims(),
            l2.dims(),
            l3.dims(),
            &self.modes,
            &self.out_grid,
        )?;
        let out = super::cuda::conv::forward(OP, &geo, (s1, l1), (s2, l2), (s3, l3))?;
        Ok((out, Shape::from(geo.out_shape())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w_re: &Tensor,
        w_im: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        check_dtypes(x.dtype(), w_re.dtype(), w_im.dtype())?;
        let geo = Geometry::new(
            OP,
            x.dims(),
            w_re.dims(),
            w_im.dims(),
            &self.modes,
            &self.out_grid,
        )?;
        if grad_res.dims() != geo.out_shape().as_slice() {
            return Err(SpectralError::ShapeMismatch {
                op: OP,
                expected: format!("gradient {:?}", geo.out_shape()),
                got: grad_res.dims().to_vec(),
            }
            .into());
        }
        // Skip the gradients candle would throw away (inputs that are
        // neither variables nor computed from variables).
        let want_x = x.track_op();
        let want_weights = w_re.track_op() || w_im.track_op();
        if !want_x && !want_weights {
            return Ok((None, None, None));
        }
        let grad_res = grad_res.to_dtype(x.dtype())?;
        let (x, w_re, w_im, grad) = (
            x.contiguous()?,
            w_re.contiguous()?,
            w_im.contiguous()?,
            grad_res.contiguous()?,
        );
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() {
            return super::cuda::conv::backward(
                OP,
                &geo,
                [&x, &w_re, &w_im, &grad],
                (want_x, want_weights),
            );
        }
        let views = [
            HostView::new(OP, &x)?,
            HostView::new(OP, &w_re)?,
            HostView::new(OP, &w_im)?,
            HostView::new(OP, &grad)?,
        ];
        let views = [&views[0], &views[1], &views[2], &views[3]];
        let shapes = (x.shape(), w_re.shape(), x.device());
        match x.dtype() {
            DType::F32 => self.cpu_backward::<f32>(&geo, views, shapes, want_x, want_weights),
            _ => self.cpu_backward::<f64>(&geo, views, shapes, want_x, want_weights),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectral::dense::{spectral_conv_dense, DenseCache};
    use crate::spectral::testutil::{grad_check, random, rel_err};

    /// (input grid, output grid, modes) cases: odd and even sizes, modes at
    /// the limit (2m = N on complex axes, m = N/2 + 1 on the last axis),
    /// clipped modes, and output grids larger and smaller than the input.
    fn cases() -> Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> {
        vec![
            (vec![15], vec![15], vec![5]),
            (vec![16], vec![33], vec![9]),
            (vec![33], vec![16], vec![17]),
            (vec![16, 15], vec![16, 15], vec![8, 8]),
            (vec![15, 16], vec![20, 33], vec![4, 5]),
            (vec![9, 12], vec![6, 7], vec![5, 7]),
            (vec![6, 5, 7], vec![6, 5, 7], vec![3, 2, 4]),
            (vec![6, 5, 7], vec![8, 4, 9], vec![2, 2, 3]),
        ]
    }

    fn tensors(
        seed: u64,
        grid: &[usize],
        modes: &[usize],
        dtype: DType,
    ) -> (Tensor, Tensor, Tensor) {
        let (b, ci, co) = (2, 2, 3);
        let mut xs = vec![b, ci];
        xs.extend(grid);
        let mut ws = vec![ci, co];
        ws.extend(weight_spatial_shape(modes));
        (
            random(seed, &xs, dtype),
            random(seed + 1, &ws, dtype),
            random(seed + 2, &ws, dtype),
        )
    }

    fn check_gradients(dims: usize) {
        for (seed, (grid, out, modes)) in cases()
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.0.len() == dims)
        {
            let (x, wr, wi) = tensors(seed as u64, &grid, &modes, DType::F64);
            let errors = grad_check(&[x, wr, wi], |a| {
                spectral_conv_fft(&a[0], &a[1], &a[2], &modes, &out)
            });
            for (name, e) in ["x", "w_re", "w_im"].iter().zip(&errors) {
                assert!(
                    *e < 1e-6,
                    "{grid:?} -> {out:?}, modes {modes:?}: d/d{name} error {e}"
                );
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences_1d() {
        check_gradients(1);
    }

    #[test]
    fn gradients_match_finite_differences_2d() {
        check_gradients(2);
    }

    #[test]
    fn gradients_match_finite_differences_3d() {
        check_gradients(3);
    }

    #[test]
    fn matches_dense_dft_in_f32() -> candle_core::Result<()> {
        let cache = DenseCache::default();
        for (seed, (grid, out, modes)) in cases().into_iter().enumerate() {
            let (x, wr, wi) = tensors(seed as u64 + 10, &grid, &modes, DType::F32);
            let fast = spectral_conv_fft(&x, &wr, &wi, &modes, &out)?;
            let geo = Geometry::new(OP, x.dims(), wr.dims(), wi.dims(), &modes, &out)?;
            let slow = spectral_conv_dense(&cache, &geo, &x, &wr, &wi)?;
            let e = rel_err(&fast, &slow);
            assert!(e < 1e-5, "{grid:?} -> {out:?}, modes {modes:?}: error {e}");
        }
        Ok(())
    }

    #[test]
    fn dense_gradients_match_fused_gradients() -> candle_core::Result<()> {
        let cache = DenseCache::default();
        for (seed, (grid, out, modes)) in cases().into_iter().enumerate() {
            let (x, wr, wi) = tensors(seed as u64 + 20, &grid, &modes, DType::F64);
            let vars = [&x, &wr, &wi].map(|t| candle_core::Var::from_tensor(t).expect("var"));
            let [vx, vr, vi] = &vars;
            let r = random(
                99,
                spectral_conv_fft(&x, &wr, &wi, &modes, &out)?.dims(),
                DType::F64,
            );
            let fast = (spectral_conv_fft(vx, vr, vi, &modes, &out)? * &r)?
                .sum_all()?
                .backward()?;
            let geo = Geometry::new(OP, x.dims(), wr.dims(), wi.dims(), &modes, &out)?;
            let slow = (spectral_conv_dense(&cache, &geo, vx, vr, vi)? * &r)?
                .sum_all()?
                .backward()?;
            for v in &vars {
                let (a, b) = (
                    fast.get(v).expect("fused grad"),
                    slow.get(v).expect("dense grad"),
                );
                assert!(rel_err(a, b) < 1e-10, "{grid:?} -> {out:?}");
            }
        }
        Ok(())
    }

    /// Last axes long enough for the pruned row transforms (multiples of
    /// 256, at most 16 kept bins), in both directions, in 1D and on the
    /// last axis of a 2D grid: forward values and all three gradients in
    /// f32 against the dense DFT.
    #[test]
    fn pruned_last_axis_matches_dense_dft_in_f32() -> candle_core::Result<()> {
        let cache = DenseCache::default();
        let shapes = [
            (vec![256], vec![512], vec![8]),
            (vec![512], vec![256], vec![16]),
            (vec![3, 256], vec![3, 256], vec![2, 11]),
        ];
        for (seed, (grid, out, modes)) in shapes.into_iter().enumerate() {
            let (x, wr, wi) = tensors(seed as u64 + 30, &grid, &modes, DType::F32);
            let vars = [&x, &wr, &wi].map(|t| candle_core::Var::from_tensor(t).expect("var"));
            let [vx, vr, vi] = &vars;
            let geo = Geometry::new(OP, x.dims(), wr.dims(), wi.dims(), &modes, &out)?;
            let fast_y = spectral_conv_fft(vx, vr, vi, &modes, &out)?;
            let slow_y = spectral_conv_dense(&cache, &geo, vx, vr, vi)?;
            let e = rel_err(&fast_y, &slow_y);
            assert!(e < 1e-5, "{grid:?} -> {out:?}, modes {modes:?}: error {e}");
            let r = random(98, fast_y.dims(), DType::F32);
            let fast = (fast_y * &r)?.sum_all()?.backward()?;
            let slow = (slow_y * &r)?.sum_all()?.backward()?;
            for v in &vars {
                let (a, b) = (
                    fast.get(v).expect("fused grad"),
                    slow.get(v).expect("dense grad"),
                );
                let e = rel_err(a, b);
                assert!(e < 1e-5, "{grid:?} -> {out:?}: gradient error {e}");
            }
        }
        Ok(())
    }

    #[test]
    fn backward_recomputes_a_missing_spectrum_and_skips_untracked_inputs() -> candle_core::Result<()>
    {
        let (modes, out) = (vec![3, 4], vec![10, 9]);
        let (x, wr, wi) = tensors(5, &[8, 7], &modes, DType::F64);
        let vars = [&x, &wr, &wi].map(|t| candle_core::Var::from_tensor(t).expect("var"));
        let [vx, vr, vi] = &vars;
        let y = spectral_conv_fft(vx, vr, vi, &modes, &out)?;
        let g = random(3, y.dims(), DType::F64);
        let fresh = || SpectralConvOp {
            modes: modes.clone(),
            out_grid: out.clone(),
            spectrum: Mutex::new(None),
        };
        // An op whose forward never ran has no spectrum: same gradients.
        let (a, b, c) = fresh().bwd(vx, vr, vi, &y, &g)?;
        let grads = (&y * &g)?.sum_all()?.backward()?;
        for (got, var) in [a, b, c].iter().zip(&vars) {
            let got = got.as_ref().expect("all three are tracked");
            assert!(rel_err(got, grads.get(var).expect("grad")) < 1e-12);
        }
        // Plain tensors get no gradient.
        let (a, b, c) = fresh().bwd(&x, vr, vi, &y, &g)?;
        assert!(a.is_none() && b.is_some() && c.is_some());
        let (a, b, c) = fresh().bwd(vx, &wr, &wi, &y, &g)?;
        assert!(a.is_some() && b.is_none() && c.is_none());
        Ok(())
    }

    #[test]
    fn bad_shapes_and_dtypes_are_typed_errors() {
        let (x, wr, wi) = tensors(1, &[8, 8], &[2, 2], DType::F32);
        let err =
            spectral_conv_fft(&x, &wr, &wi, &[2, 2], &[8]).expect_err("1 output axis for 2 modes");
        assert!(err.to_string().contains(OP), "{err}");
        assert!(
            spectral_conv_fft(&x, &wr, &wi, &[3, 2], &[8, 8]).is_err(),
            "weights do not fit modes"
        );
        let wi64 = wi.to_dtype(DType::F64).expect("f64");
        assert!(
            spectral_conv_fft(&x, &wr, &wi64, &[2, 2], &[8, 8]).is_err(),
            "dtype mismatch"
        );
        assert!(
            spectral_conv_fft(&x, &wr, &wi, &[2, 2], &[8, 0]).is_err(),
            "empty grid"
        );
        let empty = random(1, &[0, 2, 8, 8], DType::F32);
        let y = spectral_conv_fft(&empty, &wr, &wi, &[2, 2], &[8, 8]).expect("empty batch");
        assert_eq!(y.dims(), &[0, 3, 8, 8]);
        let (x4, w4, _) = tensors(1, &[4, 4, 4, 4], &[1, 1, 1, 1], DType::F32);
        assert!(
            spectral_conv_fft(&x4, &w4, &w4, &[1, 1, 1, 1], &[4, 4, 4, 4]).is_err(),
            "4D"
        );
    }
}
