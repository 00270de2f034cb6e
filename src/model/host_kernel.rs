//! The contiguity check and dtype dispatch shared by the model's CPU ops.
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Error, Layout, Result};

use super::activation::GeluInPlace;
use crate::spectral::Cached;

/// A CPU kernel over the contiguous values of three tensors of one float
/// dtype (f32 or f64), returning the output's values.
pub(super) trait HostKernel3 {
    fn run<T: Cached + GeluInPlace>(&self, a: &[T], b: &[T], c: &[T]) -> Result<Vec<T>>;
}

/// Runs `kernel` on the values behind three storages; an error naming `op`
/// when a layout is not contiguous or the dtypes differ or are not f32/f64.
pub(super) fn run_on_host(
    op: &'static str,
    kernel: &impl HostKernel3,
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
    (s3, l3): (&CpuStorage, &Layout),
) -> Result<CpuStorage> {
    match (s1, s2, s3) {
        (CpuStorage::F32(a), CpuStorage::F32(b), CpuStorage::F32(c)) => {
            Ok(CpuStorage::F32(kernel.run(
                contiguous(a, l1, op)?,
                contiguous(b, l2, op)?,
                contiguous(c, l3, op)?,
            )?))
        }
        (CpuStorage::F64(a), CpuStorage::F64(b), CpuStorage::F64(c)) => {
            Ok(CpuStorage::F64(kernel.run(
                contiguous(a, l1, op)?,
                contiguous(b, l2, op)?,
                contiguous(c, l3, op)?,
            )?))
        }
        (a, b, c) => Err(match [b, c].into_iter().find(|s| s.dtype() != a.dtype()) {
            Some(other) => Error::DTypeMismatchBinaryOp {
                lhs: a.dtype(),
                rhs: other.dtype(),
                op,
            },
            None => Error::UnsupportedDTypeForOp(a.dtype(), op),
        }),
    }
}

/// The values behind a contiguous layout; an error naming `op` otherwise.
pub(super) fn contiguous<'a, T>(
    data: &'a [T],
    layout: &Layout,
    op: &'static str,
) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => Err(Error::RequiresContiguous { op }),
    }
}
