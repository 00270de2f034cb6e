//! Slice-level FFT kernels shared by the differentiable FFT ops and the fused
//! spectral convolution.
//!
//! All transforms are unnormalised; every kernel takes explicit per-bin
//! weights or a scale, so the callers choose the normalisation. The two real
//! kernels use the classic packing trick: two real rows `a`, `b` travel as one
//! complex row `a + i b`, which halves the FFT work (rustfft has no real FFT).
//!
//! With `z = a + i b` and `Z = FFT(z)` of length `n`,
//! `A_k = (Z_k + conj Z_{n-k}) / 2` and `B_k = (Z_k - conj Z_{n-k}) / (2i)`.
//! Conversely, `Re(sum_k w_k Y_k e^{2πikt/n})` is the real part of the
//! inverse FFT of the spectrum with `w_k Y_k / 2` at bin `k` and
//! `w_k conj(Y_k) / 2` at bin `n - k`, so two rows again share one FFT (the
//! second one rides on the imaginary part).

use std::mem::MaybeUninit;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::FftDirection;

use super::modes::ModeSet;
use super::plan::{Plan, Real};
use super::pruned::RowTransform;

/// Buffers one worker reuses across the planes it transforms, so no inner
/// loop allocates.
#[derive(Default)]
pub(crate) struct Workspace<T> {
    ping: Vec<Complex<T>>,
    pong: Vec<Complex<T>>,
    work: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
}

/// The bin `(n - k) mod n` holding the conjugate partner of bin `k < n`
/// (without an integer division in the inner loops).
#[inline]
fn mirror(k: usize, n: usize) -> usize {
    if k == 0 {
        0
    } else {
        n - k
    }
}

/// Grows `buf` to at least `len` values and returns its first `len`,
/// zeroed only if `zero` (callers that overwrite every value skip it).
fn prepare<T: Real>(buf: &mut Vec<Complex<T>>, len: usize, zero: bool) -> &mut [Complex<T>] {
    if buf.len() < len {
        buf.resize(len, Complex::default());
    }
    let out = &mut buf[..len];
    if zero {
        out.fill(Complex::default());
    }
    out
}

/// Real FFT of consecutive rows of `plan.len()` points in `input`, keeping
/// bins `0..weights.len()`, bin `k` multiplied by `weights[k]`. `out` holds
/// `rows * weights.len()` values.
pub(crate) fn rfft_rows<T: Real>(
    input: &[T],
    weights: &[T],
    out: &mut [Complex<T>],
    plan: &Plan<T>,
    work: &mut Vec<Complex<T>>,
    scratch: &mut Vec<Complex<T>>,
) {
    let n = plan.len();
    let keep = weights.len();
    if n == 0 || keep == 0 {
        return;
    }
    let rows = input.len() / n;
    // One pair of rows at a time: the complex row stays in L1 from the
    // packing through the FFT to the extraction of the kept bins.
    let half = T::of(0.5);
    for p in 0..rows.div_ceil(2) {
        let buf = prepare(work, n, false);
        let a = &input[2 * p * n..(2 * p + 1) * n];
        let has_b = 2 * p + 1 < rows;
        if has_b {
            let b = &input[(2 * p + 1) * n..(2 * p + 2) * n];
            for ((z, &re), &im) in buf.iter_mut().zip(a).zip(b) {
                *z = Complex::new(re, im);
            }
        } else {
            for (z, &re) in buf.iter_mut().zip(a) {
                *z = Complex::new(re, T::zero());
            }
        }
        plan.run(buf, scratch);
        for (k, &w) in weights.iter().enumerate() {
            let z = buf[k];
            let zc = buf[mirror(k, n)].conj();
            let a = (z + zc) * (half * w);
            out[2 * p * keep + k] = a;
            if has_b {
                // (z - zc) / (2i) = -i (z - zc) / 2
                let d = z - zc;
                out[(2 * p + 1) * keep + k] = Complex::new(d.im, -d.re) * (half * w);
            }
        }
    }
}

