//! `acc += A Bᵀ` where the rows of both `A` and `B` are contiguous: the
//! weight gradient `Σ_p dy[o, p] x[i, p]` of a pointwise layer, computed as
//! row-by-row dot products on AVX-512.
//!
//! Why not the `gemm` crate: its kernels take outer products, so with both
//! operands contiguous along the summed axis it first gathers one of them
//! element by element into its packed layout. With the crate's AVX-512
//! kernels (64-row tiles) that gather cost more than the products
//! themselves: the FNO-1D weight-gradient shape (`[64, 1024] × [1024, 64]`
//! per sample) ran at 64 GFLOP/s against 130 with its AVX2 kernels, while
//! the forward and input-gradient shapes ran 12% faster. Dot products read
//! both operands in place, one cache line per row per step, and reach
//! 150-160 GFLOP/s on the same shape, so the crate keeps the other two
//! shapes and this module takes this one.

/// Types whose weight gradients may take the row-dot path.
pub(crate) trait RowDots: Sized {
    /// `acc[r * acc_ld + c] += Σ_{j < len} a[r * stride + j] b[c * stride + j]`
    /// for `r < rows_a`, `c < rows_b`; returns `false`, touching nothing,
    /// where this type or CPU has no such kernel (the caller then runs a
    /// GEMM).
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `rows_a` (resp. `rows_b`) rows
    /// of `len` values `stride` apart, and `acc` for reads and writes of
    /// `rows_a` rows of `rows_b` values `acc_ld` apart.
    #[allow(clippy::too_many_arguments)]
    unsafe fn accumulate_row_dots(
        a: *const Self,
        rows_a: usize,
        b: *const Self,
        rows_b: usize,
        len: usize,
        stride: usize,
        acc: *mut Self,
        acc_ld: usize,
    ) -> bool;
}

impl RowDots for f64 {
    // The f64 path serves gradient checks, not speed.
    unsafe fn accumulate_row_dots(
        _: *const f64,
        _: usize,
        _: *const f64,
        _: usize,
        _: usize,
        _: usize,
        _: *mut f64,
        _: usize,
    ) -> bool {
        false
    }
}

impl RowDots for f32 {
    unsafe fn accumulate_row_dots(
        a: *const f32,
        rows_a: usize,
        b: *const f32,
        rows_b: usize,
        len: usize,
        stride: usize,
        acc: *mut f32,
        acc_ld: usize,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx512f() {
            let operands = Operands {
                a,
                b,
                len,
                stride,
                acc,
                acc_ld,
            };
            // SAFETY: the CPU has AVX-512F; the bounds are the caller's.
            unsafe { avx512::accumulate(&operands, rows_a, rows_b) };
            return true;
        }
        false
    }
}

