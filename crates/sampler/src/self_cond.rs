//! The self-conditioning input `softmax(z_prev)` formed in place in the logits buffer, one task
//! per canvas position, with the optional negligible-probability cut.
//!
//! The denoiser needs `p = softmax(z_prev)` `[C, V]`; the sampler already holds `z_prev` and each
//! row's `(max, partition)` ([`RowStats`]), so `p[v] = exp(z[v] − max) / partition` is one pass
//! that overwrites `z_prev` (which nothing needs afterwards): no second `[C, V]` buffer.
//!
//! The cut (`cutoff > 0`, off by default) sets `p[v] = 0` wherever `p[v] < cutoff · max_v p[v]`,
//! i.e. where `exp(z[v] − max) < cutoff` (the row's largest probability is `1 / partition`).
//! The kept probabilities are left as they are (no renormalisation): the soft embedding then
//! skips vocabulary tiles whose probabilities are all zero.

use rayon::prelude::*;

use crate::error::SamplerError;
use crate::fast_exp::exp_nonpositive;
use crate::row_stats::{lane_max, lane_sum, RowStats, BLOCK};

/// Overwrites each row of `z` (`[rows, vocab]`, the processed logits `stats` describe) with
/// `softmax(z)`, zeroing probabilities under `cutoff ·` the row's largest (0 = exact softmax).
pub fn self_cond_probs_in_place(z: &mut [f32], vocab: usize, stats: &[RowStats], cutoff: f32) -> Result<(), SamplerError> {
    check(z, vocab, stats.len())?;
    z.par_chunks_mut(vocab).zip(stats.par_iter()).for_each(|(row, s)| {
        normalise(row, s.max, (1.0 / s.partition) as f32, cutoff);
    });
    Ok(())
}

/// [`self_cond_probs_in_place`] for callers without the row statistics: finds each row's maximum
/// and partition first (two more passes). A row holding NaN or +∞, or only −∞, is an error.
pub fn softmax_rows_in_place(z: &mut [f32], vocab: usize, cutoff: f32) -> Result<(), SamplerError> {
    check(z, vocab, z.len() / vocab.max(1))?;
    z.par_chunks_mut(vocab).enumerate().try_for_each(|(position, row)| {
        let (max, partition) = weights(row);
        // NaN anywhere reaches the partition.
        if !max.is_finite() || !partition.is_finite() {
            return Err(SamplerError::NonFinite { position });
        }
        scale_cut(row, (1.0 / partition) as f32, cutoff);
        Ok(())
    })
}

fn check(z: &[f32], vocab: usize, rows: usize) -> Result<(), SamplerError> {
    if vocab == 0 || z.len() != rows * vocab {
        return Err(SamplerError::Shape { what: "self-conditioning logits (C x V)", expected: rows * vocab, got: z.len() });
    }
    Ok(())
}

/// Dispatches an `#[inline(always)]` body to an AVX2 copy where the CPU has it (no FMA, so both
/// copies give the same bits).
macro_rules! avx2_dispatch {
    ($name:ident => $body:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)?) => {
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { $body($($arg),*) }
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { avx2($($arg),*) };
            }
            $body($($arg),*)
        }
    };
}

avx2_dispatch!(normalise => normalise_body(row: &mut [f32], max: f32, inv: f32, cutoff: f32));
avx2_dispatch!(weights => weights_body(row: &mut [f32]) -> (f32, f64));
avx2_dispatch!(scale_cut => scale_cut_body(row: &mut [f32], inv: f32, cutoff: f32));

/// `row[v] = w · inv` with `w = exp(row[v] − max)`, or 0 where `w < cutoff`. Branch-free so it
/// vectorises.
#[inline(always)]
fn normalise_body(row: &mut [f32], max: f32, inv: f32, cutoff: f32) {
    for v in row.iter_mut() {
        let w = exp_nonpositive(*v - max);
        *v = if w < cutoff { 0.0 } else { w * inv };
    }
}

/// The row's maximum, then `row[v] = exp(row[v] − max)` and their sum: [`lane_max`], then
/// [`lane_sum`] per block of [`BLOCK`] tokens added in f64 (the order [`row_stats`] sums in).
///
/// [`row_stats`]: crate::row_stats::row_stats
#[inline(always)]
fn weights_body(row: &mut [f32]) -> (f32, f64) {
    // A NaN reaches the partition through exp(NaN − max): the caller checks that.
    let (max, _) = lane_max(row);
    for v in row.iter_mut() {
        *v = exp_nonpositive(*v - max);
    }
    let total = row.chunks(BLOCK).map(lane_sum).sum();
    (max, total)
}

