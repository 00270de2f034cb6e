//! The whole-grid analysis and synthesis of the spectral convolution as
//! direct, pruned DFTs, one launch per axis: a cuBLAS GEMM along the real
//! last axis, `kernels/dft.cu` along each other one. They are the
//! alternative on CUDA to cuFFT's full-length transforms with our
//! truncation, padding and transposition kernels around them
//! (`spectral/cuda/direct.rs` runs the steps; [`super::CudaTransforms`]
//! picks the path).
//!
//! The plan is host code, so the CPU tests check it against the CPU's
//! `GridTransform`: the GEMMs in plain loops with the dimensions cuBLAS
//! gets, the axis kernel compiled for the host (`crate::kernel_host`).

use super::modes::ModeSet;

/// One launch of a direct transform. Every array holds interleaved complex
/// values except the real rows of the last axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DftStep {
    /// The real last axis, as one GEMM.
    Rows(RowsStep),
    /// Any other axis, as one launch of `kernels/dft.cu`.
    Axis(AxisStep),
}

/// A real GEMM along the last axis: `out[r, o] = sum_i src[r, i] matrix[i,
/// o]` for `src` `[rows, inputs]`, `matrix` `[inputs, outputs]` and `out`
/// `[rows, outputs]`, all row-major. Analysis: the `n` grid points to the
/// `keep` kept bins as `(re, im)` pairs; synthesis: the pairs back to the
/// points (the real part of the inverse transform).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowsStep {
    pub(crate) rows: usize,
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    pub(crate) matrix: Vec<f64>,
}

impl RowsStep {
    /// The step as cuBLAS's column-major `C = A B` without transposes: the
    /// matrix is `A` (`outputs x inputs`), the input `B` (`inputs x rows`),
    /// the output `C` (`outputs x rows`), which are the row-major arrays
    /// above read column-major.
    pub(crate) fn gemm(&self) -> ColumnMajorGemm {
        ColumnMajorGemm {
            m: self.outputs,
            n: self.rows,
            k: self.inputs,
            lda: self.outputs,
            ldb: self.inputs,
            ldc: self.outputs,
        }
    }
}

/// One complex axis: `out[o, p, i] = sum_q src[o, q, i] factors[p, q]` for
/// `src` `[outer, n_in, inner]`, `factors` `[n_out, n_in]` and `out`
/// `[outer, n_out, inner]`, all complex.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AxisStep {
    pub(crate) outer: usize,
    pub(crate) inner: usize,
    pub(crate) n_in: usize,
    pub(crate) n_out: usize,
    pub(crate) factors: Vec<f64>,
}

impl DftStep {
    /// Reals the step writes.
    pub(crate) fn output_len(&self) -> usize {
        match self {
            Self::Rows(r) => r.rows * r.outputs,
            Self::Axis(a) => 2 * a.outer * a.n_out * a.inner,
        }
    }
}

/// The dimensions of a column-major GEMM `C (m x n) = A (m x k) B (k x n)`
/// with leading dimensions `lda`, `ldb`, `ldc`, as cuBLAS takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnMajorGemm {
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) k: usize,
    pub(crate) lda: usize,
    pub(crate) ldb: usize,
    pub(crate) ldc: usize,
}

/// `weight * e^{sign 2πi a b / n}` as `[re, im]`; the product is reduced
/// modulo `n` in integers first, so the angle stays below 2π and exact.
fn twiddle(a: usize, b: usize, n: usize, sign: f64, weight: f64) -> [f64; 2] {
    let m = (a as u128 * b as u128 % n as u128) as f64;
    let angle = sign * std::f64::consts::TAU * m / n as f64;
    [weight * angle.cos(), weight * angle.sin()]
}

/// `[rows.len(), cols.len()]` complex factors `e^{sign 2πi rows[r] cols[c]
/// / n}`, interleaved, row-major.
fn factor_matrix(rows: &[usize], cols: &[usize], n: usize, sign: f64) -> Vec<f64> {
    rows.iter()
        .flat_map(|&a| cols.iter().flat_map(move |&b| twiddle(a, b, n, sign, 1.0)))
        .collect()
}

/// The direct transform between real fields on one grid and their kept
/// modes, as [`super::kernels::GridTransform`] computes it on the CPU; its
/// sizes also drive the cuFFT path (`spectral/cuda/transform.rs`).
pub(crate) struct DirectPlan {
    /// Points per axis.
    pub(crate) grid: Vec<usize>,
    /// Kept indices per axis.
    pub(crate) kept: Vec<usize>,
    /// FFT bin of each kept index, per axis.
    pub(crate) bins: Vec<Vec<usize>>,
    /// Multiplies last-axis mode `k` (after the forward transform, before
    /// the inverse one).
    pub(crate) last_weights: Vec<f64>,
}

