//! One strided-batched GEMM through cuBLAS on candle's stream, the
//! building block of the pointwise layers' GEMMs (`model::cuda::gemm`) and
//! of the spectral convolution's direct row transforms
//! (`spectral::cuda::direct`).

use candle_core::Result;
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, GemmConfig, StridedBatchedConfig};
use cudarc::driver::{DevicePtr, DevicePtrMut};

use super::{CudaError, GpuReal};

/// One strided-batched GEMM `C_b = op(A_b) op(B_b) + β C_b` in cuBLAS's
/// column-major terms (β = 1 to accumulate, 0 to overwrite); a zero stride
/// shares an operand between batch entries.
pub(crate) struct BatchedGemm {
    /// The op named in errors.
    pub(crate) op: &'static str,
    /// Whether `A` and `B` enter transposed.
    pub(crate) trans_a: bool,
    pub(crate) trans_b: bool,
    /// `C` is `m x n`; the product sums over `k`.
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    /// Leading dimensions of `A`, `B`, `C`.
    pub(crate) ld: (usize, usize, usize),
    /// Elements between batch entries of `A`, `B`, `C`.
    pub(crate) strides: (usize, usize, usize),
    /// Batch entries.
    pub(crate) batch: usize,
    /// β = 1 (add onto `C`) rather than 0.
    pub(crate) accumulate: bool,
}

impl BatchedGemm {
    /// Runs the GEMM on `blas`'s stream.
    pub(crate) fn run<T: GpuReal, A: DevicePtr<T>, B: DevicePtr<T>, C: DevicePtrMut<T>>(
        &self,
        blas: &CudaBlas,
        a: &A,
        b: &B,
        c: &mut C,
    ) -> Result<()> {
        let too_large = |what: &str, value: usize, limit: &'static str| CudaError::TooLarge {
            what: format!("{}: {what}", self.op),
            value,
            limit,
        };
        let int = |what: &str, v: usize| i32::try_from(v).map_err(|_| too_large(what, v, "i32"));
        let long = |what: &str, v: usize| i64::try_from(v).map_err(|_| too_large(what, v, "i64"));
        let op = |t: bool| match t {
            true => cublasOperation_t::CUBLAS_OP_T,
            false => cublasOperation_t::CUBLAS_OP_N,
        };
        let cfg = StridedBatchedConfig {
            gemm: GemmConfig {
                transa: op(self.trans_a),
                transb: op(self.trans_b),
                m: int("rows", self.m)?,
                n: int("columns", self.n)?,
                k: int("inner size", self.k)?,
                alpha: T::from_f64(1.0),
                lda: int("leading dimension", self.ld.0)?,
                ldb: int("leading dimension", self.ld.1)?,
                beta: T::from_f64(if self.accumulate { 1.0 } else { 0.0 }),
                ldc: int("leading dimension", self.ld.2)?,
            },
            batch_size: int("batch", self.batch)?,
            stride_a: long("stride", self.strides.0)?,
            stride_b: long("stride", self.strides.1)?,
            stride_c: long("stride", self.strides.2)?,
        };
        // SAFETY: every caller sizes A, B and C for these dimensions,
        // leading dimensions and strides (see the formulas at each call).
        unsafe { T::gemm_strided_batched(blas, cfg, a, b, c) }.map_err(|e| {
            CudaError::Cublas {
                op: self.op,
                message: format!("{e:?}"),
            }
            .into()
        })
    }
}
