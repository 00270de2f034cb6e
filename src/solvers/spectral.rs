//! Shared pseudo-spectral machinery of the periodic solvers: FFT plans with a
//! matched normalisation, angular wavenumbers, the 2/3-rule mask, and the
//! integrating-factor RK4 step used by the 1D time-dependent solvers.
use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::ops::Range;
use std::sync::Arc;

/// Forward/inverse FFT of one length with scratch space; the inverse divides
/// by `n`, so `inverse(forward(u)) == u`.
pub(crate) struct Fft1d {
    n: usize,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
    scratch: Vec<Complex64>,
}

impl Fft1d {
    pub(crate) fn new(n: usize) -> Self {
        let mut planner = FftPlanner::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let len = forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len());
        Self {
            n,
            forward,
            inverse,
            scratch: vec![Complex64::default(); len],
        }
    }

    /// In-place unnormalised forward transform of every length-`n` row.
    pub(crate) fn forward(&mut self, data: &mut [Complex64]) {
        self.forward.process_with_scratch(data, &mut self.scratch);
    }

    /// In-place inverse transform of every length-`n` row, divided by `n`.
    pub(crate) fn inverse(&mut self, data: &mut [Complex64]) {
        self.inverse_unnormalised(data);
        let scale = 1.0 / self.n as f64;
        data.iter_mut().for_each(|z| *z *= scale);
    }

    /// In-place inverse transform without the 1/n, for callers that fold
    /// it into a pass of their own.
    pub(crate) fn inverse_unnormalised(&mut self, data: &mut [Complex64]) {
        self.inverse.process_with_scratch(data, &mut self.scratch);
    }
}

/// FFT of real data of even length n through one complex FFT of length
/// n/2: the even samples go in the real part and the odd ones in the
/// imaginary part, and the two half-length spectra are separated with the
/// twiddles e^{−2πik/n}. The spectrum holds the n/2 + 1 non-negative
/// frequencies (the rest follow by Hermitian symmetry), which halves both
/// the transform and the pointwise work of the 1D solvers.
///
/// The packed variants let a pointwise map run on the half-length buffer
/// itself (x_{2j} + i·x_{2j+1}) between an inverse and a forward transform,
/// and accept or produce only the leading modes: the dealiased solvers keep
/// the modes below n/3, and everything above stays zero.
pub(crate) struct RealFft {
    half: Fft1d,
    /// (1 − i t_k)/2 and (1 + i t_k)/2 with t_k = e^{−2πik/n}: the forward
    /// transform's X_k = C_k Z_k + D_k conj(Z_{n/2−k}).
    forward_factors: Vec<(Complex64, Complex64)>,
    /// (1 + i conj t_k)/n and (1 − i conj t_k)/n: the inverse's
    /// Z_k = A_k X_k + B_k conj(X_{n/2−k}), its 1/n folded in.
    inverse_factors: Vec<(Complex64, Complex64)>,
    buffer: Vec<Complex64>,
}

impl RealFft {
    /// A transform of even length `n`.
    pub(crate) fn new(n: usize) -> Self {
        let m = n / 2;
        let twiddle = (0..m)
            .map(|k| Complex64::from_polar(1.0, -std::f64::consts::TAU * k as f64 / n as f64));
        let i = Complex64::new(0.0, 1.0);
        // E and O are the unnormalised length-n/2 spectra of the even and
        // odd samples; the ½ of their separation and the 1/(n/2) of the
        // inverse make the 1/n.
        let scale = 0.5 / m as f64;
        Self {
            half: Fft1d::new(m),
            forward_factors: twiddle
                .clone()
                .map(|t| (0.5 * (1.0 - i * t), 0.5 * (1.0 + i * t)))
                .collect(),
            inverse_factors: twiddle
                .map(|t| (scale * (1.0 + i * t.conj()), scale * (1.0 - i * t.conj())))
                .collect(),
            buffer: vec![Complex64::default(); m],
        }
    }

    /// Unnormalised spectrum X_k, k = 0..=n/2, of the real `x` into `out`.
    pub(crate) fn forward(&mut self, x: &[f64], out: &mut [Complex64]) {
        for (z, pair) in self.buffer.iter_mut().zip(x.chunks_exact(2)) {
            *z = Complex64::new(pair[0], pair[1]);
        }
        self.forward_packed(out, None);
    }

