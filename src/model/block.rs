//! One Fourier block, in either of the two forms the field uses.
//!
//! - The original FNO's (Li et al., 2021), fno's default:
//!   `σ(K v + W v + b)`, without `σ` after the last block.
//! - neuraloperator 2.0.0's default (`use_channel_mlp=True`, soft-gating
//!   skip): `σ(mlp(σ(K v + W v + b)) + g ⊙ v)`, and for the last block
//!   `mlp(K v + W v + b) + g ⊙ v`, without either `σ` (its
//!   `FNOBlocks.forward_with_postactivation`). `mlp` is a two-layer channel
//!   MLP `width → round(expansion · width) → width` and `g` one learned
//!   factor per channel (starting at 1). Chosen by
//!   `model.channel_mlp_expansion > 0`.
//!
//! The spectral branch `K` is dense, Tucker-factorised or per axis
//! (`model.factorization`, see `spectral_branch`). Every form runs as
//! separate ops, one block after another; the original form with a dense
//! `K` also runs as one fused op over the whole stack (`block_op`).
use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use super::activation::Activation;
use super::config::ModelConfig;
use super::error::ModelError;
use super::mlp::ChannelMlp;
use super::pointwise::PointwiseLinear;
use super::resample::fourier_resample;
use super::spectral_branch::SpectralBranch;
use crate::spectral::{SpectralBackend, SpectralConv};

/// One Fourier block (see the module docs for its two forms).
///
/// Parameters live under `spectral` (the spectral convolution `K`),
/// `pointwise` (the 1×1 linear `W`, `b`) and, in neuraloperator's form,
/// `channel_mlp` (`fc1`, `fc2`) and `gate` (`g`, one value per channel).
#[derive(Debug)]
pub struct FnoBlock {
    pub(super) spectral: SpectralBranch,
    pub(super) pointwise: PointwiseLinear,
    gated_mlp: Option<GatedMlp>,
}

/// neuraloperator's channel MLP after the block's sum, with its
/// soft-gating skip around the block.
#[derive(Debug)]
struct GatedMlp {
    mlp: ChannelMlp,
    /// `[width]`: the factor of each channel of the block input.
    gate: Tensor,
}

