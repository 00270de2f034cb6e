//! Helpers shared by the model's unit tests.
use candle_core::{DType, Tensor};

/// The largest absolute value of `t`, as f64.
pub(crate) fn max_abs(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64)
        .and_then(|t| t.abs())
        .and_then(|t| t.max_all())
        .and_then(|t| t.to_scalar::<f64>())
        .expect("max_abs of a CPU tensor")
}

/// The largest absolute elementwise difference of two tensors of one shape.
pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    max_abs(&(a - b).expect("tensors of one shape and dtype"))
}
