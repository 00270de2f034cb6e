//! The stack of Fourier blocks `v ← σ(K v + W v + b)` as one CPU op with its
//! own backward pass, for training on the input grid.
//!
//! As separate ops (per block, the spectral convolution, then the pointwise
//! layer taking `K v` as its skip), candle's backward pass gives every
//! intermediate tensor its gradient by allocating a zero tensor and adding
//! each contribution into it: `K v`'s, two into each block input, one into
//! each block output. Those are memory passes over activation-sized tensors
//! that do no arithmetic the model needs. Here the blocks hand gradients to
//! each other directly and the two contributions to a block input are
//! summed in place; candle sees one node.
//!
//! candle's custom ops take at most three tensors, so the weights enter
//! stacked: the spectral ones as `[2L, C, C, modes..]` (block `l`'s real part
//! at `2l`, imaginary part at `2l + 1`) and the packed pointwise ones as
//! `[L, C, C + 1]`. Stacking copies the weights (not activations) once per
//! step, and candle splits their gradients back.
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Device, Error, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::activation::GeluInPlace;
use super::block_stack::{Layer, Stack, NAME};
use super::epilogue::Epilogue;
use super::host_kernel::{run_on_host, HostKernel3};
use super::pointwise_kernels::{forward_kernel, grad_input_kernel, grad_weight_kernel};
use super::precision::{kept_precision, Precision};
use super::row_dots::RowDots;
use crate::spectral::{fused_backward, fused_forward, Cached, HostView, Wanted};

/// `(v [B, C, grid..], w [2L, C, C, modes..], wb [L, C, C + 1]) -> [B, C, grid..]`:
/// `L` Fourier blocks on the input grid, GELU after every block but the
/// last.
pub(super) struct BlocksOp {
    modes: Vec<usize>,
    /// Chosen when the op is built, on the thread that builds the graph
    /// (inside [`super::inference()`] nothing is kept).
    record: bool,
    /// The precision of the kept block inputs and derivatives, also chosen
    /// when the op is built.
    precision: Precision,
    saved: Mutex<Option<Vec<Layer>>>,
}

impl BlocksOp {
    pub(super) fn new(modes: &[usize]) -> Self {
        Self {
            modes: modes.to_vec(),
            record: super::inference::recording(),
            precision: kept_precision(),
            saved: Mutex::new(None),
        }
    }

    fn forward<T: Cached + GeluInPlace>(
        &self,
        s: &Stack,
        v: &[T],
        w: &[T],
        wb: &[T],
    ) -> Result<Vec<T>> {
        let mut kept = Vec::with_capacity(s.layers);
        let mut current: Option<Vec<T>> = None;
        for l in 0..s.layers {
            let input = current.as_deref().unwrap_or(v);
            let w_re = &w[2 * l * s.spectral_len..][..s.spectral_len];
            let w_im = &w[(2 * l + 1) * s.spectral_len..][..s.spectral_len];
            let wb = &wb[l * s.pointwise_len..][..s.pointwise_len];
            let (k, spectrum) = fused_forward(&s.geometry, input, w_re, w_im);
            let last = l + 1 == s.layers;
            let epilogue = match (last, self.record) {
                (true, _) => Epilogue::Affine,
                (false, true) => Epilogue::GeluWithDerivative,
                (false, false) => Epilogue::Gelu,
            };
            let (out, derivative) = forward_kernel(input, wb, Some(&k), epilogue, s.pointwise);
            if self.record {
                let shape = s.geometry.in_shape();
                let layer = Layer {
                    input: current
                        .take()
                        .map(|v| Tensor::from_vec(v, shape.clone(), &Device::Cpu))
                        .transpose()?,
                    derivative: derivative
                        .map(|d| Tensor::from_vec(d, shape, &Device::Cpu))
                        .transpose()?,
                    spectrum: spectrum.map(T::wrap),
                    #[cfg(feature = "cuda")]
                    device_spectrum: None,
                };
                // One block at a time, so that the full-precision copies
                // never add up.
                kept.push(layer.kept_in(self.precision)?);
            }
            current = Some(out);
        }
        self.keep(kept);
        Ok(current.unwrap_or_default())
    }

    /// Keeps the layers for the backward pass when recording.
    fn keep(&self, layers: Vec<Layer>) {
        if self.record {
            *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = Some(layers);
        }
    }

    /// Gradients of `v`, `w` and `wb` from the output's, through the blocks
    /// in reverse.
    fn backward<T: Cached + RowDots>(
        &self,
        s: &Stack,
        [v, w, wb, dy]: [&Tensor; 4],
        mut layers: Vec<Layer>,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let views = [
            HostView::new(NAME, v)?,
            HostView::new(NAME, w)?,
            HostView::new(NAME, wb)?,
            HostView::new(NAME, dy)?,
        ];
        let (grad_v, grad_w, grad_wb) = self.backward_host(
            s,
            [
                views[0].slice::<T>()?,
                views[1].slice::<T>()?,
                views[2].slice::<T>()?,
                views[3].slice::<T>()?,
            ],
            &mut layers,
        )?;
        Ok((
            Tensor::from_vec(grad_v, v.shape(), v.device())?,
            Tensor::from_vec(grad_w, w.shape(), w.device())?,
            Tensor::from_vec(grad_wb, wb.shape(), wb.device())?,
        ))
    }

