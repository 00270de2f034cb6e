//! Pointwise (1×1) linear layers on channels-first tensors, as fused ops.
//!
//! `y[b, o, p] = Σ_i W[o, i] x[b, i, p] + bias[o] (+ skip[b, o, p])` over every
//! grid point `p`. This is the `W v` of a Fourier block and each layer of the
//! lifting and projection MLPs.
//!
//! Why a custom op: on channels-first data candle only offers a broadcast
//! batched matmul, which DESIGN.md measured at 6.45 ms for the FNO-2D shapes
//! against 1.85 ms for one flat channels-last GEMM, and going channels-last
//! would cost a transpose copy on each side of every spectral convolution.
//! Here each (batch, column block) pair is one small row-major GEMM
//! (`[C_out, C_in] x [C_in, block]`, the same `gemm` kernels candle uses),
//! run single-threaded on a rayon task, so the blocks stream through cache
//! in the native layout; the bias and the skip tensor (the spectral branch
//! of a Fourier block) are written into the destination first and the GEMM
//! accumulates onto them, saving a separate elementwise pass. The backward
//! pass is hand-written on the same scheme: `dx = Wᵀ dy` per block, and
//! `dW = Σ dy xᵀ`, `dbias = Σ dy` reduced over blocks (`dW` as the AVX-512
//! row dots of `row_dots.rs` where the CPU has them, since the crate's
//! AVX-512 kernels handle that shape at half speed).
//!
//! The weight and bias are handed to the op as one `[C_out, C_in + 1]`
//! tensor (`cat` of the two, differentiable), because candle's custom ops
//! take at most three tensors.
//!
//! The op is CPU code. On CUDA the GEMM is one batched matmul that candle
//! hands to cuBLAS, and the bias, skip and GELU run in one kernel of ours
//! that also saves GELU's derivative (`pointwise_cuda.rs`); on other
//! devices the layer runs [`pointwise_linear_reference`] and candle's
//! `gelu_erf`.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use candle_nn::{VarBuilder, VarMap};
//! use fno::model::pointwise::PointwiseLinear;
//!
//! let map = VarMap::new();
//! let layer = PointwiseLinear::new(3, 5, VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu)).unwrap();
//! let x = Tensor::zeros((2, 3, 16, 16), DType::F32, &Device::Cpu).unwrap();
//! assert_eq!(layer.forward(&x, None).unwrap().dims(), &[2, 5, 16, 16]);
//! ```
use std::mem::MaybeUninit;
use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, Device, Error, Layout, Result, Shape, Tensor, WithDType,
};
use candle_nn::{Init, VarBuilder};
use gemm::Parallelism;
use rayon::prelude::*;

use super::activation::{Activation, GeluInPlace};
use super::row_dots::RowDots;
use crate::disjoint::SharedMut;

/// A 1×1 convolution with bias over channels-first data of any grid rank.
///
/// Parameters: `weight` `[C_out, C_in]` and `bias` `[C_out]`, both initialised
/// uniformly on `±1/√C_in`, which is PyTorch's default for `Conv1d`
/// (Kaiming-uniform with `a = √5`). neuraloperator stores the weight of the
/// same layer as `[C_out, C_in, 1]`; here the kernel axis is dropped.
#[derive(Debug, Clone)]
pub struct PointwiseLinear {
    weight: Tensor,
    bias: Tensor,
}

