//! The FNO Fourier layer [`SpectralConv`] and its config
//! [`SpectralConvConfig`]; the math and the shapes are documented on the
//! layer itself.

use candle_core::{Device, Module, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use super::dense::{spectral_conv_dense, DenseCache};
use super::error::SpectralError;
use super::fused::{check_dtypes, spectral_conv_fft};
use super::geometry::Geometry;
use super::modes::{effective_modes, weight_spatial_shape, ModeClip};

/// Which implementation of the spectral convolution runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpectralBackend {
    /// [`SpectralBackend::Fft`] on the CPU and on CUDA,
    /// [`SpectralBackend::Dft`] elsewhere. On the CPU the fused FFT op
    /// measured 5.4x (FNO-2D, `[20, 32, 64, 64]`, 12 x 12 modes) and 1.8x
    /// (FNO-1D, `[20, 64, 1024]`, 16 modes) faster than the dense DFT
    /// forward, and 6.9x and 2.3x forward + backward (BENCHMARKS.md,
    /// "Spectral convolution (one layer, CPU)"). On CUDA the fused op runs on cuFFT and
    /// costs `N log N` per axis against the dense DFT's `N K` matmuls; it is
    /// the default there by that count, not by a side-by-side measurement of
    /// the two backends on a GPU.
    #[default]
    Auto,
    /// The fused FFT custom op (CPU, and CUDA with the `cuda` feature;
    /// other devices get [`SpectralError::UnsupportedDevice`]).
    Fft,
    /// A dense truncated DFT built from candle matmuls; runs on any device.
    Dft,
}

/// How a fresh [`SpectralConv`] draws its weights (`model.spectral_init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectralInit {
    /// The original FNO's: real and imaginary parts uniform in
    /// `[0, 1/(C_in C_out))`, so the spectral branch starts near zero and
    /// the block starts as its pointwise skip.
    #[default]
    Uniform,
    /// neuraloperator's `SpectralConv` (`init_std = "auto"`): a complex
    /// normal of standard deviation `sqrt(2/(C_in + C_out))`, i.e. real
    /// and imaginary parts each normal with variance `1/(C_in + C_out)`.
    Normal,
}

impl SpectralInit {
    fn draw(self, in_channels: usize, out_channels: usize) -> Init {
        match self {
            Self::Uniform => Init::Uniform {
                lo: 0.0,
                up: 1.0 / (in_channels * out_channels) as f64,
            },
            Self::Normal => Init::Randn {
                mean: 0.0,
                stdev: (1.0 / (in_channels + out_channels) as f64).sqrt(),
            },
        }
    }
}

/// Configuration of a [`SpectralConv`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpectralConvConfig {
    /// Input channels `C_in` (default 32).
    pub in_channels: usize,
    /// Output channels `C_out` (default 32).
    pub out_channels: usize,
    /// Fourier modes per spatial axis, 1 to 3 entries (default `[12, 12]`).
    /// `m` on a non-last axis keeps the `2m` frequencies `-m..m`; on the
    /// last axis it keeps `0..m`. Grids too small for them clip them (see
    /// [`SpectralConv::clipped_modes`]).
    pub modes: Vec<usize>,
    /// Implementation to run (default `auto`).
    pub backend: SpectralBackend,
}

impl Default for SpectralConvConfig {
    fn default() -> Self {
        Self {
            in_channels: 32,
            out_channels: 32,
            modes: vec![12, 12],
            backend: SpectralBackend::Auto,
        }
    }
}

