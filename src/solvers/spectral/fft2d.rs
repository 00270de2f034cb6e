//! FFT plans of a square 2D grid: the full transform, and the pair between a
//! grid and its 2/3-rule modes that the dealiased 2D solvers use.
use super::{dealias_mask, Fft1d};
use rustfft::num_complex::Complex64;
use std::ops::Range;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
