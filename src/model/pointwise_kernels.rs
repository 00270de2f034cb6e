//! The pointwise layer's CPU kernels: the forward GEMM with its bias, skip
//! and GELU epilogue, and the input and weight gradients, each as blocked
//! single-threaded GEMMs on rayon tasks (see [`super::pointwise`] for why).
use std::mem::MaybeUninit;

use candle_core::WithDType;
use gemm::Parallelism;
use rayon::prelude::*;

use super::activation::GeluInPlace;
use super::dims::Dims;
use super::epilogue::Epilogue;
use super::row_dots::RowDots;
use crate::disjoint::SharedMut;

/// Columns (grid points) per GEMM task: `[32, 32] x [32, 1024]` blocks keep
/// the operands in L2 and give the FNO benchmark shapes 20 to 80 tasks.
const BLOCK: usize = 1024;

// How the kernels below tile a call: one task per (batch, column block).
// The tiling is theirs alone, so it lives here rather than with `Dims`.
impl Dims {
    /// Column blocks per batch entry.
    fn blocks(&self) -> usize {
        self.points.div_ceil(BLOCK)
    }

    /// Batch index, first column and width of task `t`.
    fn task(&self, t: usize) -> (usize, usize, usize) {
        let (b, blk) = (t / self.blocks(), t % self.blocks());
        let col = blk * BLOCK;
        (b, col, BLOCK.min(self.points - col))
    }
}

/// `W x + bias (+ skip)`, then the epilogue; the second result is `gelu'`
/// of the pre-activation at the same positions when the epilogue keeps it.
pub(super) fn forward_kernel<T: WithDType + GeluInPlace>(
    x: &[T],
    wb: &[T],
    skip: Option<&[T]>,
    epilogue: Epilogue,
    d: Dims,
) -> (Vec<T>, Option<Vec<T>>) {
    let len = d.batch * d.c_out * d.points;
    // Left uninitialised: the tasks below write every element before it is
    // read, which saves a memset of the whole tensor (and of the
    // derivative).
    let mut out = Vec::<T>::with_capacity(len);
    let dst = SharedMut::new(out.as_mut_ptr());
    let mut deriv_buf =
        (epilogue == Epilogue::GeluWithDerivative).then(|| Vec::<T>::with_capacity(len));
    let deriv = deriv_buf
        .as_mut()
        .map(|v| SharedMut::new(v.as_mut_ptr().cast::<MaybeUninit<T>>()));
    let ld = d.c_in + 1;
    (0..d.batch * d.blocks()).into_par_iter().for_each(|t| {
        let (b, col, width) = d.task(t);
        let base = b * d.c_out * d.points + col;
        // SAFETY: task `t` owns columns `col..col + width` of batch `b` in
        // every output row; the GEMM reads `x` and `wb` within bounds.
        unsafe {
            for o in 0..d.c_out {
                let bias = wb[o * ld + d.c_in];
                // Raw writes: the destination is not initialised yet.
                let row = dst.ptr().add(base + o * d.points);
                match skip {
                    Some(s) => {
                        let s = &s[base + o * d.points..][..width];
                        for (j, &s) in s.iter().enumerate() {
                            row.add(j).write(s + bias);
                        }
                    }
                    None => (0..width).for_each(|j| row.add(j).write(bias)),
                }
            }
            gemm::gemm(
                d.c_out,
                width,
                d.c_in,
                dst.ptr().add(base),
                1,
                d.points as isize,
                true,
                wb.as_ptr(),
                1,
                ld as isize,
                x.as_ptr().add(b * d.c_in * d.points + col),
                1,
                d.points as isize,
                T::one(),
                T::one(),
                false,
                false,
                false,
                Parallelism::None,
            );
            // The block is still in cache: apply the activation now.
            if epilogue != Epilogue::Affine {
                for o in 0..d.c_out {
                    let at = base + o * d.points;
                    let z = std::slice::from_raw_parts_mut(dst.ptr().add(at), width);
                    match deriv {
                        Some(deriv) => T::gelu_in_place(
                            z,
                            std::slice::from_raw_parts_mut(deriv.ptr().add(at), width),
                        ),
                        None => T::gelu_only_in_place(z),
                    }
                }
            }
        }
    });
    // SAFETY: every (batch, row, column) of both buffers was written by
    // exactly one task.
    unsafe {
        out.set_len(len);
        if let Some(v) = deriv_buf.as_mut() {
            v.set_len(len);
        }
    }
    (out, deriv_buf)
}