impl SpectralConvConfig {
    /// The shape of the layer's weights, `[C_in, C_out, 2m_1, .., m_d]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        let mut shape = vec![self.in_channels, self.out_channels];
        shape.extend(weight_spatial_shape(&self.modes));
        shape
    }

    /// The clipping of this layer's modes from `in_grid` to `out_grid`, or
    /// `None` if both grids hold all requested modes (see
    /// [`SpectralConv::clipped_modes`]).
    pub fn clipped_modes_to(&self, in_grid: &[usize], out_grid: &[usize]) -> Option<ModeClip> {
        if in_grid.len() != self.modes.len() || out_grid.len() != self.modes.len() {
            return None;
        }
        let effective = effective_modes(&self.modes, in_grid, out_grid);
        (effective != self.modes).then(|| ModeClip {
            requested: self.modes.clone(),
            effective,
            in_grid: in_grid.to_vec(),
            out_grid: out_grid.to_vec(),
        })
    }

    /// Checks the config: positive channels, 1 to 3 positive mode counts.
    pub fn validate(&self) -> Result<(), SpectralError> {
        let invalid = |field, reason: &str| {
            Err(SpectralError::InvalidConfig {
                field,
                reason: reason.to_string(),
            })
        };
        if self.in_channels == 0 {
            return invalid("in_channels", "must be positive");
        }
        if self.out_channels == 0 {
            return invalid("out_channels", "must be positive");
        }
        if !(1..=3).contains(&self.modes.len()) {
            return invalid("modes", "needs 1, 2 or 3 entries (one per spatial axis)");
        }
        if self.modes.contains(&0) {
            return invalid("modes", "every entry must be positive");
        }
        Ok(())
    }
}

/// `SpectralConv`: the Fourier layer of an FNO, in 1, 2 or 3 dimensions.
///
/// For an input `v` with `C_in` channels on an `N_1 x .. x N_d` grid, the
/// layer takes the real FFT along the last axis and complex FFTs along the
/// others, keeps the modes `-m_i <= k_i < m_i` (and `0 <= k_d < m_d` on the
/// last axis), multiplies each kept mode by a learned complex `C_in x C_out`
/// matrix `W_k`, and transforms back onto an output grid that may differ from
/// the input grid:
///
/// ```text
/// y = Re( sum_k c_k e^{2πi k.t/M} sum_i W_k[i, o] (1/|N|) sum_n v_i[n] e^{-2πi k.n/N} )
/// ```
///
/// The forward transform divides by the number of grid points, so the kept
/// coefficients approximate the continuous Fourier coefficients at any
/// resolution, and the inverse does not; the layer is therefore
/// resolution-invariant: on a band-limited input sampled at `N` and at `2N`,
/// the `2N` output is the spectral interpolation of the `N` output. `c_k` is
/// 1 on the zero and Nyquist columns of the last axis and 2 elsewhere, which
/// enforces Hermitian symmetry (the imaginary parts of those columns are
/// dropped, as neuraloperator does since its PRs #591 and #702).
///
/// Modes are counted as in the original FNO: `m` on a complex axis keeps
/// `2m` frequencies (neuraloperator's `n_modes = 2m`), `m` on the last axis
/// keeps `m`.
///
/// # Shapes
///
/// - input `[batch, C_in, N_1..N_d]`, `d` in 1..=3;
/// - weights `weight_re`, `weight_im`: `[C_in, C_out, 2m_1, .., 2m_{d-1}, m_d]`;
/// - output `[batch, C_out, M_1..M_d]` (`M = N` for [`Module::forward`]).
///
/// ```
/// use candle_core::{DType, Device, Module, Tensor};
/// use candle_nn::{VarBuilder, VarMap};
/// use fno::spectral::{SpectralConv, SpectralConvConfig};
///
/// let cfg = SpectralConvConfig { in_channels: 2, out_channels: 3, modes: vec![4, 4], ..Default::default() };
/// let varmap = VarMap::new();
/// let conv = SpectralConv::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
/// let x = Tensor::randn(0f32, 1., (5, 2, 16, 16), &Device::Cpu)?;
/// assert_eq!(conv.forward(&x)?.dims(), &[5, 3, 16, 16]);
/// assert_eq!(conv.forward_to(&x, &[32, 32])?.dims(), &[5, 3, 32, 32]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpectralConv {
    cfg: SpectralConvConfig,
    weight_re: Tensor,
    weight_im: Tensor,
    dense: DenseCache,
}