impl PointwiseLinear {
    /// Creates (or loads, depending on `vb`) the layer's `weight` and `bias`.
    pub fn new(in_channels: usize, out_channels: usize, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / (in_channels as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight = vb.get_with_hints((out_channels, in_channels), "weight", init)?;
        let bias = vb.get_with_hints(out_channels, "bias", init)?;
        Ok(Self { weight, bias })
    }

    /// The layer with the given `weight` `[C_out, C_in]` and `bias`
    /// `[C_out]` (for instance variables made elsewhere).
    pub fn from_parts(weight: Tensor, bias: Tensor) -> Result<Self> {
        let (c_out, _) = weight.dims2()?;
        if bias.dims() != [c_out] {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: weight.shape().clone(),
                rhs: bias.shape().clone(),
                op: "pointwise-linear-bias",
            });
        }
        Ok(Self { weight, bias })
    }

    /// The weight, `[C_out, C_in]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `[C_out]`.
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count()
    }

    /// `W x + bias`, plus `skip` when given.
    ///
    /// # Shapes
    /// - `x`: `[batch, C_in, x, (y, (z))]`
    /// - `skip`: `[batch, C_out, x, (y, (z))]`
    /// - returns `[batch, C_out, x, (y, (z))]`
    pub fn forward(&self, x: &Tensor, skip: Option<&Tensor>) -> Result<Tensor> {
        self.apply(x, skip, false)
    }

    /// `σ(W x + bias (+ skip))`; GELU is fused into the op (one pass, no
    /// separate activation node), other activations follow as candle ops.
    ///
    /// # Shapes
    /// As [`PointwiseLinear::forward`].
    pub fn forward_activated(
        &self,
        x: &Tensor,
        skip: Option<&Tensor>,
        activation: Activation,
    ) -> Result<Tensor> {
        match activation {
            Activation::Gelu => self.apply(x, skip, true),
            other => other.apply(&self.apply(x, skip, false)?),
        }
    }

    /// Weight and bias as the one `[C_out, C_in + 1]` tensor the CPU ops
    /// take (differentiable: candle splits the gradient back).
    pub(super) fn packed(&self) -> Result<Tensor> {
        Tensor::cat(&[&self.weight, &self.bias.unsqueeze(1)?], 1)
    }

    fn apply(&self, x: &Tensor, skip: Option<&Tensor>, gelu: bool) -> Result<Tensor> {
        let (c_out, c_in) = self.weight.dims2()?;
        let dims = x.dims();
        if dims.len() < 2 || dims[1] != c_in {
            return Err(Error::ShapeMismatchBinaryOp {
                lhs: x.shape().clone(),
                rhs: self.weight.shape().clone(),
                op: "pointwise-linear",
            });
        }
        let mut out_dims = dims.to_vec();
        out_dims[1] = c_out;
        if let Some(skip) = skip {
            if skip.dims() != out_dims.as_slice() {
                return Err(Error::ShapeMismatchBinaryOp {
                    lhs: skip.shape().clone(),
                    rhs: Shape::from(out_dims),
                    op: "pointwise-linear-skip",
                });
            }
        }
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() {
            let z = channel_matmul(x, &self.weight)?.reshape(out_dims)?;
            return super::pointwise_cuda::epilogue(&z, &self.bias, skip, gelu);
        }
        if !x.device().is_cpu() {
            // The fused op's kernels are CPU GEMM blocks; elsewhere one
            // batched matmul is the fast path, and the activation is
            // candle's device kernel.
            let y = pointwise_linear_reference(x, &self.weight, &self.bias, skip)?;
            return if gelu { y.gelu_erf() } else { Ok(y) };
        }
        // The op reads any rank as [batch, channels, points], so no reshape
        // node enters the graph (each would cost a full gradient copy in
        // candle's backward pass).
        let x = x.contiguous()?;
        let wb = self.packed()?;
        match skip {
            None => x.apply_op2(&wb, PointwiseOp::new(gelu)),
            Some(skip) => x.apply_op3(&wb, &skip.contiguous()?, PointwiseOp::new(gelu)),
        }
    }
}

/// Columns (grid points) per GEMM task: `[32, 32] x [32, 1024]` blocks keep
/// the operands in L2 and give the FNO benchmark shapes 20 to 80 tasks.
const BLOCK: usize = 1024;

/// Problem sizes: batch, input and output channels, grid points.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dims {
    pub(super) batch: usize,
    pub(super) c_in: usize,
    pub(super) c_out: usize,
    pub(super) points: usize,
}

impl Dims {
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

/// `(x [B, Ci, grid..], wb [Co, Ci + 1]) -> [B, Co, grid..]`, with an
/// optional third `skip [B, Co, grid..]` argument. Grids are read as one flat
/// axis of `P` points.
///
/// With `gelu`, the op returns `gelu(z)` for the affine output `z` and keeps
/// `gelu'(z)` for its backward pass (a candle op can only return one tensor,
/// so the op instance, which the graph holds on to, stores it). Fusing saves
/// a separate activation node, whose output and gradient candle would each
/// allocate, fill and accumulate.
struct PointwiseOp {
    gelu: bool,
    /// Chosen when the op is built, on the thread that builds the graph
    /// (candle may run the forward kernel elsewhere).
    epilogue: Epilogue,
    saved_grad: SavedDerivative,
}

/// The activation's derivative, recorded by one forward pass of a fused op
/// for its own backward pass (the op instance lives in the graph).
#[derive(Default)]
pub(super) struct SavedDerivative(Mutex<Option<Tensor>>);

impl SavedDerivative {
    /// Records the derivative at this forward pass's pre-activation.
    pub(super) fn save(&self, derivative: Tensor) {
        // A poisoned lock still holds a valid Option<Tensor>.
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(derivative);
    }

