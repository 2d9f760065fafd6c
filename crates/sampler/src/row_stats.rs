//! Per-position statistics of the processed logits `z` (../shared/spec/sampler.md §7).
//!
//! With `m = max z`, `Z = Σ exp(z − m)` and `A = Σ exp(z − m)·(z − m)`, the entropy of
//! `softmax(z)` is `H = ln Z − A/Z`. Three passes over a row: max (and argmax), (Z, A), and the
//! inverse-CDF sample. The first two run in 8 independent lanes so the compiler vectorises
//! them; lane sums are gathered per block of [`BLOCK`] tokens into f64, and the block sums are
//! kept so the sample only has to scan one block.

use crate::error::SamplerError;
use crate::fast_exp::exp_nonpositive;

/// Tokens per partial sum kept for the inverse-CDF search.
pub const BLOCK: usize = 1024;
const LANES: usize = 8;

/// Number of block sums a row of `vocab` tokens needs.
pub fn blocks_per_row(vocab: usize) -> usize {
    vocab.div_ceil(BLOCK)
}

/// What the sampler keeps of one canvas position's logits row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RowStats {
    /// `m = max_v z[v]`.
    pub max: f32,
    /// First index holding the maximum (torch.argmax's tie rule).
    pub argmax: u32,
    /// `Z = Σ exp(z − m)`; `softmax(z)[v] = exp(z[v] − m) / Z` (the self-conditioning input).
    pub partition: f64,
    /// Entropy of `softmax(z)` in nats.
    pub entropy: f64,
}

/// `exp(z − m)` as the statistics use it (so callers forming `softmax(z)` get the same weights).
#[inline(always)]
pub fn weight(z: f32, max: f32) -> f32 {
    exp_nonpositive(z - max)
}

/// The maximum of `z` and whether it holds a NaN, in [`LANES`] lanes
/// ([`dgemma_simd_math::lane_max`]).
#[inline(always)]
pub(crate) fn lane_max(z: &[f32]) -> (f32, bool) {
    dgemma_simd_math::lane_max::<LANES>(z)
}

/// Sum in [`LANES`] f32 partial sums combined in f64 ([`dgemma_simd_math::lane_sum`]): a fixed
/// summation order whatever the vector width, so every instruction set gives the same bits.
#[inline(always)]
pub(crate) fn lane_sum(x: &[f32]) -> f64 {
    dgemma_simd_math::lane_sum::<LANES>(x)
}

/// Pass 1 and 2: max, argmax, partition sum and entropy of one row; `block_sums` (one per
/// [`BLOCK`] tokens) receives the partial sums of `exp(z − m)` for [`inverse_cdf_sample`].
///
/// Uses 8-wide AVX2 when the CPU has it. No FMA is enabled and the summation order is fixed by
/// the lane structure, so both paths give bit-identical results.
pub fn row_stats(z: &[f32], position: usize, block_sums: &mut [f64]) -> Result<RowStats, SamplerError> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { row_stats_avx2(z, position, block_sums) };
    }
    row_stats_generic(z, position, block_sums)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_stats_avx2(z: &[f32], position: usize, block_sums: &mut [f64]) -> Result<RowStats, SamplerError> {
    row_stats_generic(z, position, block_sums)
}

#[inline(always)]
fn row_stats_generic(z: &[f32], position: usize, block_sums: &mut [f64]) -> Result<RowStats, SamplerError> {
    let (max, nan) = lane_max(z);
    if nan || !max.is_finite() {
        return Err(SamplerError::NonFinite { position });
    }
    let argmax = z.iter().position(|&v| v == max).unwrap_or(0) as u32;
    let mut partition = 0.0f64;
    let mut weighted = 0.0f64;
    // Two simple loops per block: the element-wise one (exp) is what the loop vectoriser
    // handles; the lane sums keep a fixed summation order whatever the vector width.
    let mut w = [0.0f32; BLOCK];
    let mut wd = [0.0f32; BLOCK];
    for (block, sum) in z.chunks(BLOCK).zip(block_sums.iter_mut()) {
        let n = block.len();
        for ((w, wd), &x) in w[..n].iter_mut().zip(wd[..n].iter_mut()).zip(block) {
            let d = x - max;
            let e = exp_nonpositive(d);
            *w = e;
            *wd = e * d;
        }
        let (bz, ba) = (lane_sum(&w[..n]), lane_sum(&wd[..n]));
        *sum = bz;
        partition += bz;
        weighted += ba;
    }
    let entropy = partition.ln() - weighted / partition;
    Ok(RowStats { max, argmax, partition, entropy: entropy.max(0.0) })
}

