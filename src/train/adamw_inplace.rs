//! The AdamW update as three in-place passes, on the CPU and on CUDA.
//!
//! Written with candle's ops, one update costs about a dozen full passes
//! over each parameter, each into a freshly allocated tensor; on the 1D
//! benchmark model that was 14% of a CPU training step, and on the GPU
//! eighteen kernel launches per parameter tensor. Here the two moment
//! updates and the parameter update each read and write their tensors
//! once, in place: in parallel chunks on the CPU, one kernel each on CUDA
//! (`kernels/optim.cu`). The arithmetic is PyTorch's AdamW:
//! `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`,
//! `p ← p (1 − lr λ) − lr (m / b1) / (√(v / b2) + ε)` with the bias
//! corrections `b1 = 1 − β1^t`, `b2 = 1 − β2^t`.
use candle_core::{bail, CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor};
use rayon::prelude::*;

use super::adamw_params::StepParams;

/// Elements per parallel chunk: large enough that scheduling is noise.
const CHUNK: usize = 1 << 14;

/// Updates `param`, `m` and `v` in place from the gradient `grad`. All four
/// must be tensors of one float dtype, shape and device (CPU or CUDA); `m`,
/// `v` and `param` contiguous (they are optimizer-owned variables).
pub(crate) fn step(
    param: &Tensor,
    m: &Tensor,
    v: &Tensor,
    grad: &Tensor,
    p: StepParams,
) -> Result<()> {
    let grad = grad.contiguous()?;
    m.inplace_op2(
        &grad,
        &Moment {
            decay: p.beta1,
            square: false,
        },
    )?;
    v.inplace_op2(
        &grad,
        &Moment {
            decay: p.beta2,
            square: true,
        },
    )?;
    param.inplace_op3(m, v, &Update(p))
}

/// A contiguous view of a layout's elements: `(start, len)`.
fn span(layout: &Layout, what: &str) -> Result<(usize, usize)> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok((start, end - start)),
        None => bail!("adamw: {what} is not contiguous"),
    }
}

/// Start offsets of a moment and of the gradient, and their common length.
fn moment_spans(moment: &Layout, grad: &Layout) -> Result<(usize, usize, usize)> {
    let (a, n) = span(moment, "a moment")?;
    let (b, k) = span(grad, "the gradient")?;
    if n != k {
        bail!("adamw: moment has {n} elements, gradient {k}");
    }
    Ok((a, b, n))
}

/// Start offsets of the parameter and both moments, and their length.
fn update_spans(p: &Layout, m: &Layout, v: &Layout) -> Result<(usize, usize, usize, usize)> {
    let (a, n) = span(p, "the parameter")?;
    let (b, k1) = span(m, "the first moment")?;
    let (c, k2) = span(v, "the second moment")?;
    if n != k1 || n != k2 {
        bail!("adamw: parameter has {n} elements, moments {k1} and {k2}");
    }
    Ok((a, b, c, n))
}

/// `dst ← decay · dst + (1 − decay) · g` (or `g²`).
struct Moment {
    decay: f64,
    square: bool,
}

fn moment<T>(dst: &mut [T], g: &[T], decay: T, one: T, square: bool)
where
    T: Copy
        + Send
        + Sync
        + std::ops::Mul<Output = T>
        + std::ops::Add<Output = T>
        + std::ops::Sub<Output = T>,
{
    let keep = one - decay;
    dst.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .for_each(|(d, g)| {
            for (d, &g) in d.iter_mut().zip(g) {
                let x = if square { g * g } else { g };
                *d = decay * *d + keep * x;
            }
        });
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adamw-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (a, b, n) = moment_spans(l1, l2)?;
        match (s1, s2) {
            (CpuStorage::F32(d), CpuStorage::F32(g)) => moment(
                &mut d[a..a + n],
                &g[b..b + n],
                self.decay as f32,
                1.0,
                self.square,
            ),
            (CpuStorage::F64(d), CpuStorage::F64(g)) => {
                moment(&mut d[a..a + n], &g[b..b + n], self.decay, 1.0, self.square)
            }
            _ => bail!("adamw: moments and gradients must be f32 or f64 alike"),
        }
        Ok(())
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &mut candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (a, b, n) = moment_spans(l1, l2)?;
        super::cuda::adamw::moment(s1, (a, n), (s2, b), self.decay, self.square)
    }
}

/// `p ← p (1 − lr λ) − lr (m / b1) / (√(v / b2) + ε)`.
struct Update(StepParams);

macro_rules! update_impl {
    ($p:expr, $m:expr, $v:expr, $s:expr, $t:ty) => {{
        let s = $s;
        let decay = (1.0 - s.lr * s.weight_decay) as $t;
        let lr = s.lr as $t;
        let inv_b1 = (1.0 / s.bias1) as $t;
        let inv_b2 = (1.0 / s.bias2) as $t;
        let eps = s.eps as $t;
        $p.par_chunks_mut(CHUNK)
            .zip($m.par_chunks(CHUNK).zip($v.par_chunks(CHUNK)))
            .for_each(|(p, (m, v))| {
                for ((p, &m), &v) in p.iter_mut().zip(m).zip(v) {
                    *p = *p * decay - lr * (m * inv_b1) / ((v * inv_b2).sqrt() + eps);
                }
            });
    }};
}

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "adamw-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let (a, b, c, n) = update_spans(l1, l2, l3)?;
        match (s1, s2, s3) {
            (CpuStorage::F32(p), CpuStorage::F32(m), CpuStorage::F32(v)) => {
                update_impl!(&mut p[a..a + n], &m[b..b + n], &v[c..c + n], self.0, f32)
            }
            (CpuStorage::F64(p), CpuStorage::F64(m), CpuStorage::F64(v)) => {
                update_impl!(&mut p[a..a + n], &m[b..b + n], &v[c..c + n], self.0, f64)
            }
            _ => bail!("adamw: parameters and moments must be f32 or f64 alike"),
        }
        Ok(())
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &mut candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<()> {
        let (a, b, c, n) = update_spans(l1, l2, l3)?;
        super::cuda::adamw::update(s1, (a, n), (s2, b), (s3, c), &self.0)
    }
}