impl DirectPlan {
    /// A transform on `grid` for the kept modes of `modes`; `last_weights[k]`
    /// multiplies last-axis mode `k` (after the forward transform, before
    /// the inverse one).
    pub(crate) fn new(grid: &[usize], modes: &ModeSet, last_weights: Vec<f64>) -> Self {
        Self {
            grid: grid.to_vec(),
            kept: modes.kept(),
            bins: (0..grid.len()).map(|a| modes.bins(a, grid[a])).collect(),
            last_weights,
        }
    }

    /// Fields times the points of every axis before `axis`.
    fn outer(&self, fields: usize, axis: usize) -> usize {
        fields * self.grid[..axis].iter().product::<usize>()
    }

    /// Kept indices of every axis after `axis`.
    fn inner(&self, axis: usize) -> usize {
        self.kept[axis + 1..].iter().product()
    }

    /// The steps taking `fields` real fields (`[fields, grid..]`) to their
    /// kept modes (`[fields, kept..]` complex): the last axis first, then
    /// the others from the second-to-last down, each shrinking the array.
    pub(crate) fn analysis(&self, fields: usize) -> Vec<DftStep> {
        let Some(last) = self.grid.len().checked_sub(1) else {
            return Vec::new();
        };
        let (n, keep) = (self.grid[last], self.last_weights.len());
        // w_k e^{-2πikt/n} at [t, (k, re/im)].
        let mut matrix = vec![0.0; 2 * n * keep];
        for (k, &w) in self.last_weights.iter().enumerate() {
            for t in 0..n {
                let [re, im] = twiddle(k, t, n, -1.0, w);
                matrix[2 * (t * keep + k)] = re;
                matrix[2 * (t * keep + k) + 1] = im;
            }
        }
        let mut steps = vec![DftStep::Rows(RowsStep {
            rows: self.outer(fields, last),
            inputs: n,
            outputs: 2 * keep,
            matrix,
        })];
        steps.extend((0..last).rev().map(|ax| {
            let n = self.grid[ax];
            let points: Vec<usize> = (0..n).collect();
            DftStep::Axis(AxisStep {
                outer: self.outer(fields, ax),
                inner: self.inner(ax),
                n_in: n,
                n_out: self.bins[ax].len(),
                factors: factor_matrix(&self.bins[ax], &points, n, -1.0),
            })
        }));
        steps
    }

    /// The steps taking kept modes (`[fields, kept..]` complex) onto the
    /// grid (`[fields, grid..]` real): the first axis first, so the array
    /// grows as late as it can, the real last axis at the end.
    pub(crate) fn synthesis(&self, fields: usize) -> Vec<DftStep> {
        let Some(last) = self.grid.len().checked_sub(1) else {
            return Vec::new();
        };
        let mut steps: Vec<DftStep> = (0..last)
            .map(|ax| {
                let n = self.grid[ax];
                let points: Vec<usize> = (0..n).collect();
                DftStep::Axis(AxisStep {
                    outer: self.outer(fields, ax),
                    inner: self.inner(ax),
                    n_in: self.bins[ax].len(),
                    n_out: n,
                    factors: factor_matrix(&points, &self.bins[ax], n, 1.0),
                })
            })
            .collect();
        let (n, keep) = (self.grid[last], self.last_weights.len());
        // x[t] = sum_k Re(Y_k w_k e^{2πikt/n}) = sum_k Re Y_k Re(..) - Im Y_k
        // Im(..), so [(k, re/im), t] holds (Re, -Im) of the factor. The
        // real inverse takes the imaginary parts of bin 0 and of the
        // Nyquist bin as zero (as the CPU's and cuFFT's do); sin(πt) rounds
        // to about 1e-16, not zero, so those rows stay exactly zero.
        let mut matrix = vec![0.0; 2 * keep * n];
        for (k, &w) in self.last_weights.iter().enumerate() {
            for t in 0..n {
                let [re, im] = twiddle(k, t, n, 1.0, w);
                matrix[2 * k * n + t] = re;
                if k != 0 && 2 * k != n {
                    matrix[(2 * k + 1) * n + t] = -im;
                }
            }
        }
        steps.push(DftStep::Rows(RowsStep {
            rows: self.outer(fields, last),
            inputs: 2 * keep,
            outputs: n,
            matrix,
        }));
        steps
    }
}

#[cfg(test)]
#[path = "dft_plan_tests.rs"]
pub(crate) mod tests;