/// Pass 3: inverse-CDF sample with a uniform draw `r ∈ [0, 1)`: the smallest `v` with a
/// non-zero weight whose running sum of `exp(z − m)` reaches `r · Z` (llama.cpp's rule). The
/// running sum is the block sums of [`row_stats`] up to `v`'s block, then token by token.
pub fn inverse_cdf_sample(z: &[f32], stats: &RowStats, block_sums: &[f64], r: f32) -> u32 {
    let target = r as f64 * stats.partition;
    let mut running = 0.0f64;
    let mut first_block = 0;
    for (b, &s) in block_sums.iter().enumerate() {
        if running + s >= target && s > 0.0 {
            first_block = b;
            break;
        }
        running += s;
        first_block = b + 1;
    }
    let mut last_nonzero = stats.argmax;
    for (v, &x) in z.iter().enumerate().skip(first_block * BLOCK) {
        let e = weight(x, stats.max);
        if e > 0.0 {
            running += e as f64;
            last_nonzero = v as u32;
            if running >= target {
                return v as u32;
            }
        }
    }
    // Only reachable through rounding when r is within an ulp of 1.
    last_nonzero
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(z: &[f32]) -> (RowStats, Vec<f64>) {
        let mut sums = vec![0.0; blocks_per_row(z.len())];
        (row_stats(z, 0, &mut sums).unwrap(), sums)
    }

    fn naive_entropy(z: &[f32]) -> f64 {
        let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let s: f64 = z.iter().map(|&x| (x as f64 - m).exp()).sum();
        -z.iter()
            .map(|&x| {
                let p = (x as f64 - m).exp() / s;
                if p > 0.0 { p * p.ln() } else { 0.0 }
            })
            .sum::<f64>()
    }

    #[test]
    fn entropy_formula_matches_naive_computation() {
        let rows: Vec<Vec<f32>> = vec![
            vec![0.0; 7],
            vec![10.0, 0.0, -5.0, 3.0],
            (0..1000).map(|i| ((i * 7919) % 113) as f32 * 0.37 - 20.0).collect(),
            (0..5000).map(|i| ((i * 104_729) % 997) as f32 * 0.05 - 30.0).collect(),
            vec![100.0, -100.0, -100.0],
        ];
        for z in rows {
            let (s, _) = stats(&z);
            let h = naive_entropy(&z);
            assert!((s.entropy - h).abs() < 1e-6 * h.max(1.0), "{} vs {}", s.entropy, h);
            let want_z: f64 = z.iter().map(|&x| (x as f64 - s.max as f64).exp()).sum();
            assert!((s.partition - want_z).abs() < 1e-6 * want_z);
        }
        let (uniform, _) = stats(&[1.5; 8]);
        assert!((uniform.entropy - 8f64.ln()).abs() < 1e-6);
    }

    #[test]
    fn dispatched_and_portable_paths_agree_bit_for_bit() {
        let z: Vec<f32> = (0..10_007).map(|i| ((i * 7919) % 1013) as f32 * 0.013 - 6.0).collect();
        let nb = blocks_per_row(z.len());
        let (mut a, mut b) = (vec![0.0; nb], vec![0.0; nb]);
        let fast = row_stats(&z, 0, &mut a).unwrap();
        let portable = row_stats_generic(&z, 0, &mut b).unwrap();
        assert_eq!(fast, portable);
        assert_eq!(a, b);
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        let (s, _) = stats(&[1.0, 3.0, 2.0, 3.0]);
        assert_eq!((s.argmax, s.max), (1, 3.0));
        let mut long = vec![0.0f32; 3000];
        long[2500] = 4.0;
        long[2999] = 4.0;
        assert_eq!(stats(&long).0.argmax, 2500);
    }

    #[test]
    fn non_finite_rows_are_errors() {
        let mut sums = [0.0; 1];
        assert!(matches!(row_stats(&[1.0, f32::NAN], 4, &mut sums), Err(SamplerError::NonFinite { position: 4 })));
        assert!(row_stats(&[f32::INFINITY, 0.0], 0, &mut sums).is_err());
        assert!(row_stats(&[f32::NEG_INFINITY; 3], 0, &mut sums).is_err());
        let mut nan_late = vec![0.0f32; 20];
        nan_late[17] = f32::NAN;
        assert!(row_stats(&nan_late, 0, &mut sums).is_err());
        // -inf entries beside finite ones are fine (zero probability).
        let s = row_stats(&[f32::NEG_INFINITY, 0.0], 0, &mut sums).unwrap();
        assert_eq!(s.entropy, 0.0);
    }

    #[test]
    fn inverse_cdf_follows_the_cumulative_weights() {
        // weights exp(z - m) = 1, 1, 2 (ln 2), Z = 4.
        let z = [0.0f32, 0.0, 2f32.ln()];
        let (s, sums) = stats(&z);
        assert_eq!(inverse_cdf_sample(&z, &s, &sums, 0.0), 0);
        assert_eq!(inverse_cdf_sample(&z, &s, &sums, 0.24), 0);
        assert_eq!(inverse_cdf_sample(&z, &s, &sums, 0.26), 1);
        assert_eq!(inverse_cdf_sample(&z, &s, &sums, 0.51), 2);
        assert_eq!(inverse_cdf_sample(&z, &s, &sums, f32::from_bits(0x3f7f_ffff)), 2);
        // Zero-weight tokens are never drawn.
        let z = [-1000.0f32, 0.0];
        let (s, sums) = stats(&z);
        assert_eq!(inverse_cdf_sample(&z, &s, &sums, 0.0), 1);
    }

    #[test]
    fn inverse_cdf_across_blocks_equals_a_plain_scan() {
        let z: Vec<f32> = (0..5000).map(|i| ((i * 7919) % 211) as f32 * 0.02).collect();
        let (s, sums) = stats(&z);
        for k in 0..50 {
            let r = k as f32 / 50.0 + 0.003;
            let target = r as f64 * s.partition;
            let mut run = 0.0f64;
            let plain = z.iter().position(|&x| {
                run += weight(x, s.max) as f64;
                run >= target
            });
            let got = inverse_cdf_sample(&z, &s, &sums, r) as usize;
            // Block sums and the token-by-token sum round differently: allow a neighbour.
            let plain = plain.unwrap_or(z.len() - 1);
            assert!(got.abs_diff(plain) <= 1, "r {r}: {got} vs {plain}");
        }
    }
}
