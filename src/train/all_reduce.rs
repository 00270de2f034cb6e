//! Summing a step's gradients over the processes of a data-parallel job in
//! one collective call.
//!
//! Each rank's loss is already scaled by its share of the global batch, so
//! the sum of the ranks' gradients is the gradient of the global batch's
//! loss. All gradients travel in one flat f32 buffer (one all-reduce per
//! step, not one per tensor), with a presence flag per variable, so that a
//! variable no rank differentiated stays without a gradient (and AdamW
//! leaves it alone, as on one process), and the step's loss as the last
//! element.
use crate::dist::Communicator;
use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};

/// Replaces `grads` (this rank's, possibly empty when its part of the
/// batch was) by the sum over ranks, and returns the summed `loss`. On one
/// process it changes nothing.
pub(crate) fn all_reduce_gradients(
    comm: &dyn Communicator,
    grads: &mut GradStore,
    vars: &[Var],
    loss: f64,
) -> Result<f64> {
    if comm.size() == 1 {
        return Ok(loss);
    }
    let total: usize = vars.iter().map(|v| v.elem_count() + 1).sum();
    let mut buf = Vec::with_capacity(total + 1);
    for var in vars {
        match grads.get(var) {
            Some(g) => {
                buf.push(1.0f32);
                buf.extend(g.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?);
            }
            None => {
                buf.push(0.0);
                buf.resize(buf.len() + var.elem_count(), 0.0);
            }
        }
    }
    buf.push(loss as f32);
    comm.all_reduce_sum_f32(&mut buf);
    let mut at = 0;
    for var in vars {
        let n = var.elem_count();
        let present = buf[at] > 0.0;
        let values = &buf[at + 1..at + 1 + n];
        at += n + 1;
        grads.remove(var);
        if present {
            let g = Tensor::from_slice(values, var.shape(), &candle_core::Device::Cpu)?
                .to_dtype(var.dtype())?
                .to_device(var.device())?;
            grads.insert(var, g);
        }
    }
    Ok(f64::from(buf[at]))
}
