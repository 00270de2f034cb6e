//! The pointwise layer as fused CPU ops: the forward op (GEMM, bias, skip
//! and GELU in one pass, keeping GELU's derivative) and its two gradient
//! ops, which also have CUDA bodies (`cuda/gemm.rs`), and the elementwise
//! product that chains a saved GELU derivative into a gradient.
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Device, Error, Layout, Result, Shape, Tensor};

use super::dims::{dims_of, split_dims, with_channels, Dims};
use super::epilogue::Epilogue;
use super::host_kernel::contiguous;
use super::pointwise_kernels::{forward_kernel, grad_input_kernel, grad_weight_kernel};
use super::saved_derivative::SavedDerivative;

/// `(x [B, Ci, grid..], wb [Co, Ci + 1]) -> [B, Co, grid..]`, with an
/// optional third `skip [B, Co, grid..]` argument. Grids are read as one flat
/// axis of `P` points.
///
/// With `gelu`, the op returns `gelu(z)` for the affine output `z` and keeps
/// `gelu'(z)` for its backward pass (a candle op can only return one tensor,
/// so the op instance, which the graph holds on to, stores it). Fusing saves
/// a separate activation node, whose output and gradient candle would each
/// allocate, fill and accumulate.
pub(super) struct PointwiseOp {
    gelu: bool,
    /// Chosen when the op is built, on the thread that builds the graph
    /// (candle may run the forward kernel elsewhere).
    epilogue: Epilogue,
    saved_grad: SavedDerivative,
}

/// `a * b` elementwise (shapes equal), in our one-pass kernel on CUDA.
pub(super) fn multiply(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "cuda")]
    if a.device().is_cuda() {
        return super::cuda::multiply::multiply(a, b);
    }
    a.mul(b)
}

/// `(dy [B, Co, grid..], wb [Co, Ci + 1]) -> dx [B, Ci, grid..]`.
pub(super) struct GradInputOp;

/// `(dy [B, Co, grid..], x [B, Ci, grid..]) -> dwb [Co, Ci + 1]`.
pub(super) struct GradWeightOp;

/// Runs `f` on the f32 or f64 slices behind two storages.
macro_rules! dispatch2 {
    ($op:expr, $s1:expr, $l1:expr, $s2:expr, $l2:expr, |$a:ident, $b:ident| $body:expr) => {
        match ($s1, $s2) {
            (CpuStorage::F32($a), CpuStorage::F32($b)) => {
                let $a = contiguous($a, $l1, $op)?;
                let $b = contiguous($b, $l2, $op)?;
                CpuStorage::F32($body)
            }
            (CpuStorage::F64($a), CpuStorage::F64($b)) => {
                let $a = contiguous($a, $l1, $op)?;
                let $b = contiguous($b, $l2, $op)?;
                CpuStorage::F64($body)
            }
            (a, b) if a.dtype() != b.dtype() => {
                return Err(Error::DTypeMismatchBinaryOp {
                    lhs: a.dtype(),
                    rhs: b.dtype(),
                    op: $op,
                })
            }
            (a, _) => return Err(Error::UnsupportedDTypeForOp(a.dtype(), $op)),
        }
    };
}

impl PointwiseOp {
    /// The op for one application, with or without the fused GELU.
    pub(super) fn new(gelu: bool) -> Self {
        Self {
            gelu,
            epilogue: Epilogue::new(gelu),
            saved_grad: SavedDerivative::default(),
        }
    }

    /// Runs the forward kernel for whichever dtype the storages hold.
    fn run(
        &self,
        name: &'static str,
        x: (&CpuStorage, &Layout),
        wb: (&CpuStorage, &Layout),
        skip: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let d = dims_of(x.1, wb.1, name)?;
        let shape = with_channels(x.1.shape(), d.c_out);
        if let Some((_, l)) = skip {
            if l.shape() != &shape {
                return Err(Error::ShapeMismatchBinaryOp {
                    lhs: l.shape().clone(),
                    rhs: shape,
                    op: name,
                });
            }
        }
        macro_rules! go {
            ($variant:ident, $t:ty, $xs:expr) => {{
                let xs = contiguous($xs, x.1, name)?;
                let w = match wb.0 {
                    CpuStorage::$variant(v) => contiguous(v, wb.1, name)?,
                    other => {
                        return Err(Error::DTypeMismatchBinaryOp {
                            lhs: x.0.dtype(),
                            rhs: other.dtype(),
                            op: name,
                        })
                    }
                };
                let s = match skip {
                    None => None,
                    Some((CpuStorage::$variant(v), l)) => Some(contiguous(v, l, name)?),
                    Some((other, _)) => {
                        return Err(Error::DTypeMismatchBinaryOp {
                            lhs: x.0.dtype(),
                            rhs: other.dtype(),
                            op: name,
                        })
                    }
                };
                let (out, deriv) = forward_kernel(xs, w, s, self.epilogue, d);
                if let Some(deriv) = deriv {
                    let saved = Tensor::from_vec(deriv, shape.clone(), &Device::Cpu)?;
                    self.saved_grad.save(saved);
                }
                CpuStorage::$variant(out)
            }};
        }
        let out = match x.0 {
            CpuStorage::F32(v) => go!(F32, f32, v),
            CpuStorage::F64(v) => go!(F64, f64, v),
            other => return Err(Error::UnsupportedDTypeForOp(other.dtype(), name)),
        };
        Ok((out, shape))
    }

