//! Allocator tuning for a process that allocates many large buffers.

/// Tells glibc to keep freed memory for reuse instead of handing it back to
/// the kernel.
///
/// Training steps and sample reads allocate and free buffers of 1 to 20 MiB.
/// With glibc's defaults each one is a fresh `mmap` (or the heap top is
/// trimmed with `brk` once it is freed), so every use faults in and zeroes
/// new pages: perf put a quarter of the FNO-2D training step in page-fault
/// handling, and batched sample reads ran 8x slower than single ones.
/// Raising the mmap and trim thresholds keeps those pages in the heap (up
/// to 1 GiB of freed memory stays with the process). The binary calls it
/// first thing in `main`, the Python package when it is imported; glibc's
/// `mallopt` takes the allocator's lock, so other threads may exist. The
/// calls only tune thresholds, so a refusal (return value 0) is harmless
/// and ignored.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_freed_memory() {
    // SAFETY: mallopt changes allocator parameters only, under glibc's
    // arena lock (it is MT-safe).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Other platforms keep their allocator's defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory() {}

/// Tells the CUDA driver to keep freed device memory in the stream-ordered
/// pool candle allocates from, instead of handing it back to the driver.
///
/// candle allocates every tensor with `cuMemAllocAsync` from the device's
/// default pool, whose release threshold is 0: at each stream
/// synchronisation (reading the loss once per step is one) the pool unmaps
/// all its free memory, and the next step maps it again. PyTorch's caching
/// allocator keeps it; with an unlimited threshold the pool does too, and
/// memory still in use is unaffected.
#[cfg(feature = "cuda")]
pub fn keep_freed_gpu_memory(device: &candle_core::CudaDevice) -> candle_core::Result<()> {
    use cudarc::driver::sys;
    let stream = device.cuda_stream();
    let dev = stream.context().cu_device();
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    let mut threshold: u64 = u64::MAX;
    // SAFETY: `pool` is a valid out-pointer for the device's default pool,
    // and the release threshold attribute reads one u64 from `threshold`,
    // which outlives the call.
    let status = unsafe {
        match sys::cuDeviceGetDefaultMemPool(&mut pool, dev) {
            sys::CUresult::CUDA_SUCCESS => sys::cuMemPoolSetAttribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                (&mut threshold as *mut u64).cast(),
            ),
            failed => failed,
        }
    };
    match status {
        sys::CUresult::CUDA_SUCCESS => Ok(()),
        failed => Err(candle_core::Error::Msg(format!(
            "setting the CUDA memory pool's release threshold: {failed:?}"
        ))),
    }
}