/// Real inverse transform of consecutive rows of `weights.len()` bins in
/// `spec` onto `plan.len()` points: `out[t] = Re(sum_k w_k Y_k e^{2πikt/n})`.
/// `out` (a whole number of rows) may be uninitialised: every value is
/// written, which lets callers skip zeroing a buffer the size of the
/// output.
/// Needs `weights.len() <= n/2 + 1`, so a bin and its mirror never collide
/// except at the zero and Nyquist bins, where the formula takes the real part
/// (the imaginary parts there are dropped, which is the Hermitian symmetry).
pub(crate) fn c2r_rows<T: Real>(
    spec: &[Complex<T>],
    weights: &[T],
    out: &mut [MaybeUninit<T>],
    plan: &Plan<T>,
    work: &mut Vec<Complex<T>>,
    scratch: &mut Vec<Complex<T>>,
) {
    let n = plan.len();
    let keep = weights.len();
    if n == 0 {
        return;
    }
    debug_assert_eq!(out.len() % n, 0, "c2r_rows writes whole rows");
    let rows = out.len() / n;
    if keep == 0 {
        out.fill(MaybeUninit::new(T::zero()));
        return;
    }
    // One pair of rows at a time, as in `rfft_rows`.
    let half = T::of(0.5);
    for p in 0..rows.div_ceil(2) {
        let buf = prepare(work, n, true);
        let ya_row = &spec[2 * p * keep..(2 * p + 1) * keep];
        let yb_row = (2 * p + 1 < rows).then(|| &spec[(2 * p + 1) * keep..(2 * p + 2) * keep]);
        for (k, (&w, &ya)) in weights.iter().zip(ya_row).enumerate() {
            let yb = yb_row.map_or(Complex::default(), |row| row[k]);
            let s = half * w;
            // Bin k gets w/2 (ya + i yb); its mirror n-k gets w/2 (conj ya + i conj yb).
            let ib = Complex::new(-yb.im, yb.re);
            let ibc = Complex::new(yb.im, yb.re);
            buf[k] += (ya + ib) * s;
            buf[mirror(k, n)] += (ya.conj() + ibc) * s;
        }
        plan.run(buf, scratch);
        for (t, z) in buf.iter().enumerate() {
            out[2 * p * n + t].write(z.re);
        }
        if 2 * p + 1 < rows {
            for (t, z) in buf.iter().enumerate() {
                out[(2 * p + 1) * n + t].write(z.im);
            }
        }
    }
}

/// Complex FFT along the middle axis of `src` viewed as `[outer, n_src,
/// inner]`, through a transform of `plan.len()` points: source index `j` is
/// placed at FFT bin `pos_in[j]` (zeros elsewhere), and output index `j`
/// reads bin `pos_out[j]`, times `scale`. `dst` is `[outer, n_dst, inner]`.
/// Truncation (`pos_out` = kept bins) and zero padding (`pos_in` = kept bins)
/// are the two uses.
#[allow(clippy::too_many_arguments)]
pub(crate) fn axis_fft<T: Real>(
    src: &[Complex<T>],
    outer: usize,
    inner: usize,
    pos_in: &[usize],
    pos_out: &[usize],
    scale: T,
    dst: &mut [Complex<T>],
    plan: &Plan<T>,
    work: &mut Vec<Complex<T>>,
    scratch: &mut Vec<Complex<T>>,
) {
    let n = plan.len();
    let (n_src, n_dst) = (pos_in.len(), pos_out.len());
    // Every bin is written when the source fills the whole transform;
    // otherwise the bins in between are the zero padding.
    let buf = prepare(work, outer * inner * n, n_src < n);
    // Gather into [outer, inner, n] so each FFT runs on contiguous memory.
    for o in 0..outer {
        let block = &mut buf[o * inner * n..(o + 1) * inner * n];
        for (j, &pos) in pos_in.iter().enumerate() {
            let row = &src[(o * n_src + j) * inner..(o * n_src + j + 1) * inner];
            for (i, &v) in row.iter().enumerate() {
                block[i * n + pos] = v;
            }
        }
    }
    plan.run(buf, scratch);
    for o in 0..outer {
        let block = &buf[o * inner * n..(o + 1) * inner * n];
        for (j, &pos) in pos_out.iter().enumerate() {
            let row = &mut dst[(o * n_dst + j) * inner..(o * n_dst + j + 1) * inner];
            for (i, v) in row.iter_mut().enumerate() {
                *v = block[i * n + pos] * scale;
            }
        }
    }
}

/// Maps one real field on a grid to its kept modes (analysis: real FFT on
/// the last axis, complex FFTs on the others, each only over what is still
/// needed), or back (synthesis: zero-padded inverse FFTs, then the real
/// inverse on the last axis).
pub(crate) struct GridTransform<T: Real> {
    grid: Vec<usize>,
    kept: Vec<usize>,
    bins: Vec<Vec<usize>>,
    identity: Vec<Vec<usize>>,
    last_weights: Vec<T>,
    plans: Vec<Plan<T>>,
    /// The last axis's transform when only its kept bins are computed
    /// (`None`: the packed-pair FFT of `rfft_rows` / `c2r_rows`).
    last_rows: Option<Arc<dyn RowTransform<T>>>,
}

