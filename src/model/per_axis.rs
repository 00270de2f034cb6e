//! F-FNO's factorised spectral convolution (Tran et al., "Factorized
//! Fourier Neural Operators", ICLR 2023): per spatial axis `a`, a real FFT
//! along `a` only, a complex weight `[C_in, C_out, m_a]` mixing the modes
//! `0 <= k < m_a`, and the inverse FFT along `a`; the layer is the sum over
//! the axes. Its weights grow with `Σ m_a` instead of `Π m_a`.
//!
//! Each axis runs the ordinary 1D [`SpectralConv`] with the other axes
//! folded into the batch (a permute and a reshape, which candle
//! differentiates), so it runs on every device the 1D layer runs on, and
//! in 1D the layer is the dense one.
use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::error::ModelError;
use super::resample::fourier_resample;
use crate::spectral::{ModeClip, SpectralConv, SpectralConvConfig, SpectralError};

/// One 1D spectral convolution per spatial axis, summed.
///
/// Parameters: `axis{a}.weight_re`, `axis{a}.weight_im` (`[C_in, C_out,
/// m_a]`), initialised as the dense layer's.
#[derive(Debug, Clone)]
pub(super) struct PerAxisConv {
    modes: Vec<usize>,
    convs: Vec<SpectralConv>,
}