    /// Unnormalised spectrum X_k, k = 0..out.len() (at most n/2 + 1), of
    /// the real samples packed in the buffer (x_{2j} + i·x_{2j+1}), each
    /// mode multiplied by `symbol[k]` when a symbol is given.
    #[inline(always)]
    pub(crate) fn forward_packed(&mut self, out: &mut [Complex64], symbol: Option<&[Complex64]>) {
        let m = self.buffer.len();
        self.half.forward(&mut self.buffer);
        let buffer = &self.buffer;
        // Z = E + iO with E, O the spectra of the even and odd samples, and
        // conj(Z_{m−k}) = E_k − iO_k; k = 0 pairs with itself.
        let z0 = buffer[0];
        if let Some(first) = out.first_mut() {
            *first = Complex64::new(z0.re + z0.im, 0.0);
        }
        if let Some(nyquist) = out.get_mut(m) {
            *nyquist = Complex64::new(z0.re - z0.im, 0.0);
        }
        let inner = out.len().min(m);
        let pairs = buffer[1..].iter().zip(buffer[1..].iter().rev());
        let terms = out
            .get_mut(1..inner)
            .unwrap_or_default()
            .iter_mut()
            .zip(&self.forward_factors[1..])
            .zip(pairs);
        for ((o, &(c, d)), (&z, &mirror)) in terms {
            *o = c * z + d * mirror.conj();
        }
        if let Some(symbol) = symbol {
            out.iter_mut().zip(symbol).for_each(|(o, s)| *o *= s);
        }
    }

    /// Real samples x of the spectrum `spectrum` (k = 0..=n/2), divided by
    /// n so that `inverse(forward(x)) == x`.
    pub(crate) fn inverse(&mut self, spectrum: &[Complex64], x: &mut [f64]) {
        let packed = self.inverse_packed(spectrum);
        for (pair, z) in x.chunks_exact_mut(2).zip(packed.iter()) {
            pair[0] = z.re;
            pair[1] = z.im;
        }
    }

    /// The real samples of the spectrum `spectrum` (its leading modes, at
    /// most n/2 + 1; the rest are zero), divided by n and packed as
    /// x_{2j} + i·x_{2j+1} in the buffer, which is returned for a pointwise
    /// pass before [`Self::forward_packed`].
    #[inline(always)]
    pub(crate) fn inverse_packed(&mut self, spectrum: &[Complex64]) -> &mut [Complex64] {
        let m = self.buffer.len();
        let given = spectrum.len().min(m);
        // Z_k = A_k X_k + B_k conj(X_{m−k}) with X_j = 0 for j beyond the
        // given modes: the first term for k < given, the second for
        // m − k < spectrum.len().
        let (head, tail) = self.buffer.split_at_mut(given);
        for ((z, &x), &(a, _)) in head.iter_mut().zip(spectrum).zip(&self.inverse_factors) {
            *z = a * x;
        }
        tail.fill(Complex64::default());
        let count = spectrum.len().saturating_sub(1).min(m);
        let mirrored = spectrum.get(1..1 + count).unwrap_or(&[]).iter().rev();
        let targets = self.buffer[m - count..]
            .iter_mut()
            .zip(&self.inverse_factors[m - count..]);
        for ((z, &(_, b)), &x) in targets.zip(mirrored) {
            *z += b * x.conj();
        }
        self.half.inverse_unnormalised(&mut self.buffer);
        &mut self.buffer
    }
}

/// Angular wavenumbers 2πk of the half spectrum k = 0..=n/2 on the unit
/// period, for first derivatives (the Nyquist entry is 0).
pub(crate) fn half_derivative_wavenumbers(n: usize) -> Vec<f64> {
    (0..=n / 2)
        .map(|k| {
            if k == n / 2 {
                0.0
            } else {
                std::f64::consts::TAU * k as f64
            }
        })
        .collect()
}

/// (2πk)² for the half spectrum k = 0..=n/2 on the unit period.
pub(crate) fn half_squared_wavenumbers(n: usize) -> Vec<f64> {
    (0..=n / 2)
        .map(|k| (std::f64::consts::TAU * k as f64).powi(2))
        .collect()
}

