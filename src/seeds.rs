//! Seed mixing shared by everything that draws per-item random streams
//! (generated samples, batch schedules, training-sample transforms).

/// One round of SplitMix64's finalisation: neighbouring inputs give
/// unrelated outputs.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64 folded over the parts: unrelated streams for nearby inputs.
pub(crate) fn mix(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x9E37_79B9_7F4A_7C15u64, |h, &p| splitmix64(h ^ p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearby_inputs_give_unrelated_seeds() {
        let a = mix(&[1, 2, 3]);
        let b = mix(&[1, 2, 4]);
        assert_ne!(a, b);
        // Roughly half the bits differ, not a handful.
        assert!((a ^ b).count_ones() > 16, "{a:x} {b:x}");
        assert_eq!(mix(&[1, 2, 3]), a);
    }
}
