//! Mode bookkeeping: which Fourier modes a spectral convolution keeps, where
//! they sit in an FFT of a given length, and where their weights sit.
//!
//! On every axis but the last, `m` requested modes keep the frequencies
//! `-m <= k < m`: the first `m` and the last `m` FFT bins, as in the original
//! FNO (neuraloperator counts these as `n_modes = 2m`). On the last axis, which
//! is transformed by a real FFT, they keep `0 <= k < m`; the negative
//! frequencies there are the complex conjugates of the positive ones.
//!
//! # Shapes
//!
//! The weights of `d` spatial axes with requested modes `m_1..m_d` have the
//! spatial shape `[2 m_1, ..., 2 m_{d-1}, m_d]`. Index `j` on a non-last axis
//! holds frequency `j` for `j < m` and `j - 2m` otherwise.
//!
//! # Clipping
//!
//! A grid of `N` points holds the frequencies `-N/2 <= k < N/2` (integer
//! division) on a complex axis and `0 <= k <= N/2` on the real axis. When the
//! input or the output grid is too small for the requested modes, the modes
//! are clipped to what both grids hold, and the weights of the dropped
//! frequencies are simply not used (their gradient is zero).
//! [`crate::spectral::SpectralConv::clipped_modes`] reports this to the caller.

/// The modes a spectral convolution keeps on one (input, output) grid pair,
/// when they differ from the requested ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeClip {
    /// The modes per axis in the layer's config.
    pub requested: Vec<usize>,
    /// The modes per axis actually used on these grids.
    pub effective: Vec<usize>,
    /// The input grid.
    pub in_grid: Vec<usize>,
    /// The output grid.
    pub out_grid: Vec<usize>,
}

impl std::fmt::Display for ModeClip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Fourier modes clipped from {:?} to {:?}: the grid {:?} -> {:?} (with padding) is too small to hold them",
            self.requested, self.effective, self.in_grid, self.out_grid
        )
    }
}

/// The number of modes each axis keeps on the given grids: the requested
/// count, clipped to what both grids hold (see "Clipping" in the module doc).
pub(crate) fn effective_modes(
    requested: &[usize],
    in_grid: &[usize],
    out_grid: &[usize],
) -> Vec<usize> {
    let last = requested.len().saturating_sub(1);
    requested
        .iter()
        .zip(in_grid.iter().zip(out_grid))
        .enumerate()
        .map(|(axis, (&m, (&n_in, &n_out)))| {
            if axis == last {
                m.min(n_in / 2 + 1).min(n_out / 2 + 1)
            } else {
                m.min(n_in / 2).min(n_out / 2)
            }
        })
        .collect()
}

/// The kept modes of every axis on one grid pair, with the index maps the
/// kernels need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModeSet {
    /// Requested modes per axis (the weights' shape follows these).
    pub requested: Vec<usize>,
    /// Effective modes per axis on this grid pair.
    pub effective: Vec<usize>,
    /// Signed frequency of each kept index, per axis.
    pub freqs: Vec<Vec<isize>>,
}

impl ModeSet {
    /// The modes kept from `requested` on the grids `in_grid -> out_grid`
    /// (all three of the same length, checked by the caller).
    pub(crate) fn new(requested: &[usize], in_grid: &[usize], out_grid: &[usize]) -> Self {
        let effective = effective_modes(requested, in_grid, out_grid);
        let last = effective.len().saturating_sub(1);
        let freqs = effective
            .iter()
            .enumerate()
            .map(|(axis, &m)| {
                let m = m as isize;
                if axis == last {
                    (0..m).collect()
                } else {
                    (0..2 * m)
                        .map(|j| if j < m { j } else { j - 2 * m })
                        .collect()
                }
            })
            .collect();
        Self {
            requested: requested.to_vec(),
            effective,
            freqs,
        }
    }

    /// Number of spatial axes.
    pub(crate) fn rank(&self) -> usize {
        self.requested.len()
    }