/// The 2/3 rule on the half spectrum: the number of kept modes k < n/3.
pub(crate) fn half_dealias_modes(n: usize) -> usize {
    (n - 1) / 3 + 1
}

/// Pseudo-spectral evolution of u_t = d·u_xx + S\[g(u)\] on the periodic unit
/// interval, where S is a Fourier multiplier (−ik·, i.e. −∂x, for Burgers'
/// flux; 1 for a reaction term) and g acts pointwise.
///
/// The state is the half spectrum restricted to the 2/3-rule modes k < n/3
/// (the initial condition is projected onto them), so the quadratic g's
/// aliases fall only on discarded modes; only those modes are stored and
/// stepped. Diffusion is integrated exactly, the rest by [`IfRk4`]; each
/// output interval is split into equal steps chosen from the interval's
/// starting max|u|.
pub(crate) struct Evolution {
    n: usize,
    fft: RealFft,
    integrator: IfRk4,
    v: Vec<Complex64>,
}

impl Evolution {
    /// Starts from the grid values `u0` (even length ≥ 4) with diffusion `d`.
    pub(crate) fn new(u0: &[f64], d: f64) -> Result<Self, super::SolverError> {
        let n = u0.len();
        super::ensure(
            n >= 4 && n.is_multiple_of(2),
            "nx",
            n,
            "must be even and at least 4",
        )?;
        let mut fft = RealFft::new(n);
        let kept = half_dealias_modes(n);
        let mut v = vec![Complex64::default(); kept];
        fft.forward(u0, &mut v);
        let linear = half_squared_wavenumbers(n)
            .iter()
            .take(kept)
            .map(|k2| -d * k2)
            .collect();
        Ok(Self {
            n,
            fft,
            integrator: IfRk4::new(linear),
            v,
        })
    }

    /// Returns the frames at t_j = j·tmax/nt, row-major \[nt + 1, n\];
    /// `steps(max|u|)` gives the number of steps of each output interval.
    /// `symbol` holds S for (at least) the kept modes. Fails with
    /// [`super::SolverError::Diverged`] (sample 0) on a non-finite frame.
    pub(crate) fn run(
        self,
        tmax: f64,
        nt: usize,
        g: impl Fn(f64) -> f64,
        symbol: &[Complex64],
        steps: impl Fn(f64) -> usize,
    ) -> Result<Vec<f64>, super::SolverError> {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU supports the features `run_avx2` is compiled for.
            return unsafe { self.run_avx2(tmax, nt, g, symbol, steps) };
        }
        self.run_body(tmax, nt, g, symbol, steps)
    }

    /// [`Self::run`] compiled for AVX2 + FMA: the per-mode complex
    /// arithmetic of the real-FFT split and of the RK4 stages, inlined here,
    /// then takes half the instructions of the baseline build (perf had
    /// those loops at half the Burgers solve).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(
        self,
        tmax: f64,
        nt: usize,
        g: impl Fn(f64) -> f64,
        symbol: &[Complex64],
        steps: impl Fn(f64) -> usize,
    ) -> Result<Vec<f64>, super::SolverError> {
        self.run_body(tmax, nt, g, symbol, steps)
    }

    #[inline(always)]
    fn run_body(
        mut self,
        tmax: f64,
        nt: usize,
        g: impl Fn(f64) -> f64,
        symbol: &[Complex64],
        steps: impl Fn(f64) -> usize,
    ) -> Result<Vec<f64>, super::SolverError> {
        let n = self.n;
        let mut nonlinear = PseudoSpectral {
            fft: &mut self.fft,
            g,
            symbol,
        };
        let interval = tmax / nt as f64;
        let mut frames = vec![0.0; (nt + 1) * n];
        let mut frame_fft = RealFft::new(n);
        for j in 0..=nt {
            let frame = &mut frames[j * n..(j + 1) * n];
            frame_fft.inverse(&self.v, frame);
            if !frame.iter().all(|u| u.is_finite()) {
                return Err(super::SolverError::Diverged {
                    sample: 0,
                    time: j as f64 * interval,
                });
            }
            if j == nt {
                break;
            }
            let count = steps(frame.iter().map(|u| u.abs()).fold(0.0, f64::max)).max(1);
            let dt = interval / count as f64;
            for _ in 0..count {
                self.integrator.step(&mut self.v, dt, &mut nonlinear);
            }
        }
        Ok(frames)
    }
}

