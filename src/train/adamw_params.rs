//! The hyper-parameters of one AdamW update, shared by the in-place CPU
//! passes (`adamw_inplace.rs`) and their CUDA bodies (`cuda/adamw.rs`).

/// The hyper-parameters of one update.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepParams {
    pub(crate) lr: f64,
    pub(crate) beta1: f64,
    pub(crate) beta2: f64,
    pub(crate) eps: f64,
    pub(crate) weight_decay: f64,
    /// `1 − β1^t`.
    pub(crate) bias1: f64,
    /// `1 − β2^t`.
    pub(crate) bias2: f64,
}
