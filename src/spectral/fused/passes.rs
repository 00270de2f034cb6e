//! The fused spectral convolution's forward and backward passes on host
//! slices: the grid transforms of every field into mode-major spectra and
//! back, around the mixing of [`super::mix`].

use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::FftDirection;

use super::mix::{gather_weights, mix, mix_adjoint, Planar};
use crate::disjoint::SharedMut;
use crate::spectral::geometry::Geometry;
use crate::spectral::kernels::{GridTransform, Workspace};
use crate::spectral::plan::Real;

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