/// The N(v) of [`IfRk4`]: writes the nonlinear term of the spectrum `v`
/// into `out`.
///
/// A trait with an always-inlined method rather than a closure, so that the
/// term compiles into its caller ([`Evolution::run`]'s AVX2 build), which a
/// closure, compiled on its own for the baseline target, would not.
pub(crate) trait NonlinearTerm {
    fn evaluate(&mut self, v: &[Complex64], out: &mut [Complex64]);
}

/// S\[g(u)\] pseudo-spectrally: u on the grid by the inverse FFT, g pointwise,
/// back by the forward FFT times the symbol S.
struct PseudoSpectral<'a, G> {
    fft: &'a mut RealFft,
    g: G,
    symbol: &'a [Complex64],
}

impl<G: Fn(f64) -> f64> NonlinearTerm for PseudoSpectral<'_, G> {
    #[inline(always)]
    fn evaluate(&mut self, v: &[Complex64], out: &mut [Complex64]) {
        let g = &self.g;
        // g acts on the packed samples in place: no unpacking to a grid.
        for z in self.fft.inverse_packed(v) {
            *z = Complex64::new(g(z.re), g(z.im));
        }
        self.fft.forward_packed(out, Some(self.symbol));
    }
}

/// 2D FFT of a row-major n×n array `[x][y]`: 1D transforms along rows, an
/// in-place transpose, rows again, so every 1D transform runs on contiguous
/// memory.
///
/// The spectrum is left transposed, `[k_y][k_x]`, which saves the second
/// transpose each way: every spectral-space operation of the solvers is
/// pointwise, so only the wavenumber tables need to know the layout.
pub(crate) struct Fft2d {
    n: usize,
    fft: Fft1d,
}

impl Fft2d {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            fft: Fft1d::new(n),
        }
    }

    /// In-place unnormalised forward transform, `[x][y]` → `[k_y][k_x]`
    /// (the solvers use [`DealiasedFft2d`]; tests read off full spectra).
    #[cfg(test)]
    pub(crate) fn forward(&mut self, data: &mut [Complex64]) {
        self.fft.forward(data);
        transpose_in_place(data, self.n);
        self.fft.forward(data);
    }

    /// In-place inverse transform without the 1/n², `[k_y][k_x]` → `[x][y]`.
    pub(crate) fn inverse_unnormalised(&mut self, data: &mut [Complex64]) {
        self.fft.inverse_unnormalised(data);
        transpose_in_place(data, self.n);
        self.fft.inverse_unnormalised(data);
    }
}

/// Side of the square tiles of [`transpose_in_place`]: 8 complex f64 are two
/// cache lines, so a pair of tiles stays in L1 while its elements are
/// swapped, where a row-by-column sweep of a 64×64 array (64 KiB) would not.
const TRANSPOSE_TILE: usize = 8;

fn transpose_in_place(data: &mut [Complex64], n: usize) {
    for bi in (0..n).step_by(TRANSPOSE_TILE) {
        for bj in (bi..n).step_by(TRANSPOSE_TILE) {
            for i in bi..(bi + TRANSPOSE_TILE).min(n) {
                let first = if bi == bj { i + 1 } else { bj };
                for j in first..(bj + TRANSPOSE_TILE).min(n) {
                    data.swap(i * n + j, j * n + i);
                }
            }
        }
    }
}

/// 2D FFT pair between an n×n grid `[x][y]` and its 2/3-rule modes, stored
/// compactly as an m×m array `[k_y][k_x]` (m modes kept per axis, in FFT
/// order 0, 1, …, K, −K, …, −1; see [`Self::kept_bins`]).
///
/// A dealiased pseudo-spectral solver only ever needs the kept modes, so
/// its pointwise spectral work shrinks to (2/3)² of the grid. The transforms
/// skip work the same way: the inverse transforms only the m nonzero rows in
/// its first pass, and the forward transform of a real grid packs pairs of
/// grid rows into one complex row and transforms only the m kept rows in its
/// second pass. Both transpose out of place, straight between the
/// compact and the full layouts.
pub(crate) struct DealiasedFft2d {
    n: usize,
    kept: Vec<usize>,
    /// The dropped bins, between the non-negative and the negative kept
    /// modes; its start is also the compact index of the first negative
    /// mode.
    gap: Range<usize>,
    fft: Fft1d,
    /// m rows of n: the first pass of the inverse, the second of the forward.
    rows: Vec<Complex64>,
    /// ⌈n/2⌉ rows of n: grid rows 2r and 2r + 1 as real and imaginary parts.
    pairs: Vec<Complex64>,
}

