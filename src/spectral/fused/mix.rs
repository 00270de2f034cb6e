//! The mode mixing of the fused spectral convolution on the CPU and its
//! adjoint: per kept mode, small complex products of planar (separate real
//! and imaginary) spectra and weights.

use rayon::prelude::*;

use crate::spectral::geometry::Geometry;
use crate::spectral::plan::Real;

/// Mode-major planar spectra: `re[k][row][ch]`, `im` alike.
pub(crate) struct Planar<T> {
    pub(super) re: Vec<T>,
    pub(super) im: Vec<T>,
}

/// The kept weights, mode-major: `[modes, C_in, C_out]`.
pub(super) fn gather_weights<T: Real>(geo: &Geometry, w_re: &[T], w_im: &[T]) -> Planar<T> {
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
pub(super) fn mix<T: Real>(geo: &Geometry, x: &Planar<T>, w: &Planar<T>) -> Planar<T> {
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
pub(super) fn mix_adjoint<T: Real>(
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