    /// Kept indices per axis (`2m` on complex axes, `m` on the last).
    pub(crate) fn kept(&self) -> Vec<usize> {
        self.freqs.iter().map(Vec::len).collect()
    }

    /// Total number of kept modes.
    pub(crate) fn kept_total(&self) -> usize {
        self.freqs.iter().map(Vec::len).product()
    }

    /// FFT bin of each kept index of `axis` on an axis of `n` points.
    pub(crate) fn bins(&self, axis: usize, n: usize) -> Vec<usize> {
        let n = n as isize;
        self.freqs[axis]
            .iter()
            .map(|&k| k.rem_euclid(n) as usize)
            .collect()
    }

    /// Spatial shape of the weights: `[2 m_1, ..., 2 m_{d-1}, m_d]`.
    pub(crate) fn weight_shape(&self) -> Vec<usize> {
        weight_spatial_shape(&self.requested)
    }

    /// For each kept mode (row-major over the kept indices), its flat index
    /// in the spatial block of the weights.
    pub(crate) fn weight_index(&self) -> Vec<usize> {
        let shape = self.weight_shape();
        let per_axis: Vec<Vec<usize>> = self
            .freqs
            .iter()
            .zip(&shape)
            .map(|(freqs, &len)| {
                let len = len as isize;
                freqs.iter().map(|&k| k.rem_euclid(len) as usize).collect()
            })
            .collect();
        let mut out = vec![0usize];
        for (idx, &len) in per_axis.iter().zip(&shape) {
            out = out
                .iter()
                .flat_map(|&base| idx.iter().map(move |&j| base * len + j))
                .collect();
        }
        out
    }
}

/// Spatial shape of the weights for the requested modes.
pub(crate) fn weight_spatial_shape(requested: &[usize]) -> Vec<usize> {
    let last = requested.len().saturating_sub(1);
    requested
        .iter()
        .enumerate()
        .map(|(axis, &m)| if axis == last { m } else { 2 * m })
        .collect()
}

/// Coefficient of bin `k` in a real inverse transform onto `n` points:
/// 1 for the zero bin and the Nyquist bin (`2k = n`), 2 for the others,
/// which stand for themselves and their conjugate partner `n - k`.
pub(crate) fn hermitian_coefficient(k: usize, n: usize) -> f64 {
    if k == 0 || 2 * k == n {
        1.0
    } else {
        2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_follows_both_grids() {
        assert_eq!(
            effective_modes(&[12, 12], &[64, 64], &[64, 64]),
            vec![12, 12]
        );
        assert_eq!(effective_modes(&[12, 12], &[16, 16], &[64, 64]), vec![8, 9]);
        assert_eq!(
            effective_modes(&[12, 12], &[64, 64], &[15, 20]),
            vec![7, 11]
        );
    }

    #[test]
    fn frequencies_bins_and_weight_indices() {
        let set = ModeSet::new(&[3, 2], &[5, 8], &[8, 8]);
        // Axis 0 clipped to 2: frequencies 0, 1, -2, -1.
        assert_eq!(set.freqs[0], vec![0, 1, -2, -1]);
        assert_eq!(set.bins(0, 5), vec![0, 1, 3, 4]);
        assert_eq!(set.bins(0, 8), vec![0, 1, 6, 7]);
        assert_eq!(set.kept(), vec![4, 2]);
        // Weights are [6, 2]; -2 -> row 4, -1 -> row 5.
        assert_eq!(set.weight_shape(), vec![6, 2]);
        assert_eq!(set.weight_index(), vec![0, 1, 2, 3, 8, 9, 10, 11]);
    }

    #[test]
    fn hermitian_coefficients() {
        assert_eq!(hermitian_coefficient(0, 8), 1.0);
        assert_eq!(hermitian_coefficient(3, 8), 2.0);
        assert_eq!(hermitian_coefficient(4, 8), 1.0);
        assert_eq!(hermitian_coefficient(4, 9), 2.0);
    }
}
