//! Inference scopes: forward passes that keep nothing for a backward pass.
//!
//! candle has no `no_grad` mode: every op on a variable records its inputs,
//! and fno's fused ops also keep what their own backward passes need (GELU's
//! derivative, the lifting and projection MLPs' hidden activation), which
//! costs a write of a full-size tensor per activation. Evaluation,
//! prediction and validation never differentiate, so they run inside
//! [`inference`], the counterpart of PyTorch's `torch.no_grad()`.
use std::cell::Cell;

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` with fno's fused ops keeping nothing for a backward pass. A
/// gradient taken through a tensor computed inside fails with candle's
/// "backward not supported" error naming the op. Scopes nest; the previous
/// state is restored when `f` returns or unwinds.
pub fn inference<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the previous state back, also on unwinding.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            RECORDING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(RECORDING.with(|r| r.replace(false)));
    f()
}

/// Whether ops built now should keep what their backward pass needs
/// (false inside [`inference`]).
pub(crate) fn recording() -> bool {
    RECORDING.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_restore() {
        assert!(recording());
        inference(|| {
            assert!(!recording());
            inference(|| assert!(!recording()));
            assert!(!recording());
        });
        assert!(recording());
        let unwound = std::panic::catch_unwind(|| inference(|| panic!("inside")));
        assert!(unwound.is_err());
        assert!(recording());
    }
}