impl FnoBlock {
    /// Creates the block's layers for `cfg.width` channels.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self, ModelError> {
        let gated_mlp = match cfg.channel_mlp_hidden() {
            0 => None,
            hidden => Some(GatedMlp {
                mlp: ChannelMlp::new(
                    cfg.width,
                    hidden,
                    cfg.width,
                    cfg.activation,
                    vb.pp("channel_mlp"),
                )?,
                gate: vb.get_with_hints(cfg.width, "gate", Init::Const(1.0))?,
            }),
        };
        Ok(Self {
            spectral: SpectralBranch::new(cfg, vb.pp("spectral"))?,
            pointwise: PointwiseLinear::new(cfg.width, cfg.width, vb.pp("pointwise"))?,
            gated_mlp,
        })
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.spectral.num_parameters()
            + self.pointwise.num_parameters()
            + self
                .gated_mlp
                .as_ref()
                .map_or(0, |g| g.mlp.num_parameters() + g.gate.elem_count())
    }

    /// Whether the block has neuraloperator's channel MLP, which the fused
    /// stack op does not run.
    pub fn has_channel_mlp(&self) -> bool {
        self.gated_mlp.is_some()
    }

    /// The block's dense spectral convolution when the fused stack op can
    /// run the block on `device`: the original form with a dense `K` on the
    /// FFT backend.
    pub(super) fn fusable(&self, device: &candle_core::Device) -> Option<&SpectralConv> {
        self.spectral
            .as_dense()
            .filter(|k| !self.has_channel_mlp() && k.backend_for(device) == SpectralBackend::Fft)
    }

    /// The block on `v`, evaluated on `out_grid` (the input grid if
    /// `None`), with `σ = activation` (none if `None`: the last block).
    /// The sum and its activation run in the pointwise op's epilogue.
    ///
    /// # Shapes
    /// - `v`: `[batch, width, x, (y, (z))]`
    /// - returns `[batch, width, out_grid...]`
    pub fn forward_to(
        &self,
        v: &Tensor,
        out_grid: Option<&[usize]>,
        activation: Option<Activation>,
    ) -> Result<Tensor, ModelError> {
        let (k, v) = match out_grid {
            Some(grid) if Some(grid) != v.dims().get(2..) => (
                self.spectral.forward_to(v, grid)?,
                fourier_resample(v, grid)?,
            ),
            _ => (self.spectral.forward_to(v, &v.dims()[2..])?, v.clone()),
        };
        let h = match activation {
            Some(act) => self.pointwise.forward_activated(&v, Some(&k), act)?,
            None => self.pointwise.forward(&v, Some(&k))?,
        };
        let Some(gated) = &self.gated_mlp else {
            return Ok(h);
        };
        let mut gate_shape = vec![1; v.rank()];
        gate_shape[1] = gated.gate.elem_count();
        let skip = v.broadcast_mul(&gated.gate.reshape(gate_shape)?)?;
        let out = (gated.mlp.forward(&h)? + skip)?;
        Ok(match activation {
            Some(act) => act.apply(&out)?,
            None => out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;
    use std::collections::HashMap;

    fn gated(dims: usize) -> ModelConfig {
        ModelConfig {
            dims,
            modes: vec![3; dims],
            width: 4,
            channel_mlp_expansion: 0.5,
            ..ModelConfig::default()
        }
    }

    /// The block built from `params` (name → value) applied to `x`, then
    /// `Σ out ⊙ r`: a scalar whose gradient is the block's, seen through r.
    fn loss(
        cfg: &ModelConfig,
        params: &HashMap<String, Tensor>,
        x: &Tensor,
        r: &Tensor,
        out: &[usize],
        activation: Option<Activation>,
    ) -> Tensor {
        let vb = VarBuilder::from_tensors(params.clone(), DType::F64, &Device::Cpu);
        let block = FnoBlock::new(cfg, vb).unwrap();
        assert!(block.has_channel_mlp());
        let y = block.forward_to(x, Some(out), activation).unwrap();
        (y * r).unwrap().sum_all().unwrap()
    }

    /// The block against central finite differences in f64: the input and
    /// every parameter, inner and last block, on its own grid and onto a
    /// finer one, 1D and 2D.
    #[test]
    fn gated_block_gradients_match_finite_differences() {
        const H: f64 = 1e-6;
        for (dims, grid, out) in [
            (1, vec![10], vec![10]),
            (1, vec![9], vec![18]),
            (2, vec![8, 7], vec![8, 7]),
        ] {
            let cfg = gated(dims);
            let map = VarMap::new();
            FnoBlock::new(
                &cfg,
                VarBuilder::from_varmap(&map, DType::F64, &Device::Cpu),
            )
            .unwrap();
            let mut params: HashMap<String, Tensor> = map
                .data()
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_tensor().copy().unwrap()))
                .collect();
            assert_eq!(params.len(), 9, "{:?}", params.keys());
            // A gate of exactly 1 would not show a gradient that ignores it.
            params.insert(
                "gate".into(),
                Tensor::new(&[0.7f64, 1.3, -0.4, 1.1], &Device::Cpu).unwrap(),
            );
            params.insert(
                "x".into(),
                Tensor::randn(0f64, 1.0, [&[2, 4][..], &grid].concat(), &Device::Cpu).unwrap(),
            );
            let r = Tensor::randn(0f64, 1.0, [&[2, 4][..], &out].concat(), &Device::Cpu).unwrap();
            for activation in [Some(Activation::Gelu), None] {
                let vars: HashMap<String, Var> = params
                    .iter()
                    .map(|(k, t)| (k.clone(), Var::from_tensor(t).unwrap()))
                    .collect();
                let tracked: HashMap<String, Tensor> = vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
                    .collect();
                let grads = loss(&cfg, &tracked, &tracked["x"], &r, &out, activation)
                    .backward()
                    .unwrap();
                for (name, var) in &vars {
                    let analytic: Vec<f64> = grads
                        .get(var)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap();
                    let base: Vec<f64> = params[name].flatten_all().unwrap().to_vec1().unwrap();
                    let shape = params[name].dims().to_vec();
                    let mut worst = 0.0f64;
                    for (j, a) in analytic.iter().enumerate() {
                        let at = |delta: f64| {
                            let mut v = base.clone();
                            v[j] += delta;
                            let mut p = params.clone();
                            p.insert(
                                name.clone(),
                                Tensor::from_vec(v, shape.as_slice(), &Device::Cpu).unwrap(),
                            );
                            loss(&cfg, &p, &p["x"], &r, &out, activation)
                                .to_scalar::<f64>()
                                .unwrap()
                        };
                        let numeric = (at(H) - at(-H)) / (2.0 * H);
                        worst = worst.max((a - numeric).abs() / numeric.abs().max(1.0));
                    }
                    assert!(
                        worst < 1e-6,
                        "{grid:?} -> {out:?}, {activation:?}: {name} off by {worst}"
                    );
                }
            }
        }
    }
}
