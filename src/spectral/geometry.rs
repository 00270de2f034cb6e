//! The validated sizes of one spectral convolution call, shared by the
//! fused op's CPU and CUDA bodies, the dense oracle and the block stack.

use super::error::SpectralError;
use super::modes::{hermitian_coefficient, weight_spatial_shape, ModeSet};
use super::plan::Real;

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

    /// `[batch, C_out, out_grid..]`.
    pub(crate) fn out_shape(&self) -> Vec<usize> {
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
