//! What a pointwise layer applies after its GEMM, shared by the CPU
//! kernels and the CUDA epilogue.

/// What the forward kernel applies to `W x + bias (+ skip)` while each
/// block is in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Epilogue {
    /// Nothing: the layer is affine.
    Affine,
    /// GELU, keeping nothing (inside [`super::inference()`]).
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