    /// The gradient of the pre-activation from the output's: `dy · σ′` with
    /// the activation (`activated`), `dy` itself without one.
    pub(super) fn chain(&self, dy: &Tensor, activated: bool, op: &'static str) -> Result<Tensor> {
        if !activated {
            return dy.contiguous();
        }
        let saved = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match saved.as_ref() {
            Some(derivative) => multiply(dy, derivative),
            None => Err(Error::BackwardNotSupported { op }),
        }
    }
}

/// `(dy [B, Co, grid..], wb [Co, Ci + 1]) -> dx [B, Ci, grid..]`.
pub(super) struct GradInputOp;

/// `(dy [B, Co, grid..], x [B, Ci, grid..]) -> dwb [Co, Ci + 1]`.
pub(super) struct GradWeightOp;

/// `a * b` elementwise (shapes equal), in our one-pass kernel on CUDA.
pub(super) fn multiply(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "cuda")]
    if a.device().is_cuda() {
        return super::pointwise_cuda::multiply(a, b);
    }
    a.mul(b)
}

/// Reads a `[batch, channels, grid...]` shape as `(batch, channels, points)`.
fn split_dims(shape: &Shape) -> Result<(usize, usize, usize)> {
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

/// What the forward kernel applies to `W x + bias (+ skip)` while each
/// block is in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Epilogue {
    /// Nothing: the layer is affine.
    Affine,
    /// GELU, keeping nothing (inside [`super::inference`]).
    Gelu,
    /// GELU, also returning its derivative for the backward pass.
    GeluWithDerivative,
}

