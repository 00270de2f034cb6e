//! The training code's CUDA bodies (feature `cuda`), on the plumbing of
//! [`crate::cuda`]:
//!
//! - [`adamw`]: the AdamW moment and parameter updates of
//!   `adamw_inplace.rs`, one kernel of `kernels/optim.cu` each.

pub(crate) mod adamw;
