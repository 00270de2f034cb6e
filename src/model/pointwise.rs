//! Pointwise (1×1) linear layers on channels-first tensors, as fused ops.
//!
//! `y[b, o, p] = Σ_i W[o, i] x[b, i, p] + bias[o] (+ skip[b, o, p])` over every
//! grid point `p`. This is the `W v` of a Fourier block and each layer of the
//! lifting and projection MLPs.
//!
//! Why a custom op: on channels-first data candle only offers a broadcast
//! batched matmul, which DESIGN.md measured at 6.45 ms for the FNO-2D shapes
//! against 1.85 ms for one flat channels-last GEMM, and going channels-last
//! would cost a transpose copy on each side of every spectral convolution.
//! Here each (batch, column block) pair is one small row-major GEMM
//! (`[C_out, C_in] x [C_in, block]`, the same `gemm` kernels candle uses),
//! run single-threaded on a rayon task, so the blocks stream through cache
//! in the native layout; the bias and the skip tensor (the spectral branch
//! of a Fourier block) are written into the destination first and the GEMM
//! accumulates onto them, saving a separate elementwise pass. The backward
//! pass is hand-written on the same scheme: `dx = Wᵀ dy` per block, and
//! `dW = Σ dy xᵀ`, `dbias = Σ dy` reduced over blocks (`dW` as the AVX-512
//! row dots of `row_dots.rs` where the CPU has them, since the crate's
//! AVX-512 kernels handle that shape at half speed).
//!
//! The weight and bias are handed to the op as one `[C_out, C_in + 1]`
//! tensor (`cat` of the two, differentiable), because candle's custom ops
//! take at most three tensors.
//!
//! This file holds the layer; the op is `pointwise_op.rs`, its CPU kernels
//! `pointwise_kernels.rs`. The op is CPU code. On CUDA the GEMM is one
//! batched matmul that candle hands to cuBLAS, and the bias, skip and GELU
//! run in one kernel of ours that also saves GELU's derivative
//! (`cuda/epilogue.rs`); on other devices the layer runs
//! [`pointwise_linear_reference`] and candle's `gelu_erf`.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use candle_nn::{VarBuilder, VarMap};
//! use fno::model::pointwise::PointwiseLinear;
//!
//! let map = VarMap::new();
//! let layer = PointwiseLinear::new(3, 5, VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu)).unwrap();
//! let x = Tensor::zeros((2, 3, 16, 16), DType::F32, &Device::Cpu).unwrap();
//! assert_eq!(layer.forward(&x, None).unwrap().dims(), &[2, 5, 16, 16]);
//! ```
use candle_core::{Error, Result, Shape, Tensor};
use candle_nn::{Init, VarBuilder};

use super::activation::Activation;
use super::pointwise_op::PointwiseOp;

/// A 1×1 convolution with bias over channels-first data of any grid rank.
///
/// Parameters: `weight` `[C_out, C_in]` and `bias` `[C_out]`, both initialised
/// uniformly on `±1/√C_in`, which is PyTorch's default for `Conv1d`
/// (Kaiming-uniform with `a = √5`). neuraloperator stores the weight of the
/// same layer as `[C_out, C_in, 1]`; here the kernel axis is dropped.
#[derive(Debug, Clone)]
pub struct PointwiseLinear {
    weight: Tensor,
    bias: Tensor,
}

