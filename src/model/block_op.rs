//! A whole Fourier block `σ(K v + W v + b)` as one CPU op with its own
//! backward pass.
//!
//! As two ops (the spectral convolution, then the pointwise layer taking
//! `K v` as its skip), candle's backward pass gives `K v` a gradient of its
//! own (a zero tensor plus an addition) and sums the two contributions to
//! `v`'s gradient in another addition: three passes over an
//! activation-sized tensor per block and step, which the fused op replaces
//! by one in-place sum. The spectral weights enter as one stacked
//! `[2, C_in, C_out, modes..]` tensor (real, imaginary) because candle's
//! custom ops take at most three tensors; the stack is a small copy of the
//! weights, not of activations.
use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, DType, Device, Error, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::activation::GeluInPlace;
use super::pointwise::{
    contiguous, dims_of, forward_kernel, grad_input_kernel, Epilogue, GradWeightOp, SavedDerivative,
};
use crate::spectral::{
    check_dtypes, fused_backward, fused_forward, Cached, Geometry, HostView, Wanted,
};

const NAME: &str = "fno-fourier-block";

/// Host gradients of the block input and of the stacked spectral weights,
/// `None` where not wanted.
type BlockGradients<T> = (Option<Vec<T>>, Option<Vec<T>>);

/// `(v [B, C, grid..], w [2, C, C, modes..], wb [C, C + 1]) -> [B, C, grid..]`
/// on the input grid, with GELU when `gelu`.
pub(super) struct BlockOp {
    modes: Vec<usize>,
    gelu: bool,
    /// Chosen when the op is built, on the thread that builds the graph,
    /// as is `record` (keep the input spectrum for the backward pass).
    epilogue: Epilogue,
    record: bool,
    spectrum: Mutex<Option<crate::spectral::Spectrum>>,
    derivative: SavedDerivative,
}

impl BlockOp {
    pub(super) fn new(modes: &[usize], gelu: bool) -> Self {
        Self {
            modes: modes.to_vec(),
            gelu,
            epilogue: Epilogue::new(gelu),
            record: super::inference::recording(),
            spectrum: Mutex::new(None),
            derivative: SavedDerivative::default(),
        }
    }

    /// The spectral geometry for an input of `v_dims` and stacked weights
    /// of `w_dims`, on the input's own grid.
    fn geometry(&self, v_dims: &[usize], w_dims: &[usize]) -> Result<Geometry> {
        let weight = w_dims.get(1..).unwrap_or(&[]);
        if w_dims.first() != Some(&2) {
            return Err(Error::Msg(format!(
                "{NAME}: stacked spectral weights must be [2, C_in, C_out, modes..], got {w_dims:?}"
            )));
        }
        let grid = v_dims.get(2..).unwrap_or(&[]);
        Ok(Geometry::new(
            NAME,
            v_dims,
            weight,
            weight,
            &self.modes,
            grid,
        )?)
    }

    fn forward<T: Cached + GeluInPlace>(
        &self,
        geo: &Geometry,
        (v, v_layout): (&[T], &Layout),
        w: &[T],
        (wb, wb_layout): (&[T], &Layout),
    ) -> Result<Vec<T>> {
        let (w_re, w_im) = w.split_at(w.len() / 2);
        let (k, spectrum) = fused_forward(geo, v, w_re, w_im);
        let dims = dims_of(v_layout, wb_layout, NAME)?;
        let (out, derivative) = forward_kernel(v, wb, Some(&k), self.epilogue, dims);
        if let Some(derivative) = derivative {
            let shape = v_layout.shape().clone();
            self.derivative
                .save(Tensor::from_vec(derivative, shape, &Device::Cpu)?);
        }
        if self.record {
            *self.spectrum.lock().unwrap_or_else(|e| e.into_inner()) = spectrum.map(T::wrap);
        }
        Ok(out)
    }