impl SpectralConv {
    /// Builds the layer, fetching `weight_re` and `weight_im` (shape
    /// `[C_in, C_out, 2m_1, .., m_d]`) from `vb`. Fresh weights are drawn
    /// as in the original FNO: real and imaginary parts uniform in
    /// `[0, 1/(C_in C_out))`.
    pub fn new(cfg: &SpectralConvConfig, vb: VarBuilder) -> Result<Self, SpectralError> {
        Self::with_init(cfg, SpectralInit::Uniform, vb)
    }

    /// [`SpectralConv::new`] with fresh weights drawn as `init` says
    /// (loaded weights are taken as they are).
    pub fn with_init(
        cfg: &SpectralConvConfig,
        init: SpectralInit,
        vb: VarBuilder,
    ) -> Result<Self, SpectralError> {
        cfg.validate()?;
        let shape = cfg.weight_shape();
        let init = init.draw(cfg.in_channels, cfg.out_channels);
        let weight_re = vb.get_with_hints(shape.as_slice(), "weight_re", init)?;
        let weight_im = vb.get_with_hints(shape.as_slice(), "weight_im", init)?;
        Ok(Self {
            cfg: cfg.clone(),
            weight_re,
            weight_im,
            dense: DenseCache::default(),
        })
    }

    /// The layer with the given weights (shape `[C_in, C_out, 2m_1, ..,
    /// m_d]`), which may derive from other variables: a factorised layer
    /// builds its dense weight each forward pass and convolves with it
    /// through this, and the gradients flow on to what it was built from.
    pub fn from_weights(
        cfg: &SpectralConvConfig,
        weight_re: Tensor,
        weight_im: Tensor,
    ) -> Result<Self, SpectralError> {
        cfg.validate()?;
        Ok(Self {
            cfg: cfg.clone(),
            weight_re,
            weight_im,
            dense: DenseCache::default(),
        })
    }

    /// The layer's config.
    pub fn config(&self) -> &SpectralConvConfig {
        &self.cfg
    }

    /// Real parts of the weights, `[C_in, C_out, 2m_1, .., m_d]`.
    pub fn weight_re(&self) -> &Tensor {
        &self.weight_re
    }

    /// Imaginary parts of the weights, `[C_in, C_out, 2m_1, .., m_d]`.
    pub fn weight_im(&self) -> &Tensor {
        &self.weight_im
    }

    /// The backend that runs on `device` (resolves
    /// [`SpectralBackend::Auto`]).
    pub fn backend_for(&self, device: &Device) -> SpectralBackend {
        match self.cfg.backend {
            SpectralBackend::Auto if device.is_cpu() || device.is_cuda() => SpectralBackend::Fft,
            SpectralBackend::Auto => SpectralBackend::Dft,
            other => other,
        }
    }

    /// The clipping that maps on `grid` to the same grid would apply, or
    /// `None` if the grid holds all requested modes. Callers warn once per
    /// resolution with it; the layer itself never prints.
    pub fn clipped_modes(&self, grid: &[usize]) -> Option<ModeClip> {
        self.clipped_modes_to(grid, grid)
    }

    /// As [`SpectralConv::clipped_modes`], from `in_grid` to `out_grid`.
    pub fn clipped_modes_to(&self, in_grid: &[usize], out_grid: &[usize]) -> Option<ModeClip> {
        self.cfg.clipped_modes_to(in_grid, out_grid)
    }

    /// Applies the layer and transforms onto `out_grid` (zero-shot super- or
    /// sub-resolution).
    ///
    /// # Shapes
    ///
    /// `x`: `[batch, C_in, N_1..N_d]` -> `[batch, C_out, out_grid..]`.
    pub fn forward_to(&self, x: &Tensor, out_grid: &[usize]) -> candle_core::Result<Tensor> {
        self.forward_with(x, out_grid, self.backend_for(x.device()))
    }