/// `Wᵀ dy` per block: the input gradient of `W x + bias`.
pub(super) fn grad_input_kernel<T: WithDType>(dy: &[T], wb: &[T], d: Dims) -> Vec<T> {
    let len = d.batch * d.c_in * d.points;
    // Uninitialised: with `read_dst = false` the GEMMs overwrite every block.
    let mut dx = Vec::<T>::with_capacity(len);
    let dst = SharedMut::new(dx.as_mut_ptr());
    let ld = d.c_in + 1;
    (0..d.batch * d.blocks()).into_par_iter().for_each(|t| {
        let (b, col, width) = d.task(t);
        // SAFETY: task `t` owns columns `col..col + width` of batch `b`; Wᵀ
        // is `wb` read with swapped strides.
        unsafe {
            gemm::gemm(
                d.c_in,
                width,
                d.c_out,
                dst.ptr().add(b * d.c_in * d.points + col),
                1,
                d.points as isize,
                false,
                wb.as_ptr(),
                ld as isize,
                1,
                dy.as_ptr().add(b * d.c_out * d.points + col),
                1,
                d.points as isize,
                T::zero(),
                T::one(),
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    });
    // SAFETY: the blocks of all tasks cover the tensor.
    unsafe { dx.set_len(len) };
    dx
}

/// `Σ dy xᵀ` (and `Σ dy` in the last column) over all blocks: the gradient
/// of the packed `[C_out, C_in + 1]` weight.
pub(super) fn grad_weight_kernel<T: WithDType + RowDots>(dy: &[T], x: &[T], d: Dims) -> Vec<T> {
    let ld = d.c_in + 1;
    let zeros = || vec![T::zero(); d.c_out * ld];
    (0..d.batch * d.blocks())
        .into_par_iter()
        .fold(zeros, |mut acc, t| {
            let (b, col, width) = d.task(t);
            let dy_blk = b * d.c_out * d.points + col;
            let x_blk = b * d.c_in * d.points + col;
            // SAFETY: `acc` is this fold's own buffer; the row dots read
            // `width` values of each row of the block, and xᵀ is `x` read
            // with swapped strides; all reads stay within the block.
            let done = unsafe {
                T::accumulate_row_dots(
                    dy.as_ptr().add(dy_blk),
                    d.c_out,
                    x.as_ptr().add(x_blk),
                    d.c_in,
                    width,
                    d.points,
                    acc.as_mut_ptr(),
                    ld,
                )
            };
            if !done {
                // SAFETY: as above.
                unsafe {
                    gemm::gemm(
                        d.c_out,
                        d.c_in,
                        width,
                        acc.as_mut_ptr(),
                        1,
                        ld as isize,
                        true,
                        dy.as_ptr().add(dy_blk),
                        1,
                        d.points as isize,
                        x.as_ptr().add(x_blk),
                        d.points as isize,
                        1,
                        T::one(),
                        T::one(),
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
            }
            for o in 0..d.c_out {
                acc[o * ld + d.c_in] += row_sum(&dy[dy_blk + o * d.points..][..width]);
            }
            acc
        })
        .reduce(zeros, |mut a, b| {
            for (a, b) in a.iter_mut().zip(b) {
                *a += b;
            }
            a
        })
}

/// Sum of a row with eight independent partial sums: a single running sum
/// is one long dependency chain of adds (the compiler may not reorder
/// floating-point additions), which made the bias gradient cost as much as
/// a GEMM.
fn row_sum<T: WithDType>(row: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    let mut sum = tail.iter().fold(T::zero(), |s, &v| s + v);
    for lane in lanes {
        sum += lane;
    }
    sum
}
