//! Per-position statistics of the processed logits `z` (../shared/spec/sampler.md §7).
//!
//! With `m = max z`, `Z = Σ exp(z − m)` and `A = Σ exp(z − m)·(z − m)`, the entropy of
//! `softmax(z)` is `H = ln Z − A/Z`. Three passes over a row: max/argmax, (Z, A), and the
//! inverse-CDF sample. Exponentials are f32 (what the logits are), sums f64 so that a 262,144-
//! token row loses no precision.

use crate::error::SamplerError;

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

/// Pass 1 and 2: max, argmax, partition sum and entropy of one row.
pub fn row_stats(z: &[f32], position: usize) -> Result<RowStats, SamplerError> {
    let mut max = f32::NEG_INFINITY;
    let mut argmax = 0u32;
    for (v, &x) in z.iter().enumerate() {
        if x > max {
            max = x;
            argmax = v as u32;
        }
    }
    if !max.is_finite() {
        return Err(SamplerError::NonFinite { position });
    }
    let mut partition = 0.0f64;
    let mut weighted = 0.0f64;
    let mut nan = false;
    for &x in z {
        let d = x - max;
        let e = d.exp();
        // Zero weights (including z = -inf, where e * d would be 0 * -inf) contribute nothing.
        if e > 0.0 {
            partition += e as f64;
            weighted += e as f64 * d as f64;
        } else {
            nan |= e.is_nan();
        }
    }
    if nan || !partition.is_finite() || !weighted.is_finite() {
        return Err(SamplerError::NonFinite { position });
    }
    let entropy = partition.ln() - weighted / partition;
    Ok(RowStats { max, argmax, partition, entropy: entropy.max(0.0) })
}

/// Pass 3: inverse-CDF sample with a uniform draw `r ∈ [0, 1)`: the smallest `v` with a
/// non-zero weight whose running sum of `exp(z − m)` reaches `r · Z` (llama.cpp's rule).
pub fn inverse_cdf_sample(z: &[f32], stats: &RowStats, r: f32) -> u32 {
    let target = r as f64 * stats.partition;
    let mut running = 0.0f64;
    let mut last_nonzero = stats.argmax;
    for (v, &x) in z.iter().enumerate() {
        let e = (x - stats.max).exp();
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
            vec![100.0, -100.0, -100.0],
        ];
        for z in rows {
            let s = row_stats(&z, 0).unwrap();
            let h = naive_entropy(&z);
            assert!((s.entropy - h).abs() < 1e-6 * h.max(1.0), "{} vs {}", s.entropy, h);
        }
        let uniform = row_stats(&[1.5; 8], 0).unwrap();
        assert!((uniform.entropy - 8f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        let s = row_stats(&[1.0, 3.0, 2.0, 3.0], 0).unwrap();
        assert_eq!((s.argmax, s.max), (1, 3.0));
    }

    #[test]
    fn non_finite_rows_are_errors() {
        assert!(matches!(row_stats(&[1.0, f32::NAN], 4), Err(SamplerError::NonFinite { position: 4 })));
        assert!(row_stats(&[f32::INFINITY, 0.0], 0).is_err());
        assert!(row_stats(&[f32::NEG_INFINITY; 3], 0).is_err());
        // -inf entries beside finite ones are fine (zero probability).
        let s = row_stats(&[f32::NEG_INFINITY, 0.0], 0).unwrap();
        assert_eq!(s.entropy, 0.0);
    }

    #[test]
    fn inverse_cdf_follows_the_cumulative_weights() {
        // weights exp(z - m) = 1, 1, 2 (ln 2), Z = 4.
        let z = [0.0f32, 0.0, 2f32.ln()];
        let s = row_stats(&z, 0).unwrap();
        assert_eq!(inverse_cdf_sample(&z, &s, 0.0), 0);
        assert_eq!(inverse_cdf_sample(&z, &s, 0.24), 0);
        assert_eq!(inverse_cdf_sample(&z, &s, 0.26), 1);
        assert_eq!(inverse_cdf_sample(&z, &s, 0.51), 2);
        assert_eq!(inverse_cdf_sample(&z, &s, f32::from_bits(0x3f7f_ffff)), 2);
        // Zero-weight tokens are never drawn.
        let z = [-1000.0f32, 0.0];
        let s = row_stats(&z, 0).unwrap();
        assert_eq!(inverse_cdf_sample(&z, &s, 0.0), 1);
    }
}