/// The pointers and strides every tile shares.
#[cfg(target_arch = "x86_64")]
struct Operands {
    a: *const f32,
    b: *const f32,
    len: usize,
    stride: usize,
    acc: *mut f32,
    acc_ld: usize,
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        _mm512_fmadd_ps, _mm512_maskz_loadu_ps, _mm512_reduce_add_ps, _mm512_setzero_ps,
    };

    use super::Operands;

    /// Rows of `A` (and of `B`) per register tile. 4 × 4 accumulators leave
    /// room for the 8 loaded rows in the 32 registers, and measured faster
    /// than 4 × 6 (8 loads per 16 FMAs keep the load ports off the critical
    /// path).
    const TILE: usize = 4;
    const LANES: usize = 16;

    /// Walks `rows_a × rows_b` in `TILE × TILE` tiles (smaller at the
    /// edges), each one pass over the summed axis.
    ///
    /// # Safety
    /// AVX-512F must be available; bounds as in `RowDots`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn accumulate(op: &Operands, rows_a: usize, rows_b: usize) {
        for r0 in (0..rows_a).step_by(TILE) {
            for c0 in (0..rows_b).step_by(TILE) {
                let (r, c) = ((rows_a - r0).min(TILE), (rows_b - c0).min(TILE));
                // SAFETY: the tile lies within the caller's bounds.
                unsafe {
                    match (r, c) {
                        (4, 4) => tile::<4, 4>(op, r0, c0),
                        (4, 3) => tile::<4, 3>(op, r0, c0),
                        (4, 2) => tile::<4, 2>(op, r0, c0),
                        (4, 1) => tile::<4, 1>(op, r0, c0),
                        (3, 4) => tile::<3, 4>(op, r0, c0),
                        (3, 3) => tile::<3, 3>(op, r0, c0),
                        (3, 2) => tile::<3, 2>(op, r0, c0),
                        (3, 1) => tile::<3, 1>(op, r0, c0),
                        (2, 4) => tile::<2, 4>(op, r0, c0),
                        (2, 3) => tile::<2, 3>(op, r0, c0),
                        (2, 2) => tile::<2, 2>(op, r0, c0),
                        (2, 1) => tile::<2, 1>(op, r0, c0),
                        (1, 4) => tile::<1, 4>(op, r0, c0),
                        (1, 3) => tile::<1, 3>(op, r0, c0),
                        (1, 2) => tile::<1, 2>(op, r0, c0),
                        _ => tile::<1, 1>(op, r0, c0),
                    }
                }
            }
        }
    }

    /// One `R × C` tile: `R + C` row loads feed `R · C` FMAs per 16 values,
    /// the last partial vector through masked loads (zeros past `len`).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const R: usize, const C: usize>(op: &Operands, r0: usize, c0: usize) {
        // SAFETY (whole body): every offset below is `row * stride + j`
        // with `row` inside the tile and `j < len`, within the caller's
        // bounds; masked lanes past `len` are not read.
        unsafe {
            let a = op.a.add(r0 * op.stride);
            let b = op.b.add(c0 * op.stride);
            // One accumulator per output, grouped by column of the tile.
            let mut sums = [[_mm512_setzero_ps(); R]; C];
            let mut rows_a = [_mm512_setzero_ps(); R];
            let full = op.len / LANES * LANES;
            let mut j = 0;
            while j < op.len {
                // All lanes until the last partial vector.
                let mask = if j < full {
                    u16::MAX
                } else {
                    (1u16 << (op.len - full)) - 1
                };
                for (r, av) in rows_a.iter_mut().enumerate() {
                    *av = _mm512_maskz_loadu_ps(mask, a.add(r * op.stride + j));
                }
                for (c, column) in sums.iter_mut().enumerate() {
                    let bv = _mm512_maskz_loadu_ps(mask, b.add(c * op.stride + j));
                    for (sum, &av) in column.iter_mut().zip(&rows_a) {
                        *sum = _mm512_fmadd_ps(av, bv, *sum);
                    }
                }
                j += LANES;
            }
            for (c, column) in sums.iter().enumerate() {
                for (r, &sum) in column.iter().enumerate() {
                    *op.acc.add((r0 + r) * op.acc_ld + c0 + c) += _mm512_reduce_add_ps(sum);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RowDots;

    /// Full 4 × 4 tiles and edge tiles (3 and 2 rows), full vectors and a partial
    /// one, against plain f64 sums; on a CPU without AVX-512 it checks the
    /// refusal instead.
    #[test]
    fn row_dots_match_plain_sums_with_edge_tiles_and_a_partial_vector() {
        let (rows_a, rows_b, len, stride, acc_ld) = (7, 6, 37, 41, 9);
        let a: Vec<f32> = (0..rows_a * stride)
            .map(|i| ((i * 37) % 23) as f32 / 23.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..rows_b * stride)
            .map(|i| ((i * 53) % 19) as f32 / 19.0 - 0.5)
            .collect();
        let start = 0.25f32;
        let mut acc = vec![start; rows_a * acc_ld];
        // SAFETY: the buffers hold the rows and strides passed.
        let done = unsafe {
            f32::accumulate_row_dots(
                a.as_ptr(),
                rows_a,
                b.as_ptr(),
                rows_b,
                len,
                stride,
                acc.as_mut_ptr(),
                acc_ld,
            )
        };
        if !done {
            assert!(
                acc.iter().all(|&v| v == start),
                "a refused call must not write"
            );
            return;
        }
        for r in 0..rows_a {
            for c in 0..acc_ld {
                let got = acc[r * acc_ld + c];
                if c >= rows_b {
                    assert_eq!(got, start, "column {c} lies outside the tile");
                    continue;
                }
                let want: f64 = (0..len)
                    .map(|j| f64::from(a[r * stride + j]) * f64::from(b[c * stride + j]))
                    .sum::<f64>()
                    + f64::from(start);
                assert!(
                    (f64::from(got) - want).abs() < 1e-5,
                    "({r}, {c}): {got} vs {want}"
                );
            }
        }
    }
}
