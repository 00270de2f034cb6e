//! The two-layer channel MLP used for lifting and projection.
//!
//! On the CPU and on CUDA, with GELU, the two layers run as one op
//! ([`MlpOp`]) with its own backward pass. As two ops, the hidden
//! activation (twice the width, the largest tensor of the model) would get
//! its gradient the way candle accumulates every gradient: a zero tensor,
//! then an addition, two extra passes over it on every training step. The fused op hands the hidden
//! gradient straight from the second layer's backward to the first's.
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Device, Error, Layout, Result, Shape, Tensor};
use candle_nn::VarBuilder;

use super::activation::{Activation, GeluInPlace};
use super::dims::{dims_of, with_channels, Dims};
use super::epilogue::Epilogue;
use super::host_kernel::{run_on_host, HostKernel3};
use super::pointwise::PointwiseLinear;
use super::pointwise_kernels::forward_kernel;
use super::pointwise_op::{multiply, GradInputOp, GradWeightOp};
use super::precision::{kept_precision, widen, Precision};
use crate::spectral::Cached;

/// `fc2(σ(fc1(x)))`, pointwise over the grid: neuraloperator's `ChannelMLP`
/// with two layers. Parameters live under `fc1` and `fc2`.
#[derive(Debug, Clone)]
pub struct ChannelMlp {
    fc1: PointwiseLinear,
    fc2: PointwiseLinear,
    activation: Activation,
}

impl ChannelMlp {
    /// Creates the MLP `in_channels → hidden → out_channels`.
    pub fn new(
        in_channels: usize,
        hidden: usize,
        out_channels: usize,
        activation: Activation,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            fc1: PointwiseLinear::new(in_channels, hidden, vb.pp("fc1"))?,
            fc2: PointwiseLinear::new(hidden, out_channels, vb.pp("fc2"))?,
            activation,
        })
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.fc1.num_parameters() + self.fc2.num_parameters()
    }

    /// Applies the MLP at every grid point.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, x, (y, (z))]`
    /// - returns `[batch, out_channels, x, (y, (z))]`
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let fused_device = x.device().is_cpu() || x.device().is_cuda();
        if fused_device && self.activation == Activation::Gelu {
            let x = x.contiguous()?;
            return x.apply_op3(&self.fc1.packed()?, &self.fc2.packed()?, MlpOp::new());
        }
        let h = self.fc1.forward_activated(x, None, self.activation)?;
        self.fc2.forward(&h, None)
    }
}

/// `(x [B, Ci, grid..], wb1 [H, Ci + 1], wb2 [Co, H + 1]) -> [B, Co, grid..]`:
/// `wb2 · gelu(wb1 · x)` with the biases in the last columns. The forward
/// pass keeps the hidden activation and GELU's derivative for the backward
/// pass (the op instance lives in the graph), in the precision of
/// [`super::with_precision`], except inside [`super::inference()`].
struct MlpOp {
    /// Chosen when the op is built, on the thread that builds the graph.
    first: Epilogue,
    /// The precision of the kept hidden state, chosen likewise.
    precision: Precision,
    saved: Mutex<Option<Hidden>>,
}

/// What the backward pass needs from the forward pass.
struct Hidden {
    /// `gelu(wb1 · x)`, `[B, H, grid..]`.
    activation: Tensor,
    /// `gelu'` at the hidden pre-activation, same shape.
    derivative: Tensor,
}

const NAME: &str = "fno-channel-mlp";

impl MlpOp {
    fn new() -> Self {
        Self {
            first: Epilogue::new(true),
            precision: kept_precision(),
            saved: Mutex::new(None),
        }
    }

    fn save(&self, hidden: Hidden) -> Result<()> {
        let hidden = Hidden {
            activation: self.precision.keep(hidden.activation)?,
            derivative: self.precision.keep(hidden.derivative)?,
        };
        // A poisoned lock still holds a valid Option.
        *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = Some(hidden);
        Ok(())
    }
}

