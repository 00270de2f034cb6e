//! The losses of training and validation, and how a rank's part of a
//! batch weighs in the loss of the whole batch.
use candle_core::{DType, Tensor};

use super::config::LossKind;

/// The training loss between normalised prediction and target.
pub fn loss(kind: LossKind, pred: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let diff = (pred - target)?;
    match kind {
        LossKind::Mse => diff.sqr()?.mean_all(),
        LossKind::RelativeL2 => {
            let b = diff.dim(0)?;
            let num = diff.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
            let den = target.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
            (num / (den + 1e-12)?)?.mean_all()
        }
    }
}

/// Per-sample relative L2 error `‖p − y‖ / ‖y‖` over all channels and points.
pub fn relative_l2_per_sample(pred: &Tensor, target: &Tensor) -> candle_core::Result<Vec<f64>> {
    let b = pred.dim(0)?;
    let num = (pred - target)?.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
    let den = target.reshape((b, ()))?.sqr()?.sum(1)?.sqrt()?;
    let r = (num / (den + 1e-30)?)?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    Ok(r)
}

pub(crate) fn scalar(t: &Tensor) -> candle_core::Result<f64> {
    t.to_dtype(DType::F64)?.to_scalar::<f64>()
}

/// How much of a batch's samples a rank's part holds, for the loss terms
/// over all samples and over the labelled ones (see the trainer's `share`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Share {
    /// For the terms over all samples.
    pub all: f64,
    /// For the terms over the labelled samples.
    pub labelled: f64,
}

/// `t · by`, leaving `t` as it is for a whole batch so that one process
/// computes exactly what it did before data parallelism.
pub(crate) fn weighted(t: Tensor, by: f64) -> candle_core::Result<Tensor> {
    if by == 1.0 {
        Ok(t)
    } else {
        t * by
    }
}