impl DealiasedFft2d {
    /// The transform pair of an n×n grid.
    pub(crate) fn new(n: usize) -> Self {
        let kept: Vec<usize> = dealias_mask(n)
            .iter()
            .enumerate()
            .filter(|(_, &keep)| keep)
            .map(|(bin, _)| bin)
            .collect();
        let positive = kept.iter().take_while(|&&bin| 2 * bin < n).count();
        Self {
            n,
            gap: positive..n - (kept.len() - positive),
            fft: Fft1d::new(n),
            rows: vec![Complex64::default(); kept.len() * n],
            pairs: vec![Complex64::default(); n.div_ceil(2) * n],
            kept,
        }
    }

    /// FFT bins (0..n) of the kept modes along either axis, in compact order.
    pub(crate) fn kept_bins(&self) -> &[usize] {
        &self.kept
    }

    /// Unnormalised inverse transform into the complex grid `grid` (n×n,
    /// `[x][y]`) of the compact spectrum `spectrum`, multiplied mode by mode
    /// by `symbol` when one is given.
    #[inline(always)]
    pub(crate) fn synthesise(
        &mut self,
        spectrum: &[Complex64],
        symbol: Option<&[Complex64]>,
        grid: &mut [Complex64],
    ) {
        let (n, m) = (self.n, self.kept.len());
        let gap = self.gap.clone();
        for (a, row) in self.rows.chunks_exact_mut(n).enumerate() {
            let coefficients = &spectrum[a * m..(a + 1) * m];
            // The kept bins of a row are two runs, [0, gap) and [gap.end, n),
            // matching the compact index runs [0, gap.start) and [gap.start, m).
            row[gap.clone()].fill(Complex64::default());
            let (low, high) = row.split_at_mut(gap.end);
            let runs = low[..gap.start].iter_mut().chain(high.iter_mut());
            match symbol {
                Some(symbol) => {
                    let factors = coefficients.iter().zip(&symbol[a * m..(a + 1) * m]);
                    for (o, (&c, &s)) in runs.zip(factors) {
                        *o = s * c;
                    }
                }
                None => {
                    for (o, &c) in runs.zip(coefficients) {
                        *o = c;
                    }
                }
            }
        }
        self.fft.inverse_unnormalised(&mut self.rows);
        // Transpose in strips of TRANSPOSE_TILE grid rows, so each read of
        // a first-pass row takes a whole cache line.
        for (strip, out) in grid.chunks_mut(TRANSPOSE_TILE * n).enumerate() {
            let x0 = strip * TRANSPOSE_TILE;
            for (row, &bin) in self.rows.chunks_exact(n).zip(&self.kept) {
                for (out_row, &value) in out.chunks_exact_mut(n).zip(&row[x0..]) {
                    out_row[bin] = value;
                }
            }
            for out_row in out.chunks_exact_mut(n) {
                out_row[gap.clone()].fill(Complex64::default());
            }
        }
        self.fft.inverse_unnormalised(grid);
    }