    /// `dv` and `dw` (stacked) from the pre-activation gradient `dz`.
    fn backward<T: Cached>(
        &self,
        geo: &Geometry,
        [v, w, wb, dz]: [&HostView; 4],
        want_v: bool,
        want_w: bool,
    ) -> Result<BlockGradients<T>> {
        let (v, w, wb, dz) = (
            v.slice::<T>()?,
            w.slice::<T>()?,
            wb.slice::<T>()?,
            dz.slice::<T>()?,
        );
        let (w_re, w_im) = w.split_at(w.len() / 2);
        let spectrum = self
            .spectrum
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .and_then(T::unwrap);
        let wanted = Wanted {
            x: want_v,
            weights: want_w,
            spectrum,
        };
        let (spectral_dv, dw) = fused_backward(geo, v, w_re, w_im, dz, wanted);
        let dv = match spectral_dv {
            Some(mut dv) => {
                let dims = super::pointwise::Dims {
                    batch: geo.batch,
                    c_in: geo.c_in,
                    c_out: geo.c_out,
                    points: geo.in_grid.iter().product(),
                };
                let pointwise_dv = grad_input_kernel(dz, wb, dims);
                dv.par_chunks_mut(4096)
                    .zip(pointwise_dv.par_chunks(4096))
                    .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, &b)| *a += b));
                Some(dv)
            }
            None => None,
        };
        let dw = dw.map(|(mut re, im)| {
            re.extend_from_slice(&im);
            re
        });
        Ok((dv, dw))
    }
}

impl CustomOp3 for BlockOp {
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
        check_dtypes(s1.dtype(), s2.dtype(), s3.dtype())?;
        let geo = self.geometry(l1.dims(), l2.dims())?;
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(v), CpuStorage::F32(w), CpuStorage::F32(wb)) => {
                CpuStorage::F32(self.forward(
                    &geo,
                    (contiguous(v, l1, NAME)?, l1),
                    contiguous(w, l2, NAME)?,
                    (contiguous(wb, l3, NAME)?, l3),
                )?)
            }
            (CpuStorage::F64(v), CpuStorage::F64(w), CpuStorage::F64(wb)) => {
                CpuStorage::F64(self.forward(
                    &geo,
                    (contiguous(v, l1, NAME)?, l1),
                    contiguous(w, l2, NAME)?,
                    (contiguous(wb, l3, NAME)?, l3),
                )?)
            }
            (a, _, _) => return Err(Error::UnsupportedDTypeForOp(a.dtype(), NAME)),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        v: &Tensor,
        w: &Tensor,
        wb: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (want_v, want_w, want_wb) = (v.track_op(), w.track_op(), wb.track_op());
        if !want_v && !want_w && !want_wb {
            return Ok((None, None, None));
        }
        let dz = self.derivative.chain(
            dy,
            self.gelu,
            "fno-fourier-block without a recorded forward pass",
        )?;
        let dwb = match want_wb {
            true => Some(dz.apply_op2_no_bwd(v, &GradWeightOp)?),
            false => None,
        };
        if !want_v && !want_w {
            return Ok((None, None, dwb));
        }
        let geo = self.geometry(v.dims(), w.dims())?;
        let views = [
            HostView::new(NAME, v)?,
            HostView::new(NAME, w)?,
            HostView::new(NAME, wb)?,
            HostView::new(NAME, &dz)?,
        ];
        let views = [&views[0], &views[1], &views[2], &views[3]];
        let (dv, dw) = match v.dtype() {
            DType::F32 => {
                let (dv, dw) = self.backward::<f32>(&geo, views, want_v, want_w)?;
                (
                    dv.map(|g| Tensor::from_vec(g, v.shape(), v.device()))
                        .transpose()?,
                    dw.map(|g| Tensor::from_vec(g, w.shape(), w.device()))
                        .transpose()?,
                )
            }
            _ => {
                let (dv, dw) = self.backward::<f64>(&geo, views, want_v, want_w)?;
                (
                    dv.map(|g| Tensor::from_vec(g, v.shape(), v.device()))
                        .transpose()?,
                    dw.map(|g| Tensor::from_vec(g, w.shape(), w.device()))
                        .transpose()?,
                )
            }
        };
        Ok((dv, dw, dwb))
    }
}
