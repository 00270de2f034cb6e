//! Shared pseudo-spectral machinery of the periodic solvers: FFT plans with a
//! matched normalisation (`fft1d`, `fft2d`), angular wavenumbers and the
//! 2/3-rule mask (here), and the integrating-factor RK4 evolution used by the
//! 1D time-dependent solvers (`evolution`).
mod evolution;
mod fft1d;
mod fft2d;

pub(crate) use evolution::Evolution;
pub(crate) use fft1d::{Fft1d, RealFft};
pub(crate) use fft2d::{DealiasedFft2d, Fft2d};

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
    use rustfft::num_complex::Complex64;

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
    fn dealias_keeps_two_thirds() {
        let kept = dealias_mask(12).iter().filter(|&&k| k).count();
        // |k| < 4: k = 0, ±1, ±2, ±3.
        assert_eq!(kept, 7);
    }
}