impl PointwiseLinear {
    /// Creates (or loads, depending on `vb`) the layer's `weight` and `bias`.
    pub fn new(in_channels: usize, out_channels: usize, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / (in_channels as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight = vb.get_with_hints((out_channels, in_channels), "weight", init)?;
        let bias = vb.get_with_hints(out_channels, "bias", init)?;
        Ok(Self { weight, bias })
    }

    /// The layer with the given `weight` `[C_out, C_in]` and `bias`
    /// `[C_out]` (for instance variables made elsewhere).
    pub fn from_parts(weight: Tensor, bias: Tensor) -> Result<Self> {
        let (c_out, _) = weight.dims2()?;
        if bias.dims() != [c_out] {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: weight.shape().clone(),
                rhs: bias.shape().clone(),
                op: "pointwise-linear-bias",
            });
        }
        Ok(Self { weight, bias })
    }

    /// The weight, `[C_out, C_in]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `[C_out]`.
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count()
    }

    /// `W x + bias`, plus `skip` when given.
    ///
    /// # Shapes
    /// - `x`: `[batch, C_in, x, (y, (z))]`
    /// - `skip`: `[batch, C_out, x, (y, (z))]`
    /// - returns `[batch, C_out, x, (y, (z))]`
    pub fn forward(&self, x: &Tensor, skip: Option<&Tensor>) -> Result<Tensor> {
        self.apply(x, skip, false)
    }

    /// `σ(W x + bias (+ skip))`; GELU is fused into the op (one pass, no
    /// separate activation node), other activations follow as candle ops.
    ///
    /// # Shapes
    /// As [`PointwiseLinear::forward`].
    pub fn forward_activated(
        &self,
        x: &Tensor,
        skip: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Tensor> {
        match activation {
            Activation::Gelu => self.apply(x, skip, true),
            other => other.apply(&self.apply(x, skip, false)?),
        }
    }

    /// Weight and bias as the one `[C_out, C_in + 1]` tensor the CPU ops
    /// take (differentiable: candle splits the gradient back).
    pub(super) fn packed(&self) -> Result<Tensor> {
        Tensor::cat(&[&self.weight, &self.bias.unsqueeze(1)?], 1)
    }

    fn apply(&self, x: &Tensor, skip: Option<&Tensor>, gelu: bool) -> Result<Tensor> {
        let (c_out, c_in) = self.weight.dims2()?;
        let dims = x.dims();
        if dims.len() < 2 || dims[1] != c_in {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: x.shape().clone(),
                rhs: self.weight.shape().clone(),
                op: "pointwise-linear",
            });
        }
        let mut out_dims = dims.to_vec();
        out_dims[1] = c_out;
        if let Some(skip) = skip {
            if skip.dims() != out_dims.as_slice() {
                return Err(Error::ShapeMismatchBinaryOp {
                    lhs: skip.shape().clone(),
                    rhs: Shape::from(out_dims),
                    op: "pointwise-linear-skip",
                });
            }
        }
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() {
            let z = channel_matmul(x, &self.weight)?.reshape(out_dims)?;
            return super::cuda::epilogue::epilogue(&z, &self.bias, skip, gelu);
        }
        if !x.device().is_cpu() {
            // The fused op's kernels are CPU GEMM blocks; elsewhere one
            // batched matmul is the fast path, and the activation is
            // candle's device kernel.
            let y = pointwise_linear_reference(x, &self.weight, &self.bias, skip)?;
            return if gelu { y.gelu_erf() } else { Ok(y) };
        }
        // The op reads any rank as [batch, channels, points], so no reshape
        // node enters the graph (each would cost a full gradient copy in
        // candle's backward pass).
        let x = x.contiguous()?;
        let wb = self.packed()?;
        match skip {
            None => x.apply_op2(&wb, PointwiseOp::new(gelu)),
            Some(skip) => x.apply_op3(&wb, &skip.contiguous()?, PointwiseOp::new(gelu)),
        }
    }
}

/// `Σ_i W[o, i] x[b, i, p]` as one broadcast batched matmul, the grid
/// flattened: `[batch, C_in, grid..]` → `[batch, C_out, points]`.
fn channel_matmul(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    let (batch, c_in) = (dims[0], dims[1]);
    weight
        .broadcast_left(batch)?
        .matmul(&x.reshape((batch, c_in, ()))?)
}

