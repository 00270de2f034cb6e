//! A raw destination pointer that parallel tasks share to write disjoint
//! parts of one buffer.
//!
//! Rayon's safe splitters hand each task one contiguous chunk; the kernels
//! here write strided or interleaved parts (a column block of every row, one
//! run of fields in every mode's row), which no safe splitter expresses.

/// A destination pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<T>(*mut T);

// SAFETY: every caller makes each task write elements no other task touches
// and reads nothing through the pointer that another task writes.
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// Shares the start of `buf` (initialised or not) with the tasks.
    pub(crate) fn new(buf: *mut T) -> Self {
        Self(buf)
    }

    /// The shared pointer.
    pub(crate) fn ptr(self) -> *mut T {
        self.0
    }
}
