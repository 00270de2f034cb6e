//! The Fourier neural operator: lifting, Fourier blocks, projection.
//!
//! Pipeline of [`Fno::forward_to`], in order (as neuraloperator's `FNO`):
//!
//! 1. append grid-coordinate channels (cell-centred, for the input grid);
//! 2. lifting MLP `in → lifting_ratio·width → width`, pointwise;
//! 3. domain padding, a fraction of each axis (zeros on the right);
//! 4. `layers` Fourier blocks `v ← σ(K v + W v + b)`, without `σ` after the
//!    last block;
//! 5. remove the padding;
//! 6. projection MLP `width → projection_ratio·width → out`, pointwise.
//!
//! Resolution: every learned weight depends on the number of modes and
//! channels, never on the grid, so one model runs on any grid. For output on
//! a grid other than the input's (super-resolution from coarse input), the
//! last block evaluates its spectral branch directly on the (padded) output
//! grid — the inverse FFT is taken at the new size — and brings its skip
//! branch there by Fourier interpolation ([`super::resample`]); earlier
//! blocks run on the input grid. Grid channels are those of the input grid
//! because they enter before the first layer.
//!
//! Departures from neuraloperator: the Fourier blocks have no channel MLP
//! unless `channel_mlp_expansion` asks for one (neuraloperator's
//! `use_channel_mlp`, on by default there; off here as in the original FNO
//! of Li et al., see [`FnoBlock`]); the skip `W` has a bias
//! (neuraloperator's "linear" skip has none); grid coordinates are
//! cell-centred.
use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use super::activation::Activation;
use super::block::FnoBlock;
use super::block_op::BlocksOp;
use super::config::ModelConfig;
use super::error::ModelError;
use super::grid::grid_channels;
use super::kind::ModelKind;
use super::mlp::ChannelMlp;
use super::padding::{pad, padding_amounts, unpad};
use super::unet::{UNet, UNetShape};
use crate::spectral::ModeClip;

/// A Fourier neural operator (Li et al., 2021) for 1 to 3 spatial axes.
///
/// Parameters live under `lifting`, `blocks.{i}` and `projection`, so the
/// safetensors keys mirror this tree (`blocks.0.pointwise.weight`, ...).
/// Initialisation: pointwise layers as PyTorch's `Conv1d` (uniform on
/// `±1/√fan_in` for weight and bias, see [`PointwiseLinear`]); spectral
/// weights as [`SpectralConv`] documents.
#[derive(Debug)]
pub struct Fno {
    cfg: ModelConfig,
    body: Body,
}

/// The network `model.kind` chose.
#[derive(Debug)]
enum Body {
    Fourier(Fourier),
    UNet(UNet),
}

/// The Fourier operator's layers.
#[derive(Debug)]
struct Fourier {
    lifting: ChannelMlp,
    blocks: Vec<FnoBlock>,
    projection: ChannelMlp,
}