    /// Compact spectrum, times `scale`, of the real n×n grid `field`
    /// (`[x][y]`), into `out` (m×m).
    #[inline(always)]
    pub(crate) fn analyse(&mut self, field: &[f64], scale: f64, out: &mut [Complex64]) {
        let n = self.n;
        for (pair, rows) in self.pairs.chunks_exact_mut(n).zip(field.chunks(2 * n)) {
            let (even, odd) = rows.split_at(n);
            if odd.is_empty() {
                for (z, &re) in pair.iter_mut().zip(even) {
                    *z = Complex64::new(re, 0.0);
                }
            } else {
                for (z, (&re, &im)) in pair.iter_mut().zip(even.iter().zip(odd)) {
                    *z = Complex64::new(re, im);
                }
            }
        }
        self.fft.forward(&mut self.pairs);
        // A pair z = a + i·b of real rows has Z_k = A_k + i·B_k with A and B
        // Hermitian, so A_k = (Z_k + conj Z_{−k})/2 and
        // B_k = −i(Z_k − conj Z_{−k})/2.
        let minus_half_i = Complex64::new(0.0, -0.5);
        for (row, &bin) in self.rows.chunks_exact_mut(n).zip(&self.kept) {
            let mirror = (n - bin) % n;
            for (slot, pair) in row.chunks_mut(2).zip(self.pairs.chunks_exact(n)) {
                let (z, zm) = (pair[bin], pair[mirror].conj());
                slot[0] = 0.5 * (z + zm);
                if let Some(odd) = slot.get_mut(1) {
                    *odd = minus_half_i * (z - zm);
                }
            }
        }
        self.fft.forward(&mut self.rows);
        let (m, gap) = (self.kept.len(), self.gap.clone());
        for (row, out) in self.rows.chunks_exact(n).zip(out.chunks_exact_mut(m)) {
            let runs = row[..gap.start].iter().chain(&row[gap.end..]);
            for (o, &value) in out.iter_mut().zip(runs) {
                *o = scale * value;
            }
        }
    }
}

/// Signed integer wavenumber of FFT bin `j` of `n` (bin n/2 counts as +n/2).
pub(crate) fn signed_mode(j: usize, n: usize) -> i64 {
    if j <= n / 2 {
        j as i64
    } else {
        j as i64 - n as i64
    }
}

/// Angular wavenumbers 2πk/L of a length-`n` FFT on a period `length`, for
/// first derivatives: the Nyquist bin of an even `n` gets 0, because its
/// derivative is not representable by a real field on the grid.
pub(crate) fn derivative_wavenumbers(n: usize, length: f64) -> Vec<f64> {
    (0..n)
        .map(|j| {
            if n.is_multiple_of(2) && j == n / 2 {
                0.0
            } else {
                std::f64::consts::TAU * signed_mode(j, n) as f64 / length
            }
        })
        .collect()
}

/// The 2/3 rule: keep bins with |k| < n/3 (Orszag), so quadratic products of
/// kept modes alias only into discarded ones.
pub(crate) fn dealias_mask(n: usize) -> Vec<bool> {
    (0..n)
        .map(|j| 3 * signed_mode(j, n).unsigned_abs() < n as u64)
        .collect()
}

/// Integrating-factor RK4 for v' = L v + N(v) with diagonal real L.
///
/// The linear (stiff, viscous) part is integrated exactly through e^{L dt},
/// so the step is limited only by the nonlinear term; the scheme is
/// fourth-order in dt (Trefethen, *Spectral Methods in MATLAB*, p27).
pub(crate) struct IfRk4 {
    linear: Vec<f64>,
    half: Vec<f64>,
    full: Vec<f64>,
    dt: f64,
    k1: Vec<Complex64>,
    k2: Vec<Complex64>,
    k3: Vec<Complex64>,
    k4: Vec<Complex64>,
    stage: Vec<Complex64>,
}

impl IfRk4 {
    /// An integrator for the linear symbol `linear` (one entry per mode).
    pub(crate) fn new(linear: Vec<f64>) -> Self {
        let n = linear.len();
        let zeros = vec![Complex64::default(); n];
        Self {
            half: vec![1.0; n],
            full: vec![1.0; n],
            dt: 0.0,
            linear,
            k1: zeros.clone(),
            k2: zeros.clone(),
            k3: zeros.clone(),
            k4: zeros.clone(),
            stage: zeros,
        }
    }

