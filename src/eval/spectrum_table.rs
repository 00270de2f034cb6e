//! The energy spectra of predictions and truths at one resolution as a
//! table for `eval.json`: the mean shell spectra, and their ratio summed
//! over octave bands of wavenumbers, so that how much of each scale a
//! model reproduces can be read across grids and models without a plot.
//!
//! ```
//! use fno::eval::spectrum_table::SpectrumTable;
//! // Shells 0..=4 of an 8-point grid; the prediction has half the energy
//! // of the truth in shells 2 and 3.
//! let truth = vec![1.0, 1.0, 2.0, 2.0, 1.0];
//! let prediction = vec![1.0, 1.0, 1.0, 1.0, 1.0];
//! let table = SpectrumTable::new(prediction, truth, &[8]);
//! assert_eq!((table.bands[1].k_min, table.bands[1].k_max), (2, 3));
//! assert_eq!(table.bands[1].ratio, Some(0.5));
//! ```
use serde::{Deserialize, Serialize};

/// Mean energy spectra of the predictions and the truths on one grid, with
/// their ratio per octave band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectrumTable {
    /// Mean predicted energy per integer shell k = 0, 1, ... (as
    /// [`super::energy_spectrum`]), over samples and channels.
    pub prediction: Vec<f64>,
    /// Mean true energy per shell.
    pub truth: Vec<f64>,
    /// Octave bands [1, 1], [2, 3], [4, 7], ... up to the grid's complete
    /// shells (k ≤ min(n)/2); the last band is cut there.
    pub bands: Vec<SpectrumBand>,
}

/// Predicted and true energy summed over the shells `k_min..=k_max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectrumBand {
    /// First shell of the band.
    pub k_min: usize,
    /// Last shell of the band.
    pub k_max: usize,
    /// Predicted energy in the band.
    pub prediction: f64,
    /// True energy in the band.
    pub truth: f64,
    /// `prediction / truth`; `None` when the truth has no energy there.
    pub ratio: Option<f64>,
}

impl SpectrumTable {
    /// The table of mean spectra `prediction` and `truth` on `grid`.
    pub fn new(prediction: Vec<f64>, truth: Vec<f64>, grid: &[usize]) -> Self {
        let complete = grid.iter().copied().min().unwrap_or(0) / 2;
        let top = complete.min(prediction.len().min(truth.len()).saturating_sub(1));
        let mut bands = Vec::new();
        let mut k_min = 1;
        while k_min <= top {
            let k_max = (2 * k_min - 1).min(top);
            let sum = |e: &[f64]| e[k_min..=k_max].iter().sum::<f64>();
            let (p, t) = (sum(&prediction), sum(&truth));
            bands.push(SpectrumBand {
                k_min,
                k_max,
                prediction: p,
                truth: t,
                ratio: (t > 0.0).then(|| p / t),
            });
            k_min *= 2;
        }
        Self {
            prediction,
            truth,
            bands,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_octaves_cut_at_the_complete_shells() {
        // A 16 × 12 grid: shells to floor(sqrt(8² + 6²)) = 10, complete to 6.
        let truth: Vec<f64> = (0..=10).map(|k| k as f64).collect();
        let prediction = vec![1.0; 11];
        let table = SpectrumTable::new(prediction, truth, &[16, 12]);
        let ranges: Vec<(usize, usize)> = table.bands.iter().map(|b| (b.k_min, b.k_max)).collect();
        assert_eq!(ranges, vec![(1, 1), (2, 3), (4, 6)]);
        let last = &table.bands[2];
        assert_eq!((last.prediction, last.truth), (3.0, 15.0));
        assert_eq!(last.ratio, Some(0.2));
    }

    #[test]
    fn a_band_without_true_energy_has_no_ratio() {
        let table = SpectrumTable::new(vec![1.0, 1.0], vec![1.0, 0.0], &[4]);
        assert_eq!(table.bands.len(), 1);
        assert_eq!(table.bands[0].ratio, None);
        assert!(SpectrumTable::new(vec![], vec![], &[4]).bands.is_empty());
    }
}
