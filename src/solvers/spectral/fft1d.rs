//! FFT plans of one dimension with a matched normalisation: a complex
//! transform, and a real one of even length through a complex one of half
//! the length.
use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