impl<T: Real> GridTransform<T> {
    /// A transform on `grid` for the modes in `modes`. `last_weights[k]`
    /// multiplies last-axis mode `k` (analysis: after the transform;
    /// synthesis: before it), which carries the normalisation and the
    /// Hermitian coefficients.
    pub(crate) fn new(
        grid: &[usize],
        modes: &ModeSet,
        last_weights: Vec<T>,
        direction: FftDirection,
    ) -> Self {
        let last_rows = grid
            .last()
            .and_then(|&n| T::pruned_rows(n, last_weights.len()));
        Self {
            last_rows,
            grid: grid.to_vec(),
            kept: modes.kept(),
            bins: (0..grid.len()).map(|a| modes.bins(a, grid[a])).collect(),
            identity: grid.iter().map(|&n| (0..n).collect()).collect(),
            last_weights,
            plans: grid.iter().map(|&n| Plan::new(n, direction)).collect(),
        }
    }

    /// Points per field.
    pub(crate) fn points(&self) -> usize {
        self.grid.iter().product()
    }

    /// Kept modes per field.
    pub(crate) fn modes(&self) -> usize {
        self.kept.iter().product()
    }

    /// Forward transform of consecutive real fields `input` (`points()`
    /// values each) into their kept modes `out` (`modes()` values per field,
    /// row-major over the kept indices). Needs a plan built with
    /// `FftDirection::Forward`.
    pub(crate) fn analysis(&self, input: &[T], out: &mut [Complex<T>], ws: &mut Workspace<T>) {
        if self.grid.len() == 1 {
            if let Some(rows) = &self.last_rows {
                return rows.analyse(input, &self.last_weights, out);
            }
            // A 1D field is one row: handing all of them to the real kernel at
            // once lets two fields share each complex FFT, which a
            // field-by-field call (one row, an odd count) cannot.
            rfft_rows(
                input,
                &self.last_weights,
                out,
                &self.plans[0],
                &mut ws.work,
                &mut ws.scratch,
            );
            return;
        }
        let (points, modes) = (self.points(), self.modes());
        for (field, out) in input.chunks_exact(points).zip(out.chunks_exact_mut(modes)) {
            self.analyse_field(field, out, ws);
        }
    }

    /// [`Self::analysis`] of one field on a grid of two or more axes.
    fn analyse_field(&self, input: &[T], out: &mut [Complex<T>], ws: &mut Workspace<T>) {
        let d = self.grid.len();
        let rows: usize = self.grid[..d - 1].iter().product();
        ws.ping.clear();
        ws.ping.resize(rows * self.kept[d - 1], Complex::default());
        match &self.last_rows {
            Some(last) => last.analyse(input, &self.last_weights, &mut ws.ping),
            None => rfft_rows(
                input,
                &self.last_weights,
                &mut ws.ping,
                &self.plans[d - 1],
                &mut ws.work,
                &mut ws.scratch,
            ),
        }
        // Axes from the second-to-last down to the first: the buffer is
        // [grid[..=ax], kept[ax+1..]] and shrinks at every step.
        for ax in (0..d - 1).rev() {
            let outer: usize = self.grid[..ax].iter().product();
            let inner: usize = self.kept[ax + 1..].iter().product();
            ws.pong.clear();
            ws.pong
                .resize(outer * self.kept[ax] * inner, Complex::default());
            axis_fft(
                &ws.ping,
                outer,
                inner,
                &self.identity[ax],
                &self.bins[ax],
                T::one(),
                &mut ws.pong,
                &self.plans[ax],
                &mut ws.work,
                &mut ws.scratch,
            );
            std::mem::swap(&mut ws.ping, &mut ws.pong);
        }
        out.copy_from_slice(&ws.ping);
    }

