//! The sizes of a pointwise (1×1) layer call, read from and checked
//! against the layouts of its operands; shared by the CPU ops, the CUDA
//! bodies and the block stack.
use candle_core::{Error, Layout, Result, Shape};

/// Problem sizes: batch, input and output channels, grid points.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dims {
    pub(super) batch: usize,
    pub(super) c_in: usize,
    pub(super) c_out: usize,
    pub(super) points: usize,
}

/// Reads a `[batch, channels, grid...]` shape as `(batch, channels, points)`.
pub(super) fn split_dims(shape: &Shape) -> Result<(usize, usize, usize)> {
    match shape.dims() {
        [batch, channels, grid @ ..] => Ok((*batch, *channels, grid.iter().product())),
        _ => Err(Error::UnexpectedNumberOfDims {
            expected: 2,
            got: shape.rank(),
            shape: shape.clone(),
        }),
    }
}

/// `shape` with its channel axis set to `channels`.
pub(super) fn with_channels(shape: &Shape, channels: usize) -> Shape {
    let mut dims = shape.dims().to_vec();
    dims[1] = channels;
    Shape::from(dims)
}

/// The sizes of `x · wb`, checking that `wb` is `[C_out, C_in + 1]` for
/// the `C_in` channels of `x`.
pub(super) fn dims_of(x: &Layout, wb: &Layout, op: &'static str) -> Result<Dims> {
    let (batch, c_in, points) = split_dims(x.shape())?;
    let (c_out, c_in1) = wb.shape().dims2()?;
    if c_in1 != c_in + 1 {
        return Err(Error::ShapeMismatchBinaryOp {
            lhs: x.shape().clone(),
            rhs: wb.shape().clone(),
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