    /// Gradients of `x`, `wb` and the skip (the pre-activation's), each
    /// `None` where the argument neither is nor derives from a variable:
    /// candle would accumulate and then drop them, and the input of the
    /// first lifting layer (data) or frozen weights (inverse problems,
    /// fine-tuning's residual) would cost a GEMM each for nothing.
    fn backward(
        &self,
        x: &Tensor,
        wb: &Tensor,
        skip: Option<&Tensor>,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let want_skip = skip.is_some_and(Tensor::track_op);
        if !x.track_op() && !wb.track_op() && !want_skip {
            return Ok((None, None, None));
        }
        let dz = self.saved_grad.chain(
            dy,
            self.gelu,
            "fno-pointwise-linear without a recorded forward pass",
            multiply,
        )?;
        let dx = match x.track_op() {
            true => Some(dz.apply_op2_no_bwd(wb, &GradInputOp)?),
            false => None,
        };
        let dwb = match wb.track_op() {
            true => Some(dz.apply_op2_no_bwd(x, &GradWeightOp)?),
            false => None,
        };
        Ok((dx, dwb, want_skip.then_some(dz)))
    }
}

impl CustomOp2 for PointwiseOp {
    fn name(&self) -> &'static str {
        "fno-pointwise-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.run(CustomOp2::name(self), (s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        wb: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dwb, _) = self.backward(x, wb, None, dy)?;
        Ok((dx, dwb))
    }
}

impl CustomOp3 for PointwiseOp {
    fn name(&self) -> &'static str {
        "fno-pointwise-linear-skip"
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
        self.run(CustomOp3::name(self), (s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        wb: &Tensor,
        skip: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.backward(x, wb, Some(skip), dy)
    }
}

/// The sizes of [`GradInputOp`] from `dy` `[B, Co, grid..]` and `wb`
/// `[Co, Ci + 1]`.
fn grad_input_dims(dy: &Layout, wb: &Layout, op: &'static str) -> Result<Dims> {
    let (batch, c_out, points) = split_dims(dy.shape())?;
    let (c_out_w, c_in1) = wb.shape().dims2()?;
    if c_out_w != c_out || c_in1 == 0 {
        return Err(Error::ShapeMismatchBinaryOp {
            lhs: dy.shape().clone(),
            rhs: wb.shape().clone(),
            op,
        });
    }
    Ok(Dims {
        batch,
        c_in: c_in1 - 1,
        c_out,
        points,
    })
}

/// The sizes of [`GradWeightOp`] from `dy` `[B, Co, grid..]` and `x`
/// `[B, Ci, grid..]`.
fn grad_weight_dims(dy: &Layout, x: &Layout, op: &'static str) -> Result<Dims> {
    let (batch, c_out, points) = split_dims(dy.shape())?;
    let (batch_x, c_in, points_x) = split_dims(x.shape())?;
    if batch_x != batch || points_x != points {
        return Err(Error::ShapeMismatchBinaryOp {
            lhs: dy.shape().clone(),
            rhs: x.shape().clone(),
            op,
        });
    }
    Ok(Dims {
        batch,
        c_in,
        c_out,
        points,
    })
}

impl CustomOp2 for GradInputOp {
    fn name(&self) -> &'static str {
        "fno-pointwise-linear-grad-input"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = grad_input_dims(l1, l2, self.name())?;
        let out = dispatch2!(self.name(), s1, l1, s2, l2, |dy, wb| grad_input_kernel(
            dy, wb, d
        ));
        Ok((out, with_channels(l1.shape(), d.c_in)))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let d = grad_input_dims(l1, l2, self.name())?;
        let out = super::cuda::gemm::grad_input((s1, l1), (s2, l2), d)?;
        Ok((out, with_channels(l1.shape(), d.c_in)))
    }
}

impl CustomOp2 for GradWeightOp {
    fn name(&self) -> &'static str {
        "fno-pointwise-linear-grad-weight"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = grad_weight_dims(l1, l2, self.name())?;
        let out = dispatch2!(self.name(), s1, l1, s2, l2, |dy, x| grad_weight_kernel(
            dy, x, d
        ));
        Ok((out, Shape::from((d.c_out, d.c_in + 1))))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let d = grad_weight_dims(l1, l2, self.name())?;
        let out = super::cuda::gemm::grad_weight((s1, l1), (s2, l2), d)?;
        Ok((out, Shape::from((d.c_out, d.c_in + 1))))
    }
}