    /// Advances `v` by `dt`; `nonlinear.evaluate(v, out)` writes N(v) into
    /// `out`.
    #[inline(always)]
    pub(crate) fn step(
        &mut self,
        v: &mut [Complex64],
        dt: f64,
        nonlinear: &mut impl NonlinearTerm,
    ) {
        if dt != self.dt {
            // The exponentials change only with dt, which is constant within
            // an output interval, so they are cached across steps.
            for ((h, f), l) in self.half.iter_mut().zip(&mut self.full).zip(&self.linear) {
                *h = (0.5 * dt * l).exp();
                *f = (dt * l).exp();
            }
            self.dt = dt;
        }
        // Zipped iterators rather than indexing: no bounds checks, so the
        // pointwise stages vectorise.
        let (e, e2) = (&self.half, &self.full);
        let (half_dt, sixth_dt) = (0.5 * dt, dt / 6.0);
        nonlinear.evaluate(v, &mut self.k1);
        for ((s, &v), (&e, &k1)) in self.stage.iter_mut().zip(&*v).zip(e.iter().zip(&self.k1)) {
            *s = e * (v + half_dt * k1);
        }
        nonlinear.evaluate(&self.stage, &mut self.k2);
        for ((s, &v), (&e, &k2)) in self.stage.iter_mut().zip(&*v).zip(e.iter().zip(&self.k2)) {
            *s = e * v + half_dt * k2;
        }
        nonlinear.evaluate(&self.stage, &mut self.k3);
        let factors = e.iter().zip(e2);
        for ((s, &v), ((&e, &e2), &k3)) in self.stage.iter_mut().zip(&*v).zip(factors.zip(&self.k3))
        {
            *s = e2 * v + dt * e * k3;
        }
        nonlinear.evaluate(&self.stage, &mut self.k4);
        let stages = self
            .k1
            .iter()
            .zip(&self.k2)
            .zip(self.k3.iter().zip(&self.k4));
        for ((v, (&e, &e2)), ((&k1, &k2), (&k3, &k4))) in
            v.iter_mut().zip(e.iter().zip(e2)).zip(stages)
        {
            *v = e2 * *v + sixth_dt * (e2 * k1 + 2.0 * e * (k2 + k3) + k4);
        }
    }
}

/// Number of equal sub-steps that split `interval` into steps of at most
/// `max_dt` (at least one).
pub(crate) fn substeps(interval: f64, max_dt: f64) -> usize {
    ((interval / max_dt).ceil() as usize).max(1)
}