/// `row[v] = w · inv`, or 0 where `w < cutoff` (the same arithmetic as [`normalise_body`]).
#[inline(always)]
fn scale_cut_body(row: &mut [f32], inv: f32, cutoff: f32) {
    for v in row.iter_mut() {
        *v = if *v < cutoff { 0.0 } else { *v * inv };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_stats::{blocks_per_row, row_stats};

    fn rows(c: usize, v: usize) -> Vec<f32> {
        (0..c * v).map(|i| ((i * 7919) % 4099) as f32 * 0.011 - 20.0).collect()
    }

    fn stats_of(z: &[f32], v: usize) -> Vec<RowStats> {
        let mut sums = vec![0.0; blocks_per_row(v)];
        z.chunks(v).enumerate().map(|(p, r)| row_stats(r, p, &mut sums).unwrap()).collect()
    }

    #[test]
    fn probabilities_match_an_f64_softmax_and_sum_to_one() {
        let (c, v) = (3, 5000);
        let z = rows(c, v);
        let mut p = z.clone();
        self_cond_probs_in_place(&mut p, v, &stats_of(&z, v), 0.0).unwrap();
        for r in 0..c {
            let row = &z[r * v..(r + 1) * v];
            // The difference z − max is taken in f32, as the kernel does.
            let m = row.iter().copied().fold(f32::MIN, f32::max);
            let zsum: f64 = row.iter().map(|&x| ((x - m) as f64).exp()).sum();
            for (i, &x) in row.iter().enumerate() {
                let want = ((x - m) as f64).exp() / zsum;
                assert!((p[r * v + i] as f64 - want).abs() <= 1e-6 * want + 1e-30, "row {r} token {i}");
            }
            let total: f64 = p[r * v..(r + 1) * v].iter().map(|&x| x as f64).sum();
            assert!((total - 1.0).abs() < 1e-5);
        }
        // Without statistics: the same lane max and block lane sums as `row_stats`, so the same
        // partition and the same bits.
        let mut q = z.clone();
        softmax_rows_in_place(&mut q, v, 0.0).unwrap();
        for (i, (a, b)) in p.iter().zip(&q).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "index {i}");
        }
    }

    #[test]
    fn a_cutoff_zeroes_exactly_the_negligible_probabilities() {
        let (c, v) = (4, 3000);
        let z = rows(c, v);
        let stats = stats_of(&z, v);
        let mut exact = z.clone();
        self_cond_probs_in_place(&mut exact, v, &stats, 0.0).unwrap();
        for cutoff in [1e-6f32, 1e-3, 0.1, 1.0] {
            let mut cut = z.clone();
            self_cond_probs_in_place(&mut cut, v, &stats, cutoff).unwrap();
            let mut zeroed = 0;
            for r in 0..c {
                let pmax = exact[r * v..(r + 1) * v].iter().copied().fold(0.0, f32::max);
                for i in r * v..(r + 1) * v {
                    // Probabilities at or above the cut are untouched, bit for bit.
                    if exact[i] >= cutoff * pmax * (1.0 + 1e-6) {
                        assert_eq!(cut[i].to_bits(), exact[i].to_bits(), "cutoff {cutoff}, index {i}");
                    } else if exact[i] < cutoff * pmax * (1.0 - 1e-6) {
                        assert_eq!(cut[i], 0.0, "cutoff {cutoff}, index {i}");
                        zeroed += 1;
                    }
                }
                // The row's maximum always survives.
                assert_eq!(cut[r * v + stats[r].argmax as usize], pmax);
            }
            assert!(zeroed > 0, "cutoff {cutoff} zeroed nothing");
        }
        // A cutoff of 0 is the exact softmax, and the stats-free path agrees on it.
        let mut zero = z.clone();
        self_cond_probs_in_place(&mut zero, v, &stats, 0.0).unwrap();
        assert_eq!(zero, exact);
    }

    #[test]
    fn shapes_and_non_finite_rows_are_errors() {
        let mut z = vec![0.0f32; 10];
        assert!(self_cond_probs_in_place(&mut z, 3, &[RowStats::default(); 3], 0.0).is_err());
        assert!(softmax_rows_in_place(&mut z, 0, 0.0).is_err());
        assert!(softmax_rows_in_place(&mut z, 4, 0.0).is_err());
        let mut bad = vec![0.0, f32::NAN, 1.0, 2.0];
        assert!(matches!(softmax_rows_in_place(&mut bad, 2, 0.0), Err(SamplerError::NonFinite { position: 0 })));
    }
}