    /// Inverse transform of consecutive fields' kept modes `spec`
    /// (`modes()` values each) onto the grid: `out` (`points()` values per
    /// field, uninitialised or not: every value is written). Needs a plan
    /// built with `FftDirection::Inverse`.
    pub(crate) fn synthesis(
        &self,
        spec: &[Complex<T>],
        out: &mut [MaybeUninit<T>],
        ws: &mut Workspace<T>,
    ) {
        if self.grid.len() == 1 {
            if let Some(rows) = &self.last_rows {
                return rows.synthesise(spec, &self.last_weights, out);
            }
            // As in `analysis`: two 1D fields per complex FFT.
            c2r_rows(
                spec,
                &self.last_weights,
                out,
                &self.plans[0],
                &mut ws.work,
                &mut ws.scratch,
            );
            return;
        }
        let (points, modes) = (self.points(), self.modes());
        for (s, field) in spec.chunks_exact(modes).zip(out.chunks_exact_mut(points)) {
            self.synthesise_field(s, field, ws);
        }
    }

    /// [`Self::synthesis`] of one field on a grid of two or more axes.
    fn synthesise_field(
        &self,
        spec: &[Complex<T>],
        out: &mut [MaybeUninit<T>],
        ws: &mut Workspace<T>,
    ) {
        let d = self.grid.len();
        ws.ping.clear();
        ws.ping.extend_from_slice(spec);
        // Axes from the first on: the buffer is [grid[..ax], kept[ax..]] and
        // grows at every step, so the cheap axes come first.
        for ax in 0..d - 1 {
            let outer: usize = self.grid[..ax].iter().product();
            let inner: usize = self.kept[ax + 1..].iter().product();
            ws.pong.clear();
            ws.pong
                .resize(outer * self.grid[ax] * inner, Complex::default());
            axis_fft(
                &ws.ping,
                outer,
                inner,
                &self.bins[ax],
                &self.identity[ax],
                T::one(),
                &mut ws.pong,
                &self.plans[ax],
                &mut ws.work,
                &mut ws.scratch,
            );
            std::mem::swap(&mut ws.ping, &mut ws.pong);
        }
        match &self.last_rows {
            Some(last) => last.synthesise(&ws.ping, &self.last_weights, out),
            None => c2r_rows(
                &ws.ping,
                &self.last_weights,
                out,
                &self.plans[d - 1],
                &mut ws.work,
                &mut ws.scratch,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dft(x: &[Complex<f64>], sign: f64) -> Vec<Complex<f64>> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .map(|(t, &v)| {
                        let th = sign * 2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                        v * Complex::new(th.cos(), th.sin())
                    })
                    .sum()
            })
            .collect()
    }

    fn lcg(seed: u64, len: usize) -> Vec<f64> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn rfft_rows_matches_naive_dft_odd_row_count() {
        for n in [1usize, 2, 7, 16, 33] {
            let rows = 3;
            let x = lcg(n as u64, rows * n);
            let keep = n / 2 + 1;
            let weights = vec![1.0; keep];
            let mut out = vec![Complex::default(); rows * keep];
            let plan = Plan::new(n, FftDirection::Forward);
            rfft_rows(
                &x,
                &weights,
                &mut out,
                &plan,
                &mut Vec::new(),
                &mut Vec::new(),
            );
            for r in 0..rows {
                let row: Vec<_> = x[r * n..(r + 1) * n]
                    .iter()
                    .map(|&v| Complex::new(v, 0.0))
                    .collect();
                let want = naive_dft(&row, -1.0);
                for k in 0..keep {
                    assert!(
                        (out[r * keep + k] - want[k]).norm() < 1e-12,
                        "n={n} r={r} k={k}"
                    );
                }
            }
        }
    }

    #[test]
    fn c2r_rows_matches_naive_sum() {
        for n in [1usize, 2, 7, 16, 33] {
            let rows = 3;
            let keep = n / 2 + 1;
            let raw = lcg(100 + n as u64, 2 * rows * keep);
            let spec: Vec<_> = raw.chunks(2).map(|c| Complex::new(c[0], c[1])).collect();
            let weights: Vec<f64> = (0..keep).map(|k| 1.0 + k as f64).collect();
            let mut out = vec![MaybeUninit::new(0.0); rows * n];
            let plan = Plan::new(n, FftDirection::Inverse);
            c2r_rows(
                &spec,
                &weights,
                &mut out,
                &plan,
                &mut Vec::new(),
                &mut Vec::new(),
            );
            for r in 0..rows {
                for t in 0..n {
                    let want: f64 = (0..keep)
                        .map(|k| {
                            let th = 2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                            (spec[r * keep + k] * weights[k] * Complex::new(th.cos(), th.sin())).re
                        })
                        .sum();
                    // SAFETY: the buffer was initialised before the call.
                    let got = unsafe { out[r * n + t].assume_init() };
                    assert!((got - want).abs() < 1e-12, "n={n} r={r} t={t}");
                }
            }
        }
    }
}
