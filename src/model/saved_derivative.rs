//! GELU's derivative as a fused op keeps it between its forward and
//! backward passes, shared by the CPU ops and the CUDA epilogue (each
//! brings its own elementwise product to chain it into a gradient).
use std::sync::Mutex;

use candle_core::{Error, Result, Tensor};

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

    /// The gradient of the pre-activation from the output's: `dy · σ′`
    /// (computed by `multiply`) with the activation (`activated`), `dy`
    /// itself without one; an error naming `op` if no forward pass saved
    /// the derivative.
    pub(super) fn chain(
        &self,
        dy: &Tensor,
        activated: bool,
        op: &'static str,
        multiply: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
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
