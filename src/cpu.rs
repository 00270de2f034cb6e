//! Run-time CPU feature checks for the kernels compiled twice (for AVX2 +
//! FMA and for the baseline x86-64 target), so one binary runs everywhere
//! and uses the wide instructions where they exist.

/// Whether this CPU has AVX2 and FMA (cached by the standard library after
/// the first query).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Whether this CPU has AVX-512F (cached like [`has_avx2_fma`]).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512f() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}