    /// The three gradients on whichever device the tensors live.
    fn gradients(
        &self,
        stack: &Stack,
        args: [&Tensor; 4],
        layers: Vec<Layer>,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        #[cfg(feature = "cuda")]
        if args[0].device().is_cuda() {
            return super::cuda::block::backward(stack, args, layers);
        }
        match args[0].dtype() {
            DType::F32 => self.backward::<f32>(stack, args, layers),
            _ => self.backward::<f64>(stack, args, layers),
        }
    }

    /// [`BlocksOp::backward`] on host values; takes the kept layers from
    /// the back of `layers`.
    fn backward_host<T: Cached + RowDots>(
        &self,
        s: &Stack,
        [v, w, wb, dy]: [&[T]; 4],
        layers: &mut Vec<Layer>,
    ) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
        let mut grad_w = vec![T::zero(); w.len()];
        let mut grad_wb = vec![T::zero(); wb.len()];
        // The gradient of the current block's output; `None`: the op's own.
        let mut grad: Option<Vec<T>> = None;
        for l in (0..s.layers).rev() {
            let layer = layers
                .pop()
                .ok_or_else(|| {
                    Error::Msg(format!("{NAME}: the forward pass kept {l} blocks too few"))
                })?
                .widened(T::DTYPE)?;
            let input_view = layer
                .input
                .as_ref()
                .map(|t| HostView::new(NAME, t))
                .transpose()?;
            let input = match &input_view {
                Some(view) => view.slice::<T>()?,
                None => v,
            };
            let output_grad = grad.as_deref().unwrap_or(dy);
            let chained: Option<Vec<T>> = match &layer.derivative {
                Some(derivative) => {
                    let view = HostView::new(NAME, derivative)?;
                    Some(
                        output_grad
                            .par_iter()
                            .zip(view.slice::<T>()?.par_iter())
                            .map(|(&g, &d)| g * d)
                            .collect(),
                    )
                }
                None => None,
            };
            // The pre-activation's gradient.
            let dz = chained.as_deref().unwrap_or(output_grad);
            let wb_l = &wb[l * s.pointwise_len..][..s.pointwise_len];
            grad_wb[l * s.pointwise_len..][..s.pointwise_len].copy_from_slice(&grad_weight_kernel(
                dz,
                input,
                s.pointwise,
            ));
            let w_re = &w[2 * l * s.spectral_len..][..s.spectral_len];
            let w_im = &w[(2 * l + 1) * s.spectral_len..][..s.spectral_len];
            let wanted = Wanted {
                x: true,
                weights: true,
                spectrum: layer.spectrum.and_then(T::unwrap),
            };
            let (spectral_dx, spectral_dw) =
                fused_backward(&s.geometry, input, w_re, w_im, dz, wanted);
            if let Some((re, im)) = spectral_dw {
                grad_w[2 * l * s.spectral_len..][..s.spectral_len].copy_from_slice(&re);
                grad_w[(2 * l + 1) * s.spectral_len..][..s.spectral_len].copy_from_slice(&im);
            }
            let mut dx = grad_input_kernel(dz, wb_l, s.pointwise);
            if let Some(spectral_dx) = spectral_dx {
                dx.par_chunks_mut(4096)
                    .zip(spectral_dx.par_chunks(4096))
                    .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, &b)| *a += b));
            }
            grad = Some(dx);
        }
        Ok((grad.unwrap_or_default(), grad_w, grad_wb))
    }
}

/// The forward pass of one [`BlocksOp`] call, with the sizes read from
/// the layouts.
struct BlocksForward<'a> {
    op: &'a BlocksOp,
    stack: Stack,
}

impl HostKernel3 for BlocksForward<'_> {
    fn run<T: Cached + GeluInPlace>(&self, v: &[T], w: &[T], wb: &[T]) -> Result<Vec<T>> {
        self.op.forward(&self.stack, v, w, wb)
    }
}

impl CustomOp3 for BlocksOp {
    fn name(&self) -> &'static str {
        NAME
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
        let stack = Stack::new(&self.modes, l1.dims(), l2.dims(), l3.dims())?;
        let kernel = BlocksForward { op: self, stack };
        let out = run_on_host(NAME, &kernel, (s1, l1), (s2, l2), (s3, l3))?;
        Ok((out, l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let stack = Stack::new(&self.modes, l1.dims(), l2.dims(), l3.dims())?;
        let (out, layers) =
            super::cuda::block::forward(&stack, self.precision, (s1, l1), (s2, l2), (s3, l3))?;
        self.keep(layers);
        Ok((out, l1.shape().clone()))
    }

    /// All three gradients are computed whenever any is wanted: the chain
    /// through the blocks needs the input gradients anyway, and the weight
    /// gradients are small.
    fn bwd(
        &self,
        v: &Tensor,
        w: &Tensor,
        wb: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if !v.track_op() && !w.track_op() && !wb.track_op() {
            return Ok((None, None, None));
        }
        let layers = self
            .saved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(Error::BackwardNotSupported {
                op: "fno-fourier-blocks without a recorded forward pass",
            })?;
        let stack = Stack::new(&self.modes, v.dims(), w.dims(), wb.dims())?;
        let dy = dy.contiguous()?;
        let (dv, dw, dwb) = self.gradients(&stack, [v, w, wb, &dy], layers)?;
        Ok((
            v.track_op().then_some(dv),
            w.track_op().then_some(dw),
            wb.track_op().then_some(dwb),
        ))
    }
}