/// Cell-centred coordinates (i + ½)·length/n, as PDEBench stores them.
pub(crate) fn cell_centres(n: usize, length: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (i as f64 + 0.5) * length / n as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_derivative() {
        let n = 32;
        let mut fft = Fft1d::new(n);
        let x = cell_centres(n, 1.0);
        let mut u: Vec<Complex64> = x
            .iter()
            .map(|&x| Complex64::new((std::f64::consts::TAU * 3.0 * x).sin(), 0.0))
            .collect();
        fft.forward(&mut u);
        let k = derivative_wavenumbers(n, 1.0);
        u.iter_mut()
            .zip(&k)
            .for_each(|(z, &k)| *z *= Complex64::new(0.0, k));
        fft.inverse(&mut u);
        for (z, x) in u.iter().zip(&x) {
            let exact = std::f64::consts::TAU * 3.0 * (std::f64::consts::TAU * 3.0 * x).cos();
            assert!((z.re - exact).abs() < 1e-11 && z.im.abs() < 1e-11);
        }
    }

    #[test]
    fn real_fft_matches_complex_fft() {
        let n = 24;
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * i) % 7) as f64 - 0.3 * i as f64)
            .collect();
        let mut full: Vec<Complex64> = x.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        Fft1d::new(n).forward(&mut full);
        let mut real = RealFft::new(n);
        let mut half = vec![Complex64::default(); n / 2 + 1];
        real.forward(&x, &mut half);
        for (a, b) in half.iter().zip(&full) {
            assert!((a - b).norm() < 1e-12, "{a} vs {b}");
        }
        let mut back = vec![0.0; n];
        real.inverse(&half, &mut back);
        for (a, b) in back.iter().zip(&x) {
            assert!((a - b).abs() < 1e-13);
        }
    }

    #[test]
    fn real_fft_takes_and_gives_leading_modes() {
        let n = 24;
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 5) % 9) as f64 - 0.1 * i as f64)
            .collect();
        let mut real = RealFft::new(n);
        let mut full = vec![Complex64::default(); n / 2 + 1];
        real.forward(&x, &mut full);
        for given in [0, 1, 5, 7, 12, 13] {
            // A truncated spectrum is its zero-padded self.
            let mut padded = full.clone();
            padded[given..].fill(Complex64::default());
            let (mut want, mut got) = (vec![0.0; n], vec![0.0; n]);
            real.inverse(&padded, &mut want);
            real.inverse(&full[..given], &mut got);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-13, "{given} modes");
            }
            // Leading modes only, times a symbol.
            let symbol: Vec<Complex64> =
                (0..given).map(|k| Complex64::new(0.0, k as f64)).collect();
            let packed = real.inverse_packed(&full);
            packed.copy_from_slice(
                &x.chunks_exact(2)
                    .map(|p| Complex64::new(p[0], p[1]))
                    .collect::<Vec<_>>(),
            );
            let mut leading = vec![Complex64::default(); given];
            real.forward_packed(&mut leading, Some(&symbol));
            for ((a, b), s) in leading.iter().zip(&full).zip(&symbol) {
                assert!((a - s * b).norm() < 1e-12, "{given} modes");
            }
        }
    }

    #[test]
    fn tiled_transpose_matches_the_definition() {
        for n in [5, 8, 13, 20] {
            let original: Vec<Complex64> = (0..n * n)
                .map(|p| Complex64::new(p as f64, -(p as f64)))
                .collect();
            let mut data = original.clone();
            transpose_in_place(&mut data, n);
            for (i, j) in (0..n).flat_map(|i| (0..n).map(move |j| (i, j))) {
                assert_eq!(data[i * n + j], original[j * n + i], "n = {n}");
            }
        }
    }

    /// A real n×n field and its full spectrum `[k_y][k_x]`.
    fn field_and_spectrum(n: usize) -> (Vec<f64>, Vec<Complex64>) {
        let field: Vec<f64> = (0..n * n)
            .map(|p| ((p * p) % 11) as f64 - 0.37 * (p % n) as f64)
            .collect();
        let mut full: Vec<Complex64> = field.iter().map(|&v| Complex64::new(v, 0.0)).collect();
        Fft2d::new(n).forward(&mut full);
        (field, full)
    }

    #[test]
    fn dealiased_analysis_is_the_kept_part_of_the_full_spectrum() {
        for n in [6, 12, 13, 16] {
            let (field, full) = field_and_spectrum(n);
            let mut fft = DealiasedFft2d::new(n);
            let bins = fft.kept_bins().to_vec();
            let mut compact = vec![Complex64::default(); bins.len() * bins.len()];
            fft.analyse(&field, 0.5, &mut compact);
            let pairs = bins.iter().flat_map(|&r| bins.iter().map(move |&c| (r, c)));
            for (&got, (row, column)) in compact.iter().zip(pairs) {
                let want = 0.5 * full[row * n + column];
                assert!((got - want).norm() < 1e-11, "n = {n}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn dealiased_synthesis_inverts_analysis_of_band_limited_fields() {
        for n in [6, 12, 13, 16] {
            let (_, mut full) = field_and_spectrum(n);
            let mut fft = DealiasedFft2d::new(n);
            let bins = fft.kept_bins().to_vec();
            // Band-limit the field: drop every mode outside the kept square.
            let keep = dealias_mask(n);
            for (p, z) in full.iter_mut().enumerate() {
                if !(keep[p / n] && keep[p % n]) {
                    *z = Complex64::default();
                }
            }
            let mut grid = full.clone();
            Fft2d::new(n).inverse_unnormalised(&mut grid);
            let limited: Vec<f64> = grid.iter().map(|z| z.re / (n * n) as f64).collect();
            let mut compact = vec![Complex64::default(); bins.len() * bins.len()];
            fft.analyse(&limited, 1.0, &mut compact);
            // Synthesis with the symbol i applies i to every mode.
            let symbol = vec![Complex64::new(0.0, 1.0); compact.len()];
            let mut back = vec![Complex64::default(); n * n];
            fft.synthesise(&compact, Some(&symbol), &mut back);
            for (b, &l) in back.iter().zip(&limited) {
                let b = *b / (n * n) as f64;
                assert!(b.re.abs() < 1e-11 && (b.im - l).abs() < 1e-11, "n = {n}");
            }
        }
    }

    #[test]
    fn dealias_keeps_two_thirds() {
        let kept = dealias_mask(12).iter().filter(|&&k| k).count();
        // |k| < 4: k = 0, ±1, ±2, ±3.
        assert_eq!(kept, 7);
    }
}
