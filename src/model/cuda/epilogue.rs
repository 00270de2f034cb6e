//! The pointwise layers' epilogue on CUDA (feature `cuda`).
//!
//! After cuBLAS has computed `z = W x`, one kernel (`kernels/pointwise.cu`)
//! writes `y = σ(z + bias + skip)` and, for GELU, the derivative σ′ at the
//! same point, which the backward pass multiplies into the incoming
//! gradient. The bias gradient is a per-channel sum in a second kernel.
//! With candle's own ops the same layer costs a broadcast add, an add, the
//! activation, about eight elementwise passes for GELU's derivative and a
//! generic reduction, each over the full activation (see docs/history/gpu.md,
//! "Where the batch-128 step went (before the epilogue)").
use candle_core::backend::BackendStorage;
use candle_core::op::BackpropOp;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, DType, Error, Layout, Result, Shape,
    Storage, Tensor,
};
use cudarc::driver::CudaSlice;

use super::kernels::{launch_channel_sum, launch_epilogue, Bias};
use super::multiply::multiply;
use crate::cuda::{view, GpuReal};
use crate::model::epilogue::Epilogue;
use crate::model::saved_derivative::SavedDerivative;

/// `σ(z + bias[c] (+ skip))` for `z` `[batch, C, grid..]` on a CUDA device,
/// σ GELU (erf form) when `gelu`, the identity otherwise. Differentiable in
/// all three inputs.
pub(crate) fn epilogue(
    z: &Tensor,
    bias: &Tensor,
    skip: Option<&Tensor>,
    gelu: bool,
) -> Result<Tensor> {
    let z = z.contiguous()?;
    let bias = bias.contiguous()?;
    match skip {
        None => z.apply_op2(&bias, EpilogueOp::new(gelu)),
        Some(skip) => z.apply_op3(&bias, &skip.contiguous()?, EpilogueOp::new(gelu)),
    }
}

const OP: &str = "fno-pointwise-epilogue";

/// The epilogue as a candle op; one instance per forward call, holding that
/// call's GELU derivative for its backward pass.
struct EpilogueOp {
    /// Chosen when the op is built: inside [`crate::model::inference()`] GELU's
    /// derivative is not kept.
    epilogue: Epilogue,
    derivative: SavedDerivative,
}

impl EpilogueOp {
    fn new(gelu: bool) -> Self {
        Self {
            epilogue: Epilogue::new(gelu),
            derivative: SavedDerivative::default(),
        }
    }

    fn run(
        &self,
        z: (&CudaStorage, &Layout),
        bias: (&CudaStorage, &Layout),
        skip: Option<(&CudaStorage, &Layout)>,
    ) -> Result<(CudaStorage, Shape)> {
        let shape = z.1.shape().clone();
        let dims = shape.dims();
        if dims.len() < 2 || bias.1.shape().dims() != [dims[1]] {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: shape.clone(),
                rhs: bias.1.shape().clone(),
                op: OP,
            });
        }
        if let Some((_, l)) = skip {
            if l.shape() != &shape {
                return Err(Error::ShapeMismatchBinaryOp {
                    lhs: shape.clone(),
                    rhs: l.shape().clone(),
                    op: OP,
                });
            }
        }
        let dev = z.0.device().clone();
        let (out, derivative) = match z.0.dtype() {
            DType::F32 => {
                let (o, d) = forward_t::<f32>(z, bias, skip, self.epilogue)?;
                (
                    CudaStorage::wrap_cuda_slice(o, dev.clone()),
                    d.map(|d| CudaStorage::wrap_cuda_slice(d, dev.clone())),
                )
            }
            DType::F64 => {
                let (o, d) = forward_t::<f64>(z, bias, skip, self.epilogue)?;
                (
                    CudaStorage::wrap_cuda_slice(o, dev.clone()),
                    d.map(|d| CudaStorage::wrap_cuda_slice(d, dev.clone())),
                )
            }
            dtype => return Err(Error::UnsupportedDTypeForOp(dtype, OP)),
        };
        if let Some(d) = derivative {
            let saved =
                Tensor::from_storage(Storage::Cuda(d), shape.clone(), BackpropOp::none(), false);
            self.derivative.save(saved);
        }
        Ok((out, shape))
    }

    /// The gradient of the affine value `z + bias + skip`, which is also
    /// the gradient of `z` and of `skip`, and the bias gradient.
    fn backward(&self, grad: &Tensor) -> Result<(Tensor, Tensor)> {
        let dz = self.derivative.chain(
            grad,
            self.epilogue != Epilogue::Affine,
            "fno-pointwise-epilogue without a recorded forward pass",
            multiply,
        )?;
        let dbias = dz.apply_op1_no_bwd(&ChannelSum)?;
        Ok((dz, dbias))
    }
}

fn cpu_refused<T>() -> Result<T> {
    Err(Error::Msg(format!("{OP} runs on CUDA tensors only")))
}

impl CustomOp2 for EpilogueOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_refused()
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.run((s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dz, dbias) = self.backward(grad)?;
        Ok((Some(dz), Some(dbias)))
    }
}

impl CustomOp3 for EpilogueOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        cpu_refused()
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.run((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dz, dbias) = self.backward(grad)?;
        Ok((Some(dz.clone()), Some(dbias), Some(dz)))
    }
}

/// `[batch, C, grid..]` → `[C]`: the sum over everything but the channel.
struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "fno-channel-sum"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        cpu_refused()
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let dims = l.shape().dims();
        if dims.len() < 2 {
            return Err(Error::UnexpectedNumberOfDims {
                expected: 2,
                got: dims.len(),
                shape: l.shape().clone(),
            });
        }
        let channels = dims[1];
        let dev = s.device().clone();
        let out = match s.dtype() {
            DType::F32 => CudaStorage::wrap_cuda_slice(channel_sum_t::<f32>(s, l)?, dev),
            DType::F64 => CudaStorage::wrap_cuda_slice(channel_sum_t::<f64>(s, l)?, dev),
            dtype => return Err(Error::UnsupportedDTypeForOp(dtype, "fno-channel-sum")),
        };
        Ok((out, Shape::from(channels)))
    }
}

/// `[batch, C, inner]` sizes of a channels-first shape.
fn split(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

fn forward_t<T: GpuReal>(
    z: (&CudaStorage, &Layout),
    bias: (&CudaStorage, &Layout),
    skip: Option<(&CudaStorage, &Layout)>,
    epilogue: Epilogue,
) -> Result<(CudaSlice<T>, Option<CudaSlice<T>>)> {
    let zv = view::<T>(OP, z.0, z.1)?;
    let bv = view::<T>(OP, bias.0, bias.1)?;
    let sv = skip.map(|(s, l)| view::<T>(OP, s, l)).transpose()?;
    let bias = Bias {
        values: &bv,
        stride: 1,
    };
    launch_epilogue(
        z.0.device(),
        &zv,
        bias,
        sv.as_ref(),
        epilogue,
        split(z.1.dims()),
    )
}

fn channel_sum_t<T: GpuReal>(s: &CudaStorage, l: &Layout) -> Result<CudaSlice<T>> {
    let dev = s.device();
    let sizes = split(l.shape().dims());
    let mut out = dev.alloc_zeros::<T>(sizes.1)?;
    let g = view::<T>("fno-channel-sum", s, l)?;
    launch_channel_sum(dev, &g, &mut out.slice_mut(..), 1, sizes)?;
    Ok(out)
}