/// Plain-tensor reference of [`PointwiseLinear::forward`], for the tests and
/// the before/after measurement, and the implementation off the CPU: a
/// broadcast batched matmul, as candle's `Conv1d` with a 1-wide kernel would
/// compute it.
pub fn pointwise_linear_reference(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    skip: Option<&Tensor>,
) -> Result<Tensor> {
    let c_out = weight.dim(0)?;
    let mut out_dims = x.dims().to_vec();
    out_dims[1] = c_out;
    let y = channel_matmul(x, weight)?
        .broadcast_add(&bias.reshape((1, c_out, 1))?)?
        .reshape(out_dims)?;
    match skip {
        Some(s) => y + s,
        None => Ok(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn matches_reference_with_and_without_skip() {
        let dev = Device::Cpu;
        let map = VarMap::new();
        let layer =
            PointwiseLinear::new(5, 7, VarBuilder::from_varmap(&map, DType::F32, &dev)).unwrap();
        // 2500 points: two full blocks and a ragged one.
        let x = Tensor::randn(0f32, 1.0, (3, 5, 50, 50), &dev).unwrap();
        let s = Tensor::randn(0f32, 1.0, (3, 7, 50, 50), &dev).unwrap();
        for skip in [None, Some(&s)] {
            let ours = layer.forward(&x, skip).unwrap();
            let reference =
                pointwise_linear_reference(&x, layer.weight(), layer.bias(), skip).unwrap();
            assert_eq!(ours.dims(), &[3, 7, 50, 50]);
            assert!(max_diff(&ours, &reference) < 1e-5);
        }
    }

    #[test]
    fn rejects_wrong_channel_count() {
        let map = VarMap::new();
        let layer = PointwiseLinear::new(
            4,
            2,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let x = Tensor::zeros((1, 3, 8), DType::F32, &Device::Cpu).unwrap();
        assert!(layer.forward(&x, None).is_err());
    }

    #[test]
    fn fused_gelu_matches_separate_ops() {
        let dev = Device::Cpu;
        let map = VarMap::new();
        let layer =
            PointwiseLinear::new(5, 7, VarBuilder::from_varmap(&map, DType::F32, &dev)).unwrap();
        let x = Tensor::randn(0f32, 1.0, (3, 5, 40, 30), &dev).unwrap();
        let s = Tensor::randn(0f32, 1.0, (3, 7, 40, 30), &dev).unwrap();
        let fused = layer
            .forward_activated(&x, Some(&s), Activation::Gelu)
            .unwrap();
        let separate = layer.forward(&x, Some(&s)).unwrap().gelu_erf().unwrap();
        assert!(max_diff(&fused, &separate) < 1e-5);
        let relu = layer.forward_activated(&x, None, Activation::Relu).unwrap();
        assert!(max_diff(&relu, &layer.forward(&x, None).unwrap().relu().unwrap()) == 0.0);
    }

    /// The hand-written backward against central finite differences in f64,
    /// for every input (x, weight, bias and skip), without and with the
    /// fused GELU.
    #[test]
    fn gradients_match_finite_differences() {
        gradient_check(false);
        gradient_check(true);
    }

    fn gradient_check(gelu: bool) {
        let act = if gelu {
            Activation::Gelu
        } else {
            Activation::Relu
        };
        let dev = Device::Cpu;
        let (b, ci, co, p) = (2, 3, 4, 1030);
        let x = Var::randn(0f64, 1.0, (b, ci, p), &dev).unwrap();
        let w = Var::randn(0f64, 1.0, (co, ci), &dev).unwrap();
        let bias = Var::randn(0f64, 1.0, co, &dev).unwrap();
        let s = Var::randn(0f64, 1.0, (b, co, p), &dev).unwrap();
        let probe = Tensor::randn(0f64, 1.0, (b, co, p), &dev).unwrap();
        let layer = PointwiseLinear {
            weight: w.as_tensor().clone(),
            bias: bias.as_tensor().clone(),
        };
        let forward = |layer: &PointwiseLinear, x: &Tensor, s: &Tensor| {
            if gelu {
                layer.forward_activated(x, Some(s), act).unwrap()
            } else {
                layer.forward(x, Some(s)).unwrap()
            }
        };
        let loss = |layer: &PointwiseLinear, x: &Tensor, s: &Tensor| -> f64 {
            let y = forward(layer, x, s);
            // Quadratic so the gradient depends on the output, not just the probe.
            (y.sqr().unwrap() * 0.5 + y.mul(&probe).unwrap())
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        let y = forward(&layer, x.as_tensor(), s.as_tensor());
        let l = (y.sqr().unwrap() * 0.5 + y.mul(&probe).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = l.backward().unwrap();
        // Without the activation the loss is quadratic in every input, so
        // central differences are exact up to rounding and a large step keeps
        // rounding small; GELU needs a small step for truncation error.
        let h = if gelu { 1e-5 } else { 1e-3 };
        let vars = [&x, &w, &bias, &s];
        for (k, var) in vars.iter().enumerate() {
            let analytic: Vec<f64> = grads
                .get(var)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let base: Vec<f64> = var.flatten_all().unwrap().to_vec1().unwrap();
            // A spread of indices, including the ragged last block.
            let picks: Vec<usize> = (0..base.len())
                .step_by((base.len() / 7).max(1))
                .chain([base.len() - 1])
                .collect();
            for i in picks {
                let eval = |d: f64| {
                    let mut v = base.clone();
                    v[i] += d;
                    let t = Tensor::from_vec(v, var.shape(), &dev).unwrap();
                    let mut tensors = [
                        x.as_tensor().clone(),
                        w.as_tensor().clone(),
                        bias.as_tensor().clone(),
                        s.as_tensor().clone(),
                    ];
                    tensors[k] = t;
                    let layer = PointwiseLinear {
                        weight: tensors[1].clone(),
                        bias: tensors[2].clone(),
                    };
                    loss(&layer, &tensors[0], &tensors[3])
                };
                let numeric = (eval(h) - eval(-h)) / (2.0 * h);
                let rel = (analytic[i] - numeric).abs() / analytic[i].abs().max(1.0);
                assert!(
                    rel < 1e-6,
                    "input {k} element {i}: analytic {}, numeric {numeric}",
                    analytic[i]
                );
            }
        }
    }
}