impl PerAxisConv {
    /// Creates (or loads) one 1D layer per entry of `cfg.modes`.
    pub(super) fn new(cfg: &SpectralConvConfig, vb: VarBuilder) -> Result<Self, ModelError> {
        cfg.validate()?;
        let convs = cfg
            .modes
            .iter()
            .enumerate()
            .map(|(axis, &m)| {
                let axis_cfg = SpectralConvConfig {
                    modes: vec![m],
                    ..cfg.clone()
                };
                SpectralConv::new(&axis_cfg, vb.pp(format!("axis{axis}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            modes: cfg.modes.clone(),
            convs,
        })
    }

    /// The layer on `x` onto `out_grid`. Along its own axis each term is
    /// evaluated on the output grid by its inverse FFT; along the others
    /// it acts pointwise and is brought there by Fourier interpolation,
    /// as the block's skip branch is.
    ///
    /// # Shapes
    /// `x`: `[batch, C_in, N_1..N_d]` -> `[batch, C_out, out_grid..]`.
    pub(super) fn forward_to(&self, x: &Tensor, out_grid: &[usize]) -> Result<Tensor, ModelError> {
        let rank = x.rank();
        if rank != self.convs.len() + 2 || out_grid.len() != self.convs.len() {
            return Err(SpectralError::ShapeMismatch {
                op: "per-axis spectral-conv",
                expected: format!(
                    "[batch, channels] and {} grid axes, onto as many",
                    self.convs.len()
                ),
                got: x.dims().to_vec(),
            }
            .into());
        }
        let mut sum: Option<Tensor> = None;
        for (a, conv) in self.convs.iter().enumerate() {
            let axis = 2 + a;
            // [batch, other axes.., channels, this axis]
            let mut order: Vec<usize> = (0..rank).filter(|&d| d != 1 && d != axis).collect();
            order.extend([1, axis]);
            let moved = x.permute(order.as_slice())?.contiguous()?;
            let dims = moved.dims().to_vec();
            let lines: usize = dims[..rank - 2].iter().product();
            let y = conv.forward_to(
                &moved.reshape((lines, dims[rank - 2], dims[rank - 1]))?,
                &[out_grid[a]],
            )?;
            let mut shape = dims[..rank - 2].to_vec();
            shape.extend([y.dim(1)?, out_grid[a]]);
            let mut back = vec![0; rank];
            for (position, &d) in order.iter().enumerate() {
                back[d] = position;
            }
            let y = fourier_resample(&y.reshape(shape)?.permute(back)?, out_grid)?;
            sum = Some(match sum {
                None => y,
                Some(s) => (s + y)?,
            });
        }
        match sum {
            Some(s) => Ok(s.contiguous()?),
            None => Err(SpectralError::InvalidConfig {
                field: "modes",
                reason: "needs 1, 2 or 3 entries (one per spatial axis)".into(),
            }
            .into()),
        }
    }

    /// The modes each axis keeps from `in_grid` to `out_grid` when a grid
    /// is too small for them (each axis clips as a 1D layer's last axis).
    pub(super) fn clipped_modes_to(
        &self,
        in_grid: &[usize],
        out_grid: &[usize],
    ) -> Option<ModeClip> {
        if in_grid.len() != self.convs.len() || out_grid.len() != self.convs.len() {
            return None;
        }
        let effective: Vec<usize> = self
            .convs
            .iter()
            .enumerate()
            .map(|(a, conv)| {
                conv.clipped_modes_to(&in_grid[a..=a], &out_grid[a..=a])
                    .map_or(self.modes[a], |clip| clip.effective[0])
            })
            .collect();
        (effective != self.modes).then(|| ModeClip {
            requested: self.modes.clone(),
            effective,
            in_grid: in_grid.to_vec(),
            out_grid: out_grid.to_vec(),
        })
    }

    /// Number of trainable scalars.
    pub(super) fn num_parameters(&self) -> usize {
        self.convs
            .iter()
            .map(|c| c.weight_re().elem_count() + c.weight_im().elem_count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectral::testutil::{grad_check, random, rel_err};
    use crate::spectral::SpectralBackend;
    use candle_core::{DType, Device, Module};
    use std::collections::HashMap;

    fn cfg(modes: &[usize]) -> SpectralConvConfig {
        SpectralConvConfig {
            in_channels: 2,
            out_channels: 3,
            modes: modes.to_vec(),
            backend: SpectralBackend::Fft,
        }
    }

    fn layer(c: &SpectralConvConfig, weights: &[Tensor]) -> PerAxisConv {
        let params: HashMap<String, Tensor> = weights
            .chunks(2)
            .enumerate()
            .flat_map(|(a, w)| {
                [
                    (format!("axis{a}.weight_re"), w[0].clone()),
                    (format!("axis{a}.weight_im"), w[1].clone()),
                ]
            })
            .collect();
        let vb = VarBuilder::from_tensors(params, DType::F64, &Device::Cpu);
        PerAxisConv::new(c, vb).unwrap()
    }

    fn weights(c: &SpectralConvConfig) -> Vec<Tensor> {
        c.modes
            .iter()
            .enumerate()
            .flat_map(|(a, &m)| {
                let shape = [c.in_channels, c.out_channels, m];
                [
                    random(30 + a as u64, &shape, DType::F64),
                    random(40 + a as u64, &shape, DType::F64),
                ]
            })
            .collect()
    }

    /// Central finite differences in f64 against candle's gradients of the
    /// input and every axis's weights, 1D to 3D, onto the input grid and
    /// onto other grids (which adds the interpolation along the other axes).
    #[test]
    fn gradients_match_finite_differences() {
        for (modes, grid, out) in [
            (vec![4], vec![10], vec![13]),
            (vec![3, 2], vec![7, 6], vec![7, 6]),
            (vec![3, 2], vec![7, 6], vec![10, 5]),
            (vec![2, 2, 3], vec![4, 5, 6], vec![4, 5, 6]),
        ] {
            let c = cfg(&modes);
            let mut inputs = vec![random(1, &[[1, 2].as_slice(), &grid].concat(), DType::F64)];
            inputs.extend(weights(&c));
            let errors = grad_check(&inputs, |a| {
                layer(&c, &a[1..])
                    .forward_to(&a[0], &out)
                    .map_err(candle_core::Error::wrap)
            });
            assert!(
                errors.iter().all(|&e| e < 1e-6),
                "{modes:?} {grid:?} -> {out:?}: {errors:?}"
            );
        }
    }

    /// In 2D the layer is the sum of two 1D convolutions, one along each
    /// axis, computed here line by line without the permutes; and in 1D it
    /// is the dense layer.
    #[test]
    fn sums_the_axes_line_by_line() {
        let c = cfg(&[3, 2]);
        let w = weights(&c);
        let per_axis = layer(&c, &w);
        let x = random(5, &[2, 2, 7, 6], DType::F64);
        let got = per_axis.forward_to(&x, &[7, 6]).unwrap();
        let along = |a: usize| {
            SpectralConv::from_weights(&cfg(&[c.modes[a]]), w[2 * a].clone(), w[2 * a + 1].clone())
                .unwrap()
        };
        // Along the last axis every (batch, row) line is a 1D signal.
        let mut rows = Vec::new();
        for r in 0..7 {
            rows.push(
                along(1)
                    .forward(&x.narrow(2, r, 1).unwrap().squeeze(2).unwrap())
                    .unwrap(),
            );
        }
        let last = Tensor::stack(&rows, 2).unwrap();
        let mut cols = Vec::new();
        for col in 0..6 {
            cols.push(
                along(0)
                    .forward(&x.narrow(3, col, 1).unwrap().squeeze(3).unwrap())
                    .unwrap(),
            );
        }
        let first = Tensor::stack(&cols, 3).unwrap();
        let expected = (first + last).unwrap();
        assert!(rel_err(&got, &expected) < 1e-13);

        let c1 = cfg(&[4]);
        let w1 = weights(&c1);
        let x1 = random(6, &[3, 2, 11], DType::F64);
        let dense = SpectralConv::from_weights(&c1, w1[0].clone(), w1[1].clone()).unwrap();
        assert_eq!(
            rel_err(
                &layer(&c1, &w1).forward_to(&x1, &[11]).unwrap(),
                &dense.forward(&x1).unwrap()
            ),
            0.0
        );
    }

    #[test]
    fn clips_each_axis_as_a_real_axis() {
        let c = cfg(&[4, 3]);
        let l = layer(&c, &weights(&c));
        assert_eq!(l.clipped_modes_to(&[16, 16], &[16, 16]), None);
        // 5 points hold the real frequencies 0..=2.
        let clip = l.clipped_modes_to(&[5, 16], &[16, 4]).unwrap();
        assert_eq!(clip.effective, vec![3, 3]);
        assert_eq!(l.num_parameters(), 2 * 2 * 3 * (4 + 3));
    }
}