    fn forward_with(
        &self,
        x: &Tensor,
        out_grid: &[usize],
        backend: SpectralBackend,
    ) -> candle_core::Result<Tensor> {
        const OP: &str = "spectral-conv";
        let geo = Geometry::new(
            OP,
            x.dims(),
            self.weight_re.dims(),
            self.weight_im.dims(),
            &self.cfg.modes,
            out_grid,
        )?;
        if x.dims()[1] != self.cfg.in_channels {
            return Err(SpectralError::ShapeMismatch {
                op: OP,
                expected: format!("[batch, {}, ..]", self.cfg.in_channels),
                got: x.dims().to_vec(),
            }
            .into());
        }
        match backend {
            SpectralBackend::Dft => {
                check_dtypes(x.dtype(), self.weight_re.dtype(), self.weight_im.dtype())?;
                spectral_conv_dense(&self.dense, &geo, x, &self.weight_re, &self.weight_im)
            }
            SpectralBackend::Fft | SpectralBackend::Auto => spectral_conv_fft(
                x,
                &self.weight_re,
                &self.weight_im,
                &self.cfg.modes,
                out_grid,
            ),
        }
    }
}

impl Module for SpectralConv {
    /// Applies the layer with the output grid equal to the input grid.
    ///
    /// # Shapes
    ///
    /// `[batch, C_in, N_1..N_d]` -> `[batch, C_out, N_1..N_d]`.
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let grid = xs.dims().get(2..).unwrap_or_default().to_vec();
        self.forward_to(xs, &grid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectral::fft::{irfft, rfft};
    use crate::spectral::testutil::{grad_check, random, rel_err};
    use candle_core::DType;
    use std::collections::HashMap;
    use std::f64::consts::PI;

    /// Mean and standard deviation of the fresh `weight_re` and
    /// `weight_im` that `init` draws for 8 -> 24 channels.
    fn fresh_moments(init: SpectralInit) -> [(f64, f64); 2] {
        let cfg = SpectralConvConfig {
            in_channels: 8,
            out_channels: 24,
            modes: vec![6, 6],
            ..Default::default()
        };
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
        SpectralConv::with_init(&cfg, init, vb).unwrap();
        let data = varmap.data().lock().unwrap();
        ["weight_re", "weight_im"].map(|name| {
            let w: Vec<f64> = data[name]
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let mean = w.iter().sum::<f64>() / w.len() as f64;
            let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / w.len() as f64;
            (mean, var.sqrt())
        })
    }

    #[test]
    fn fresh_weights_follow_the_chosen_init() {
        // Uniform on [0, 1/192): mean 1/384, std 1/(192 sqrt 12).
        for (mean, std) in fresh_moments(SpectralInit::Uniform) {
            assert!((mean * 384.0 - 1.0).abs() < 0.05, "{mean}");
            assert!((std * 192.0 * 12f64.sqrt() - 1.0).abs() < 0.05, "{std}");
        }
        // neuraloperator's complex std sqrt(2/32): each part std sqrt(1/32).
        for (mean, std) in fresh_moments(SpectralInit::Normal) {
            assert!(mean.abs() < 0.01, "{mean}");
            assert!((std * 32f64.sqrt() - 1.0).abs() < 0.05, "{std}");
        }
    }

    fn layer(cfg: &SpectralConvConfig, w_re: &Tensor, w_im: &Tensor) -> SpectralConv {
        let map = HashMap::from([
            ("weight_re".to_string(), w_re.clone()),
            ("weight_im".to_string(), w_im.clone()),
        ]);
        let vb = VarBuilder::from_tensors(map, w_re.dtype(), &Device::Cpu);
        SpectralConv::new(cfg, vb).expect("layer from given weights")
    }

    fn random_layer(cfg: &SpectralConvConfig, dtype: DType, seed: u64) -> SpectralConv {
        let mut shape = vec![cfg.in_channels, cfg.out_channels];
        shape.extend(weight_spatial_shape(&cfg.modes));
        layer(
            cfg,
            &random(seed, &shape, dtype),
            &random(seed + 1, &shape, dtype),
        )
    }

    fn cfg(ci: usize, co: usize, modes: &[usize], backend: SpectralBackend) -> SpectralConvConfig {
        SpectralConvConfig {
            in_channels: ci,
            out_channels: co,
            modes: modes.to_vec(),
            backend,
        }
    }

    /// Finite-difference check of the layer, input and both weights, on
    /// (input grid, output grid, modes) cases with batch 1 and 2 channels.
    fn check_layer_gradients(
        backend: SpectralBackend,
        cases: &[(Vec<usize>, Vec<usize>, Vec<usize>)],
    ) {
        for (grid, out, modes) in cases {
            let c = cfg(2, 2, modes, backend);
            let mut xs = vec![1, 2];
            xs.extend(grid);
            let mut ws = vec![2, 2];
            ws.extend(weight_spatial_shape(modes));
            let inputs = [
                random(1, &xs, DType::F64),
                random(2, &ws, DType::F64),
                random(3, &ws, DType::F64),
            ];
            let errors = grad_check(&inputs, |a| layer(&c, &a[1], &a[2]).forward_to(&a[0], out));
            assert!(
                errors.iter().all(|&e| e < 1e-6),
                "{backend:?} {grid:?}: {errors:?}"
            );
        }
    }

    #[test]
    fn whole_layer_gradients_match_finite_differences_fft() {
        check_layer_gradients(
            SpectralBackend::Fft,
            &[
                (vec![16], vec![15], vec![9]),
                (vec![15, 16], vec![16, 20], vec![7, 9]),
                (vec![6, 5, 7], vec![5, 6, 8], vec![3, 2, 4]),
            ],
        );
    }

    /// Smaller cases: every finite difference rebuilds the dense graph
    /// (the dense gradients are also compared with the fused ones exactly
    /// in `fused::tests`).
    #[test]
    fn whole_layer_gradients_match_finite_differences_dft() {
        check_layer_gradients(
            SpectralBackend::Dft,
            &[
                (vec![15], vec![16], vec![8]),
                (vec![8, 7], vec![9, 8], vec![4, 4]),
                (vec![4, 3, 5], vec![4, 4, 6], vec![2, 1, 3]),
            ],
        );
    }

    #[test]
    fn fft_backend_equals_dft_backend_in_f32() -> candle_core::Result<()> {
        for (grid, out, modes) in [
            (vec![64], vec![64], vec![16]),
            (vec![33], vec![100], vec![16]),
            (vec![32, 24], vec![32, 24], vec![12, 12]),
            (vec![32, 24], vec![17, 50], vec![12, 12]),
            (vec![12, 10, 9], vec![12, 10, 9], vec![4, 3, 4]),
            (vec![12, 10, 9], vec![16, 7, 12], vec![4, 3, 4]),
        ] {
            let fast = random_layer(&cfg(4, 5, &modes, SpectralBackend::Fft), DType::F32, 3);
            let slow = layer(
                &cfg(4, 5, &modes, SpectralBackend::Dft),
                fast.weight_re(),
                fast.weight_im(),
            );
            let mut xs = vec![3, 4];
            xs.extend(&grid);
            let x = random(4, &xs, DType::F32);
            let e = rel_err(&fast.forward_to(&x, &out)?, &slow.forward_to(&x, &out)?);
            assert!(e < 1e-5, "{grid:?} -> {out:?}: {e}");
        }
        Ok(())
    }

    /// A band-limited field: a few Fourier modes inside the kept band,
    /// sampled on `n` points per axis.
    fn band_limited(grid: &[usize], channels: usize) -> Tensor {
        let points: usize = grid.iter().product();
        let mut data = Vec::with_capacity(channels * points);
        for c in 0..channels {
            for p in 0..points {
                let mut rest = p;
                let mut coords = vec![0.0; grid.len()];
                for (a, &n) in grid.iter().enumerate().rev() {
                    coords[a] = (rest % n) as f64 / n as f64;
                    rest /= n;
                }
                let phase: f64 = coords
                    .iter()
                    .enumerate()
                    .map(|(a, &t)| (a + c + 1) as f64 * t)
                    .sum();
                let second: f64 = coords
                    .iter()
                    .enumerate()
                    .map(|(a, &t)| if a % 2 == 0 { 3.0 * t } else { -2.0 * t })
                    .sum();
                data.push(0.3 + (2.0 * PI * phase).sin() + 0.5 * (2.0 * PI * second + 0.4).cos());
            }
        }
        let mut shape = vec![1, channels];
        shape.extend(grid);
        Tensor::from_vec(data, shape, &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .expect("field")
    }

    #[test]
    fn resolution_invariance_1d() -> candle_core::Result<()> {
        let conv = random_layer(&cfg(2, 3, &[8], SpectralBackend::Fft), DType::F32, 5);
        let coarse = conv.forward(&band_limited(&[32], 2))?;
        let fine = conv.forward(&band_limited(&[64], 2))?;
        // Spectral interpolation of the coarse output onto 64 points.
        let spec = rfft(&coarse.to_dtype(DType::F64)?)?.narrow(2, 0, 16)?;
        let interpolated = (irfft(&spec, 64)? * 2.0)?;
        let e = rel_err(&fine, &interpolated);
        assert!(e < 1e-5, "2N output vs interpolated N output: {e}");
        Ok(())
    }

    #[test]
    fn resolution_invariance_2d_and_3d() -> candle_core::Result<()> {
        for (coarse_grid, modes) in [(vec![16, 16], vec![5, 5]), (vec![8, 10, 12], vec![4, 4, 4])] {
            let fine_grid: Vec<usize> = coarse_grid.iter().map(|n| 2 * n).collect();
            let conv = random_layer(&cfg(2, 2, &modes, SpectralBackend::Fft), DType::F32, 6);
            let x_coarse = band_limited(&coarse_grid, 2);
            let fine = conv.forward(&band_limited(&fine_grid, 2))?;
            // The output is band-limited, so its spectral interpolation is
            // the layer evaluated onto the fine grid...
            let e = rel_err(&fine, &conv.forward_to(&x_coarse, &fine_grid)?);
            assert!(e < 1e-5, "{coarse_grid:?}: {e}");
            // ...and subsampling the fine output gives the coarse output.
            let mut sub = fine.clone();
            for (axis, &n) in coarse_grid.iter().enumerate() {
                let idx: Vec<u32> = (0..n as u32).map(|i| 2 * i).collect();
                sub = sub.index_select(&Tensor::new(idx, &Device::Cpu)?, 2 + axis)?;
            }
            let e = rel_err(&sub, &conv.forward(&x_coarse)?);
            assert!(e < 1e-5, "{coarse_grid:?}: {e}");
        }
        Ok(())
    }

    #[test]
    fn small_grids_clip_modes_and_report_it() -> candle_core::Result<()> {
        let c = cfg(2, 2, &[8, 8], SpectralBackend::Fft);
        let conv = random_layer(&c, DType::F64, 7);
        assert_eq!(conv.clipped_modes(&[16, 16]), None);
        let clip = conv
            .clipped_modes(&[10, 12])
            .expect("10 x 12 cannot hold 8 x 8 modes");
        assert_eq!(clip.effective, vec![5, 7]);
        assert_eq!(clip.requested, vec![8, 8]);
        assert_eq!(
            conv.clipped_modes_to(&[32, 32], &[12, 8])
                .map(|c| c.effective),
            Some(vec![6, 5])
        );
        let x = candle_core::Var::from_tensor(&random(8, &[1, 2, 10, 12], DType::F64))?;
        let y = conv.forward(x.as_tensor())?;
        assert_eq!(y.dims(), &[1, 2, 10, 12]);
        let dense = layer(
            &cfg(2, 2, &[8, 8], SpectralBackend::Dft),
            conv.weight_re(),
            conv.weight_im(),
        );
        assert!(rel_err(&y, &dense.forward(x.as_tensor())?) < 1e-12);
        // Weights of the dropped frequencies (rows 5..11 of 16, columns 7..8) get no gradient.
        let wr = candle_core::Var::from_tensor(conv.weight_re())?;
        let wi = candle_core::Var::from_tensor(conv.weight_im())?;
        let trained = layer(&c, wr.as_tensor(), wi.as_tensor());
        let grads = trained
            .forward(x.as_tensor())?
            .sqr()?
            .sum_all()?
            .backward()?;
        let g = grads.get(wr.as_tensor()).expect("weight gradient");
        assert_eq!(
            g.narrow(2, 5, 6)?.abs()?.sum_all()?.to_scalar::<f64>()?,
            0.0
        );
        assert_eq!(
            g.narrow(3, 7, 1)?.abs()?.sum_all()?.to_scalar::<f64>()?,
            0.0
        );
        assert!(g.narrow(2, 0, 5)?.abs()?.sum_all()?.to_scalar::<f64>()? > 0.0);
        Ok(())
    }

    #[test]
    fn config_round_trips_and_rejects_unknown_fields() {
        let c = SpectralConvConfig {
            modes: vec![16],
            backend: SpectralBackend::Dft,
            ..Default::default()
        };
        let text = toml::to_string(&c).expect("serialise");
        assert!(text.contains("backend = \"dft\""), "{text}");
        assert_eq!(
            toml::from_str::<SpectralConvConfig>(&text).expect("parse"),
            c
        );
        let partial: SpectralConvConfig =
            toml::from_str("modes = [4, 4, 4]").expect("defaults fill the rest");
        assert_eq!(partial.in_channels, 32);
        assert!(toml::from_str::<SpectralConvConfig>("mode = [4]").is_err());
        assert!(toml::from_str::<SpectralConvConfig>("backend = \"cuda\"").is_err());
    }

    #[test]
    fn invalid_configs_and_inputs_are_errors() {
        let vb = || VarBuilder::zeros(DType::F32, &Device::Cpu);
        for (bad, field) in [
            (cfg(0, 2, &[4], SpectralBackend::Auto), "in_channels"),
            (cfg(2, 0, &[4], SpectralBackend::Auto), "out_channels"),
            (cfg(2, 2, &[], SpectralBackend::Auto), "modes"),
            (cfg(2, 2, &[4, 4, 4, 4], SpectralBackend::Auto), "modes"),
            (cfg(2, 2, &[4, 0], SpectralBackend::Auto), "modes"),
        ] {
            match SpectralConv::new(&bad, vb()) {
                Err(SpectralError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let conv =
            SpectralConv::new(&cfg(2, 2, &[4, 4], SpectralBackend::Auto), vb()).expect("valid");
        assert!(
            conv.forward(&random(1, &[1, 3, 8, 8], DType::F32)).is_err(),
            "wrong channel count"
        );
        assert!(
            conv.forward(&random(1, &[1, 2, 8], DType::F32)).is_err(),
            "wrong rank"
        );
        assert!(
            conv.forward(&random(1, &[2, 8], DType::F32)).is_err(),
            "no channel axis"
        );
        assert!(
            conv.forward(&random(1, &[1, 2, 8, 8], DType::F64)).is_err(),
            "dtype differs from weights"
        );
        assert!(
            conv.forward_to(&random(1, &[1, 2, 8, 8], DType::F32), &[8])
                .is_err(),
            "output grid rank"
        );
        assert_eq!(conv.backend_for(&Device::Cpu), SpectralBackend::Fft);
    }
}
