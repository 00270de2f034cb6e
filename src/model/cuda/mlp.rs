//! The two-layer channel MLP's forward pass on CUDA (the body of
//! [`crate::model::mlp`]'s op): two cuBLAS GEMMs, each followed by the
//! epilogue kernel, the first keeping GELU's derivative when recording.
use candle_core::backend::BackendStorage;
use candle_core::{CudaStorage, DType, Error, Layout, Result, Tensor};
use cudarc::driver::CudaSlice;

use super::gemm::{linear, NAME};
use super::kernels::{launch_epilogue, Bias};
use crate::cuda::{tensor, u32_of, view, wrap, GpuReal};
use crate::model::dims::Dims;
use crate::model::epilogue::Epilogue;

/// The two-layer channel MLP's forward pass on CUDA: the output, and the
/// hidden activation with GELU's derivative when `first` keeps it.
pub(crate) struct MlpOutput {
    pub(crate) out: CudaStorage,
    pub(crate) hidden: Option<(Tensor, Tensor)>,
}

fn mlp_forward_t<T: GpuReal>(
    [(x, lx), (wb1, l1), (wb2, l2)]: [(&CudaStorage, &Layout); 3],
    (d1, d2): (Dims, Dims),
    first: Epilogue,
    hidden_shape: &[usize],
) -> Result<MlpOutput> {
    let dev = x.device();
    let (x, wb1, wb2) = (
        view::<T>(NAME, x, lx)?,
        view::<T>(NAME, wb1, l1)?,
        view::<T>(NAME, wb2, l2)?,
    );
    // SAFETY: each GEMM writes every element (β = 0).
    let mut z1: CudaSlice<T> = unsafe { dev.alloc(d1.batch * d1.c_out * d1.points)? };
    linear(dev, &x, &wb1, &mut z1, d1, false)?;
    let bias1 = wb1.slice(d1.c_in..);
    let bias = Bias {
        values: &bias1,
        stride: u32_of("channels", d1.c_in + 1)?,
    };
    let sizes = (d1.batch, d1.c_out, d1.points);
    let (hidden, derivative) = launch_epilogue(dev, &z1.slice(..), bias, None, first, sizes)?;
    drop(z1);
    // SAFETY: as above.
    let mut z2: CudaSlice<T> = unsafe { dev.alloc(d2.batch * d2.c_out * d2.points)? };
    linear(dev, &hidden.slice(..), &wb2, &mut z2, d2, false)?;
    let bias2 = wb2.slice(d2.c_in..);
    let bias = Bias {
        values: &bias2,
        stride: u32_of("channels", d2.c_in + 1)?,
    };
    let sizes = (d2.batch, d2.c_out, d2.points);
    let (out, _) = launch_epilogue(dev, &z2.slice(..), bias, None, Epilogue::Affine, sizes)?;
    let hidden = derivative.map(|derivative| {
        (
            tensor(dev, hidden, hidden_shape),
            tensor(dev, derivative, hidden_shape),
        )
    });
    Ok(MlpOutput {
        out: wrap(dev, out),
        hidden,
    })
}

/// `wb2 · σ(wb1 · x)` on CUDA storages, σ GELU (see [`crate::model::mlp`]).
pub(crate) fn mlp_forward(
    args: [(&CudaStorage, &Layout); 3],
    dims: (Dims, Dims),
    first: Epilogue,
    hidden_shape: &[usize],
) -> Result<MlpOutput> {
    match args[0].0.dtype() {
        DType::F32 => mlp_forward_t::<f32>(args, dims, first, hidden_shape),
        DType::F64 => mlp_forward_t::<f64>(args, dims, first, hidden_shape),
        dtype => Err(Error::UnsupportedDTypeForOp(dtype, NAME)),
    }
}