impl Epilogue {
    /// The epilogue of a layer with or without GELU, keeping the derivative
    /// unless the op is built inside an inference scope.
    pub(super) fn new(gelu: bool) -> Self {
        match (gelu, super::inference::recording()) {
            (false, _) => Self::Affine,
            (true, false) => Self::Gelu,
            (true, true) => Self::GeluWithDerivative,
        }
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
    fn new(gelu: bool) -> Self {
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
        let out = super::gemm_cuda::grad_input((s1, l1), (s2, l2), d)?;
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
        let out = super::gemm_cuda::grad_weight((s1, l1), (s2, l2), d)?;
        Ok((out, Shape::from((d.c_out, d.c_in + 1))))
    }
}

/// `Σ_i W[o, i] x[b, i, p]` as one broadcast batched matmul, the grid
/// flattened: `[batch, C_in, grid..]` → `[batch, C_out, points]`.
fn channel_matmul(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    let (batch, c_in) = (dims[0], dims[1]);
    weight
        .broadcast_left(batch)?
        .matmul(&x.reshape((batch, c_in, ()))?)
}

/// Plain-tensor reference of [`PointwiseLinear::forward`], for the tests and
/// the before/after measurement, and the implementation off the CPU: a
/// broadcast batched matmul, as candle's `Conv1d` with a 1-wide kernel would
/// compute it.
pub fn pointwise_linear_reference(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    skip: Option<&Tensor>,
) -> Result<Tensor> {
    let c_out = weight.dim(0)?;
    let mut out_dims = x.dims().to_vec();
    out_dims[1] = c_out;
    let y = channel_matmul(x, weight)?
        .broadcast_add(&bias.reshape((1, c_out, 1))?)?
        .reshape(out_dims)?;
    match skip {
        Some(s) => y + s,
        None => Ok(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn matches_reference_with_and_without_skip() {
        let dev = Device::Cpu;
        let map = VarMap::new();
        let layer =
            PointwiseLinear::new(5, 7, VarBuilder::from_varmap(&map, DType::F32, &dev)).unwrap();
        // 2500 points: two full blocks and a ragged one.
        let x = Tensor::randn(0f32, 1.0, (3, 5, 50, 50), &dev).unwrap();
        let s = Tensor::randn(0f32, 1.0, (3, 7, 50, 50), &dev).unwrap();
        for skip in [None, Some(&s)] {
            let ours = layer.forward(&x, skip).unwrap();
            let reference =
                pointwise_linear_reference(&x, layer.weight(), layer.bias(), skip).unwrap();
            assert_eq!(ours.dims(), &[3, 7, 50, 50]);
            assert!(max_diff(&ours, &reference) < 1e-5);
        }
    }

    #[test]
    fn rejects_wrong_channel_count() {
        let map = VarMap::new();
        let layer = PointwiseLinear::new(
            4,
            2,
            VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu),
        )
        .unwrap();
        let x = Tensor::zeros((1, 3, 8), DType::F32, &Device::Cpu).unwrap();
        assert!(layer.forward(&x, None).is_err());
    }

    #[test]
    fn fused_gelu_matches_separate_ops() {
        let dev = Device::Cpu;
        let map = VarMap::new();
        let layer =
            PointwiseLinear::new(5, 7, VarBuilder::from_varmap(&map, DType::F32, &dev)).unwrap();
        let x = Tensor::randn(0f32, 1.0, (3, 5, 40, 30), &dev).unwrap();
        let s = Tensor::randn(0f32, 1.0, (3, 7, 40, 30), &dev).unwrap();
        let fused = layer
            .forward_activated(&x, Some(&s), Activation::Gelu)
            .unwrap();
        let separate = layer.forward(&x, Some(&s)).unwrap().gelu_erf().unwrap();
        assert!(max_diff(&fused, &separate) < 1e-5);
        let relu = layer.forward_activated(&x, None, Activation::Relu).unwrap();
        assert!(max_diff(&relu, &layer.forward(&x, None).unwrap().relu().unwrap()) == 0.0);
    }

    /// The hand-written backward against central finite differences in f64,
    /// for every input (x, weight, bias and skip), without and with the
    /// fused GELU.
    #[test]
    fn gradients_match_finite_differences() {
        gradient_check(false);
        gradient_check(true);
    }

    fn gradient_check(gelu: bool) {
        let act = if gelu {
            Activation::Gelu
        } else {
            Activation::Relu
        };
        let dev = Device::Cpu;
        let (b, ci, co, p) = (2, 3, 4, 1030);
        let x = Var::randn(0f64, 1.0, (b, ci, p), &dev).unwrap();
        let w = Var::randn(0f64, 1.0, (co, ci), &dev).unwrap();
        let bias = Var::randn(0f64, 1.0, co, &dev).unwrap();
        let s = Var::randn(0f64, 1.0, (b, co, p), &dev).unwrap();
        let probe = Tensor::randn(0f64, 1.0, (b, co, p), &dev).unwrap();
        let layer = PointwiseLinear {
            weight: w.as_tensor().clone(),
            bias: bias.as_tensor().clone(),
        };
        let forward = |layer: &PointwiseLinear, x: &Tensor, s: &Tensor| {
            if gelu {
                layer.forward_activated(x, Some(s), act).unwrap()
            } else {
                layer.forward(x, Some(s)).unwrap()
            }
        };
        let loss = |layer: &PointwiseLinear, x: &Tensor, s: &Tensor| -> f64 {
            let y = forward(layer, x, s);
            // Quadratic so the gradient depends on the output, not just the probe.
            (y.sqr().unwrap() * 0.5 + y.mul(&probe).unwrap())
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        let y = forward(&layer, x.as_tensor(), s.as_tensor());
        let l = (y.sqr().unwrap() * 0.5 + y.mul(&probe).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = l.backward().unwrap();
        // Without the activation the loss is quadratic in every input, so
        // central differences are exact up to rounding and a large step keeps
        // rounding small; GELU needs a small step for truncation error.
        let h = if gelu { 1e-5 } else { 1e-3 };
        let vars = [&x, &w, &bias, &s];
        for (k, var) in vars.iter().enumerate() {
            let analytic: Vec<f64> = grads
                .get(var)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let base: Vec<f64> = var.flatten_all().unwrap().to_vec1().unwrap();
            // A spread of indices, including the ragged last block.
            let picks: Vec<usize> = (0..base.len())
                .step_by((base.len() / 7).max(1))
                .chain([base.len() - 1])
                .collect();
            for i in picks {
                let eval = |d: f64| {
                    let mut v = base.clone();
                    v[i] += d;
                    let t = Tensor::from_vec(v, var.shape(), &dev).unwrap();
                    let mut tensors = [
                        x.as_tensor().clone(),
                        w.as_tensor().clone(),
                        bias.as_tensor().clone(),
                        s.as_tensor().clone(),
                    ];
                    tensors[k] = t;
                    let layer = PointwiseLinear {
                        weight: tensors[1].clone(),
                        bias: tensors[2].clone(),
                    };
                    loss(&layer, &tensors[0], &tensors[3])
                };
                let numeric = (eval(h) - eval(-h)) / (2.0 * h);
                let rel = (analytic[i] - numeric).abs() / analytic[i].abs().max(1.0);
                assert!(
                    rel < 1e-6,
                    "input {k} element {i}: analytic {}, numeric {numeric}",
                    analytic[i]
                );
            }
        }
    }
}