impl Fno {
    /// Validates `cfg` and creates (or loads, depending on `vb`) the model.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self, ModelError> {
        Self::with_embeddings(cfg, vb.clone(), vb)
    }

    /// [`Fno::new`] with the Fourier blocks under `trunk` (`blocks.{i}`)
    /// and the lifting and projection under `embeddings`: models built on
    /// one variable map with the same `trunk` share their blocks, each with
    /// its own embeddings (multi-source training).
    pub fn with_embeddings(
        cfg: &ModelConfig,
        trunk: VarBuilder,
        embeddings: VarBuilder,
    ) -> Result<Self, ModelError> {
        cfg.validate()?;
        let body = match cfg.kind {
            ModelKind::Fno => Body::Fourier(Fourier::new(cfg, trunk, embeddings)?),
            ModelKind::Unet => Body::UNet(UNet::new(
                UNetShape {
                    dims: cfg.dims,
                    in_channels: cfg.lifting_in_channels(),
                    out_channels: cfg.out_channels,
                    features: cfg.unet_features,
                    levels: cfg.unet_levels,
                },
                cfg.activation,
                embeddings,
            )?),
        };
        Ok(Self {
            cfg: cfg.clone(),
            body,
        })
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        match &self.body {
            Body::Fourier(f) => f.num_parameters(),
            Body::UNet(u) => u.num_parameters(),
        }
    }

    /// The clipping of the Fourier modes when the model maps `in_grid` to
    /// `out_grid` (after domain padding), or `None` when both grids hold
    /// every requested mode or the model is a U-Net. The last block sees
    /// both grids, so its clipping is the model's.
    pub fn clipped_modes(&self, in_grid: &[usize], out_grid: &[usize]) -> Option<ModeClip> {
        let Body::Fourier(f) = &self.body else {
            return None;
        };
        let padded = |grid: &[usize]| -> Vec<usize> {
            grid.iter()
                .zip(padding_amounts(grid, &self.cfg.padding))
                .map(|(n, p)| n + p)
                .collect()
        };
        f.blocks
            .last()?
            .spectral
            .clipped_modes_to(&padded(in_grid), &padded(out_grid))
    }

    /// Applies the operator and returns the output on the input's grid.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, x, (y, (z))]`
    /// - returns `[batch, out_channels, x, (y, (z))]`
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let grid = x.dims().get(2..).unwrap_or(&[]).to_vec();
        self.forward_to(x, &grid)
    }

    /// Applies the operator and returns the output on `out_grid`, which may
    /// be finer or coarser than the input grid (see the module docs).
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, x, (y, (z))]`
    /// - returns `[batch, out_channels, out_grid...]`
    pub fn forward_to(&self, x: &Tensor, out_grid: &[usize]) -> Result<Tensor, ModelError> {
        let cfg = &self.cfg;
        let dims = x.dims();
        if dims.len() != cfg.dims + 2 || dims[1] != cfg.in_channels || dims.contains(&0) {
            return Err(ModelError::InputShape {
                channels: cfg.in_channels,
                dims: cfg.dims,
                got: dims.to_vec(),
            });
        }
        if out_grid.len() != cfg.dims || out_grid.contains(&0) {
            return Err(ModelError::OutputGrid {
                dims: cfg.dims,
                got: out_grid.to_vec(),
            });
        }
        let in_grid = &dims[2..];
        let x = if cfg.grid_channels {
            let g = grid_channels(dims[0], in_grid, x.dtype(), x.device())?;
            Tensor::cat(&[x, &g], 1)?
        } else {
            x.clone()
        };
        match &self.body {
            Body::Fourier(f) => f.forward_to(cfg, &x, out_grid),
            Body::UNet(u) => unet_forward(cfg, u, &x, out_grid),
        }
    }
}

/// The U-Net on `x` (grid channels appended), refusing another output
/// grid or a grid its poolings do not divide.
fn unet_forward(
    cfg: &ModelConfig,
    unet: &UNet,
    x: &Tensor,
    out_grid: &[usize],
) -> Result<Tensor, ModelError> {
    let in_grid = &x.dims()[2..];
    if in_grid != out_grid {
        return Err(ModelError::UNetGrid {
            reason: format!(
                "maps onto its input's grid only: asked for {out_grid:?} from {in_grid:?}; \
                 give it an input on the grid wanted"
            ),
        });
    }
    let multiple = cfg.grid_multiple();
    if in_grid.iter().any(|n| n % multiple != 0) {
        return Err(ModelError::UNetGrid {
            reason: format!(
                "needs every grid axis divisible by 2^model.unet_levels = {multiple}, got {in_grid:?}; \
                 choose a grid divisible by it or lower model.unet_levels"
            ),
        });
    }
    Ok(unet.forward(x)?)
}

impl Fourier {
    /// Creates (or loads) the lifting and projection under `embeddings`
    /// and the blocks of `cfg` under `trunk`.
    fn new(
        cfg: &ModelConfig,
        trunk: VarBuilder,
        embeddings: VarBuilder,
    ) -> Result<Self, ModelError> {
        let vb = embeddings;
        let lifting = ChannelMlp::new(
            cfg.lifting_in_channels(),
            cfg.lifting_ratio * cfg.width,
            cfg.width,
            cfg.activation,
            vb.pp("lifting"),
        )?;
        let blocks_vb = trunk.pp("blocks");
        let blocks = (0..cfg.layers)
            .map(|i| FnoBlock::new(cfg, blocks_vb.pp(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let projection = ChannelMlp::new(
            cfg.width,
            cfg.projection_ratio * cfg.width,
            cfg.out_channels,
            cfg.activation,
            vb.pp("projection"),
        )?;
        Ok(Self {
            lifting,
            blocks,
            projection,
        })
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.lifting.num_parameters()
            + self
                .blocks
                .iter()
                .map(FnoBlock::num_parameters)
                .sum::<usize>()
            + self.projection.num_parameters()
    }

    /// Lifting, blocks and projection on `x` (grid channels appended).
    fn forward_to(
        &self,
        cfg: &ModelConfig,
        x: &Tensor,
        out_grid: &[usize],
    ) -> Result<Tensor, ModelError> {
        let in_grid = &x.dims()[2..];
        let v = pad(
            &self.lifting.forward(x)?,
            &padding_amounts(in_grid, &cfg.padding),
        )?;
        let padded_out: Vec<usize> = out_grid
            .iter()
            .zip(padding_amounts(out_grid, &cfg.padding))
            .map(|(n, p)| n + p)
            .collect();
        let fused = cfg.activation == Activation::Gelu
            && super::inference::recording()
            && (v.device().is_cpu() || v.device().is_cuda())
            && v.dims().get(2..) == Some(&padded_out[..])
            && self.blocks.iter().all(|b| b.fusable(v.device()).is_some());
        let v = match fused {
            true => self.blocks_fused(cfg, &v)?,
            false => self.blocks_one_by_one(cfg, v, &padded_out)?,
        };
        Ok(self.projection.forward(&unpad(&v, out_grid)?)?)
    }

    /// The Fourier blocks as separate ops, the last one onto `padded_out`.
    fn blocks_one_by_one(
        &self,
        cfg: &ModelConfig,
        mut v: Tensor,
        padded_out: &[usize],
    ) -> Result<Tensor, ModelError> {
        let last = self.blocks.len() - 1;
        for (i, block) in self.blocks.iter().enumerate() {
            v = if i == last {
                block.forward_to(&v, Some(padded_out), None)?
            } else {
                block.forward_to(&v, None, Some(cfg.activation))?
            };
        }
        Ok(v)
    }

    /// All Fourier blocks as one op on the input grid (training on the CPU
    /// or CUDA; see `block_op` and `cuda::block` for why), with their
    /// weights stacked.
    fn blocks_fused(&self, cfg: &ModelConfig, v: &Tensor) -> Result<Tensor, ModelError> {
        let mut spectral = Vec::with_capacity(2 * self.blocks.len());
        for block in &self.blocks {
            let k = block.fusable(v.device()).ok_or_else(|| {
                candle_core::Error::Msg("the fused block stack needs dense spectral weights".into())
            })?;
            spectral.extend([k.weight_re().clone(), k.weight_im().clone()]);
        }
        let pointwise = self
            .blocks
            .iter()
            .map(|b| b.pointwise.packed())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let op = BlocksOp::new(&cfg.modes);
        Ok(v.contiguous()?.apply_op3(
            &Tensor::stack(&spectral, 0)?,
            &Tensor::stack(&pointwise, 0)?,
            op,
        )?)
    }
}

impl Module for Fno {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        Fno::forward(self, x).map_err(|e| match e {
            ModelError::Tensor(e) => e,
            other => candle_core::Error::wrap(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::{max_abs, max_abs_diff as diff};
    use crate::model::Factorization;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn small(dims: usize, padding: Vec<f64>) -> ModelConfig {
        ModelConfig {
            dims,
            modes: vec![4; dims],
            width: 6,
            layers: 2,
            in_channels: 2,
            out_channels: 3,
            padding,
            ..ModelConfig::default()
        }
    }

    fn build(cfg: &ModelConfig) -> (VarMap, Fno) {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let model = Fno::new(cfg, vb).unwrap();
        (map, model)
    }

    fn input(cfg: &ModelConfig, batch: usize, grid: &[usize]) -> Tensor {
        let mut shape = vec![batch, cfg.in_channels];
        shape.extend_from_slice(grid);
        Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap()
    }

    /// The fused stack of blocks against the blocks run as separate ops:
    /// same output and same gradients for the block input and every block
    /// parameter, in f64, on odd and even grids, one to three blocks.
    #[test]
    fn fused_blocks_match_the_separate_ops() {
        for (dims, grid, layers) in [(1, vec![15], 3), (2, vec![12, 9], 2), (2, vec![8, 8], 1)] {
            let cfg = ModelConfig {
                dims,
                modes: vec![3; dims],
                width: 4,
                layers,
                ..ModelConfig::default()
            };
            let map = VarMap::new();
            let model = Fno::new(
                &cfg,
                VarBuilder::from_varmap(&map, DType::F64, &Device::Cpu),
            )
            .unwrap();
            let shape = [&[2, 4][..], &grid].concat();
            let v = candle_core::Var::from_tensor(
                &Tensor::randn(0f64, 1.0, shape.as_slice(), &Device::Cpu).unwrap(),
            )
            .unwrap();
            let r = Tensor::randn(0f64, 1.0, shape.as_slice(), &Device::Cpu).unwrap();
            let Body::Fourier(f) = &model.body else {
                panic!("an FNO config built a U-Net");
            };
            let fused = f.blocks_fused(&cfg, v.as_tensor()).unwrap();
            let plain = f
                .blocks_one_by_one(&cfg, v.as_tensor().clone(), &grid)
                .unwrap();
            assert!(diff(&fused, &plain) < 1e-12, "{grid:?}: outputs differ");
            let g_fused = (&fused * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g_plain = (&plain * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let mut checked = 0;
            for (name, var) in map.data().lock().unwrap().iter() {
                if !name.starts_with("blocks") {
                    continue;
                }
                let (a, b) = (g_fused.get(var).unwrap(), g_plain.get(var).unwrap());
                let scale = max_abs(b);
                assert!(
                    diff(a, b) <= 1e-10 * scale.max(1.0),
                    "{grid:?}: gradient of {name}"
                );
                checked += 1;
            }
            assert_eq!(checked, 4 * layers);
            let (a, b) = (g_fused.get(&v).unwrap(), g_plain.get(&v).unwrap());
            assert!(diff(a, b) < 1e-10, "{grid:?}: input gradient");
        }
    }

    /// Inside an inference scope the model gives the same output (to f32
    /// rounding: value-only GELU evaluates the normal CDF by another
    /// approximation than the one that also yields the derivative), keeps
    /// nothing for a backward pass, and says so if one is attempted.
    #[test]
    fn inference_scope_matches_and_refuses_backward() {
        let cfg = small(2, vec![0.25, 0.0]);
        let (_map, model) = build(&cfg);
        let x = input(&cfg, 2, &[16, 16]);
        let recorded = model.forward(&x).unwrap();
        let plain = crate::model::inference(|| model.forward(&x)).unwrap();
        let scale = max_abs(&recorded).max(1.0);
        assert!(diff(&recorded, &plain) <= 1e-6 * scale);
        let err = plain
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap_err();
        assert!(
            err.to_string().contains("without a recorded forward pass"),
            "{err}"
        );
    }

    /// The factorised forms of `small(dims)`.
    fn factorised(dims: usize) -> [ModelConfig; 2] {
        [
            ModelConfig {
                factorization: Factorization::Tucker,
                rank: 0.4,
                ..small(dims, vec![])
            },
            ModelConfig {
                factorization: Factorization::PerAxis,
                ..small(dims, vec![])
            },
        ]
    }

    /// In 1D the per-axis (F-FNO) model is the dense one: with the same
    /// weights (the axis's under `spectral.axis0`) it gives the same output
    /// on the training grid, where the dense model runs the fused stack
    /// and the per-axis one its blocks one by one, and onto a finer grid.
    #[test]
    fn per_axis_in_1d_is_the_dense_model() {
        let dense_cfg = ModelConfig {
            dims: 1,
            modes: vec![5],
            width: 4,
            layers: 3,
            ..ModelConfig::default()
        };
        let map = VarMap::new();
        let dense = Fno::new(
            &dense_cfg,
            VarBuilder::from_varmap(&map, DType::F64, &Device::Cpu),
        )
        .unwrap();
        let renamed: std::collections::HashMap<String, Tensor> = map
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let k = k.replace("spectral.weight", "spectral.axis0.weight");
                (k, v.as_tensor().copy().unwrap())
            })
            .collect();
        let per_axis_cfg = ModelConfig {
            factorization: Factorization::PerAxis,
            ..dense_cfg
        };
        let per_axis = Fno::new(
            &per_axis_cfg,
            VarBuilder::from_tensors(renamed, DType::F64, &Device::Cpu),
        )
        .unwrap();
        let x = Tensor::randn(0f64, 1.0, (3, 1, 24), &Device::Cpu).unwrap();
        for out in [24, 48] {
            let (a, b) = (
                dense.forward_to(&x, &[out]).unwrap(),
                per_axis.forward_to(&x, &[out]).unwrap(),
            );
            assert!(diff(&a, &b) < 1e-10, "{out}: {}", diff(&a, &b));
        }
    }

    #[test]
    fn every_parameter_gets_a_gradient() {
        let [tucker, per_axis] = factorised(2);
        for cfg in [
            small(1, vec![0.25]),
            small(2, vec![0.25, 0.0]),
            tucker,
            per_axis,
        ] {
            let (map, model) = build(&cfg);
            let grid = vec![16; cfg.dims];
            let y = model.forward(&input(&cfg, 2, &grid)).unwrap();
            let grads = y.sqr().unwrap().mean_all().unwrap().backward().unwrap();
            let vars = map.all_vars();
            assert!(vars.len() >= 4 + 2 * cfg.layers + 4);
            for var in vars {
                let g = grads
                    .get(var.as_tensor())
                    .expect("every parameter is in the graph");
                let norm: f32 = g.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
                assert!(
                    norm > 0.0,
                    "zero gradient for a {:?} parameter",
                    var.shape()
                );
            }
        }
    }

    #[test]
    fn parameter_count_matches_the_var_map() {
        let factorised = [factorised(2), factorised(3)].concat();
        for cfg in [small(1, vec![]), small(2, vec![]), small(3, vec![])]
            .into_iter()
            .chain(factorised)
        {
            let (map, model) = build(&cfg);
            let total: usize = map.all_vars().iter().map(|v| v.elem_count()).sum();
            assert_eq!(model.num_parameters(), total);
        }
    }

    #[test]
    fn output_shapes_at_other_resolutions() {
        let factorised = factorised(2).map(|c| ModelConfig {
            padding: vec![0.125; 2],
            ..c
        });
        for cfg in [small(1, vec![0.125]), small(2, vec![0.125; 2])]
            .into_iter()
            .chain(factorised)
        {
            let dims = cfg.dims;
            let (_map, model) = build(&cfg);
            // Trained resolution 16; 0.5x, 2x, an odd size never seen, and
            // sizes below 2 * modes.
            for n in [16, 8, 32, 33, 5] {
                let x = input(&cfg, 2, &vec![n; dims]);
                assert_eq!(model.forward(&x).unwrap().dims()[2..], vec![n; dims][..]);
                for out in [8, 32, 33, 5] {
                    let y = model.forward_to(&x, &vec![out; dims]).unwrap();
                    let mut expected = vec![2, 3];
                    expected.extend(vec![out; dims]);
                    assert_eq!(y.dims(), expected.as_slice(), "{n} -> {out}");
                }
            }
        }
    }

    #[test]
    fn save_then_load_gives_identical_output() {
        let cfg = small(2, vec![0.25, 0.0]);
        let (map, model) = build(&cfg);
        let x = input(&cfg, 2, &[12, 10]);
        let before: Vec<f32> = model
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        map.save(&path).unwrap();
        let (mut loaded_map, loaded) = build(&cfg);
        loaded_map.load(&path).unwrap();
        let after: Vec<f32> = loaded
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn rejects_inputs_that_do_not_fit() {
        let cfg = small(2, vec![]);
        let (_map, model) = build(&cfg);
        let wrong_channels = Tensor::zeros((1, 5, 8, 8), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            model.forward(&wrong_channels),
            Err(ModelError::InputShape { .. })
        ));
        let wrong_rank = Tensor::zeros((1, 2, 8), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            model.forward(&wrong_rank),
            Err(ModelError::InputShape { .. })
        ));
        let x = Tensor::zeros((1, 2, 8, 8), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            model.forward_to(&x, &[8]),
            Err(ModelError::OutputGrid { .. })
        ));
        let bad = ModelConfig { width: 0, ..cfg };
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        assert!(matches!(
            Fno::new(&bad, vb),
            Err(ModelError::InvalidConfig { field: "width", .. })
        ));
    }

    #[test]
    fn unet_kind_maps_onto_its_input_grid_only() {
        let cfg = ModelConfig {
            dims: 2,
            modes: vec![4, 4],
            kind: ModelKind::Unet,
            unet_features: 4,
            unet_levels: 2,
            ..ModelConfig::default()
        };
        let map = VarMap::new();
        let model = Fno::new(
            &cfg,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let unet = UNet::new(
            UNetShape {
                dims: 2,
                in_channels: 3,
                out_channels: 1,
                features: 4,
                levels: 2,
            },
            cfg.activation,
            VarBuilder::from_varmap(&VarMap::new(), DType::F32, &Device::Cpu),
        )
        .unwrap();
        assert_eq!(model.num_parameters(), unet.num_parameters());
        assert!(model.clipped_modes(&[8, 8], &[16, 16]).is_none());
        for grid in [[8, 8], [16, 12]] {
            let x = Tensor::randn(0f32, 1.0, (2, 1, grid[0], grid[1]), &Device::Cpu).unwrap();
            assert_eq!(model.forward(&x).unwrap().dims(), &[2, 1, grid[0], grid[1]]);
        }
        let x = Tensor::randn(0f32, 1.0, (2, 1, 8, 8), &Device::Cpu).unwrap();
        assert!(matches!(
            model.forward_to(&x, &[16, 16]),
            Err(ModelError::UNetGrid { .. })
        ));
        let odd = Tensor::randn(0f32, 1.0, (2, 1, 8, 6), &Device::Cpu).unwrap();
        let err = model.forward(&odd).unwrap_err().to_string();
        assert!(err.contains("2^model.unet_levels = 4"), "{err}");
    }
}