/// The forward pass of one [`MlpOp`] call, with the sizes read from the
/// layouts.
struct MlpForward<'a> {
    op: &'a MlpOp,
    first: Dims,
    second: Dims,
    hidden_shape: Shape,
}

impl HostKernel3 for MlpForward<'_> {
    /// Both layers; records the hidden state when the first layer's
    /// epilogue keeps GELU's derivative.
    fn run<T: Cached + GeluInPlace>(&self, x: &[T], wb1: &[T], wb2: &[T]) -> Result<Vec<T>> {
        let (hidden, derivative) = forward_kernel(x, wb1, None, self.op.first, self.first);
        let (out, _) = forward_kernel(&hidden, wb2, None, Epilogue::Affine, self.second);
        if let Some(derivative) = derivative {
            let shape = &self.hidden_shape;
            self.op.save(Hidden {
                activation: Tensor::from_vec(hidden, shape.clone(), &Device::Cpu)?,
                derivative: Tensor::from_vec(derivative, shape.clone(), &Device::Cpu)?,
            })?;
        }
        Ok(out)
    }
}

impl CustomOp3 for MlpOp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let first = dims_of(l1, l2, NAME)?;
        let hidden_shape = with_channels(l1.shape(), first.c_out);
        let second = dims_of(&Layout::contiguous(hidden_shape.clone()), l3, NAME)?;
        let out_shape = with_channels(l1.shape(), second.c_out);
        let kernel = MlpForward {
            op: self,
            first,
            second,
            hidden_shape,
        };
        let out = run_on_host(NAME, &kernel, (s1, l1), (s2, l2), (s3, l3))?;
        Ok((out, out_shape))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let first = dims_of(l1, l2, NAME)?;
        let hidden_shape = with_channels(l1.shape(), first.c_out);
        let second = dims_of(&Layout::contiguous(hidden_shape.clone()), l3, NAME)?;
        let out_shape = with_channels(l1.shape(), second.c_out);
        let result = super::cuda::mlp::mlp_forward(
            [(s1, l1), (s2, l2), (s3, l3)],
            (first, second),
            self.first,
            hidden_shape.dims(),
        )?;
        if let Some((activation, derivative)) = result.hidden {
            self.save(Hidden {
                activation,
                derivative,
            })?;
        }
        Ok((result.out, out_shape))
    }

    /// Gradients of `x`, `wb1` and `wb2`, each `None` where the argument
    /// neither is nor derives from a variable (the data entering the
    /// lifting MLP, frozen weights).
    fn bwd(
        &self,
        x: &Tensor,
        wb1: &Tensor,
        wb2: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
        let Some(hidden) = saved.as_ref() else {
            return Err(Error::BackwardNotSupported {
                op: "fno-channel-mlp without a recorded forward pass",
            });
        };
        let dy = dy.contiguous()?;
        let dwb2 = match wb2.track_op() {
            true => {
                let activation = widen(&hidden.activation, dy.dtype())?;
                Some(dy.apply_op2_no_bwd(&activation, &GradWeightOp)?)
            }
            false => None,
        };
        if !x.track_op() && !wb1.track_op() {
            return Ok((None, None, dwb2));
        }
        let derivative = widen(&hidden.derivative, dy.dtype())?;
        let dz = multiply(&dy.apply_op2_no_bwd(wb2, &GradInputOp)?, &derivative)?;
        let dwb1 = match wb1.track_op() {
            true => Some(dz.apply_op2_no_bwd(x, &GradWeightOp)?),
            false => None,
        };
        let dx = match x.track_op() {
            true => Some(dz.apply_op2_no_bwd(wb1, &GradInputOp)?),
            false => None,
        };
        Ok((dx, dwb1, dwb2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::max_abs_diff as diff;
    use candle_core::{DType, Var};
    use candle_nn::VarMap;

    /// A GELU MLP `[in, hidden, out]` with fresh variables of `dtype`.
    fn gelu_mlp([i, h, o]: [usize; 3], dtype: DType) -> (VarMap, ChannelMlp) {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, dtype, &Device::Cpu);
        let mlp = ChannelMlp::new(i, h, o, Activation::Gelu, vb).unwrap();
        (map, mlp)
    }

    /// The fused op against the two layers run as separate ops: same output
    /// and same gradients for the input and all four parameter tensors, in
    /// f64 on a 2D grid.
    #[test]
    fn fused_op_matches_the_layer_by_layer_mlp() {
        let dev = Device::Cpu;
        let (map, mlp) = gelu_mlp([3, 8, 2], DType::F64);
        let x = Var::from_tensor(&Tensor::randn(0f64, 1.0, (2, 3, 5, 7), &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f64, 1.0, (2, 2, 5, 7), &dev).unwrap();
        let fused = mlp.forward(x.as_tensor()).unwrap();
        let h = mlp
            .fc1
            .forward_activated(x.as_tensor(), None, Activation::Gelu)
            .unwrap();
        let plain = mlp.fc2.forward(&h, None).unwrap();
        assert!(diff(&fused, &plain) < 1e-12);
        let g_fused = fused
            .mul(&w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g_plain = plain
            .mul(&w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let mut checked = 0;
        for var in map
            .all_vars()
            .iter()
            .map(Var::as_tensor)
            .chain([x.as_tensor()])
        {
            let a = g_fused.get(var).unwrap();
            let b = g_plain.get(var).unwrap();
            assert!(diff(a, b) < 1e-12, "gradient of a {:?} tensor", var.dims());
            checked += 1;
        }
        assert_eq!(checked, 5);
    }

    /// The hand-written backward against central finite differences in
    /// f64, for the input and both packed weight tensors.
    #[test]
    fn gradients_match_finite_differences() {
        let dev = Device::Cpu;
        let shapes: [&[usize]; 3] = [&[2, 3, 6], &[4, 4], &[2, 5]];
        let base: Vec<Tensor> = shapes
            .iter()
            .map(|s| Tensor::randn(0f64, 1.0, *s, &dev).unwrap())
            .collect();
        let r = Tensor::randn(0f64, 1.0, (2, 2, 6), &dev).unwrap();
        let loss = |t: &[Tensor]| {
            t[0].apply_op3(&t[1], &t[2], MlpOp::new())
                .unwrap()
                .mul(&r)
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let vars: Vec<Var> = base.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let grads = loss(&tensors).backward().unwrap();
        let h = 1e-5;
        for (i, var) in vars.iter().enumerate() {
            let analytic: Vec<f64> = grads
                .get(var)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let values: Vec<f64> = base[i].flatten_all().unwrap().to_vec1().unwrap();
            for (j, a) in analytic.iter().enumerate() {
                let at = |delta: f64| {
                    let mut v = values.clone();
                    v[j] += delta;
                    let mut args = base.clone();
                    args[i] = Tensor::from_vec(v, shapes[i], &dev).unwrap();
                    loss(&args).to_scalar::<f64>().unwrap()
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                let rel = (a - numeric).abs() / a.abs().max(1e-3);
                assert!(
                    rel < 1e-6,
                    "argument {i}, element {j}: {a} against {numeric}"
                );
            }
        }
    }

    /// Data input (not a variable): no input gradient is produced, and the
    /// parameters still get theirs.
    #[test]
    fn constant_input_gets_no_gradient() {
        let dev = Device::Cpu;
        let (map, mlp) = gelu_mlp([2, 4, 1], DType::F32);
        let x = Tensor::randn(0f32, 1.0, (2, 2, 16), &dev).unwrap();
        let grads = mlp
            .forward(&x)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(grads.get(&x).is_none());
        for var in map.all_vars() {
            assert!(grads.get(var.as_tensor()).is_some());
        }
    }
}
