//! Deterministic pseudo-random f32 inputs (a 64-bit LCG), identical on every machine and run.

/// `n` pseudo-random values in [-1, 1), the same for the same `seed`.
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// [`values`] times `amp`: values in [-amp, amp) (with `amp = 1` exactly [`values`]).
pub fn values_scaled(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut v = values(n, seed);
    v.iter_mut().for_each(|x| *x *= amp);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_in_range_seeded_and_scaled_exactly() {
        let v = values(10_000, 7);
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
        assert_eq!(v, values(10_000, 7));
        assert_ne!(v, values(10_000, 8));
        let s = values_scaled(10_000, 7, 0.25);
        assert!(v.iter().zip(&s).all(|(a, b)| (a * 0.25).to_bits() == b.to_bits()));
        assert_eq!(values_scaled(100, 3, 1.0), values(100, 3));
    }
}
