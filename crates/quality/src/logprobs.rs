//! One position, two distributions: how far the quantized model's next-token (or canvas)
//! distribution is from the base model's.
//!
//! All sums are in f64: a KL divergence of 1e-6 nats over a 262k vocabulary is a sum of many
//! terms that nearly cancel, and f32 would bury it in rounding noise.

use crate::error::{QualityError, Result};

/// What one position contributes to a section's report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowMetrics {
    /// KL(base ‖ quant) in nats (≥ 0).
    pub kl: f64,
    /// Whether both models rank the same token first.
    pub top1_agree: bool,
    /// `p_quant(target) − p_base(target)` when the position has a reference token.
    pub dp: Option<f64>,
    /// `−ln p_base(target)`.
    pub nll_base: Option<f64>,
    /// `−ln p_quant(target)`.
    pub nll_quant: Option<f64>,
}

/// `ln Σ exp(x)` of a row, computed around its maximum.
pub fn log_sum_exp(row: &[f32]) -> f64 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
    max + sum.ln()
}

/// Index of the largest value; ties go to the lowest index (as `torch.argmax` and llama.cpp do).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

fn check_target(target: Option<u32>, vocab: usize) -> Result<()> {
    match target {
        Some(t) if t as usize >= vocab => Err(QualityError::Shape { what: "reference token id", got: t as usize, expected: vocab }),
        _ => Ok(()),
    }
}

/// Compare two full logit rows (same vocabulary). `target` is the reference token of the
/// position (the next text token, or the original token under a noised canvas position).
pub fn compare_full(base: &[f32], quant: &[f32], target: Option<u32>) -> Result<RowMetrics> {
    if base.len() != quant.len() || base.is_empty() {
        return Err(QualityError::Shape { what: "quantized logits row", got: quant.len(), expected: base.len() });
    }
    check_target(target, base.len())?;
    let (lse_b, lse_q) = (log_sum_exp(base), log_sum_exp(quant));
    let mut kl = 0.0f64;
    for (&b, &q) in base.iter().zip(quant) {
        let lp = b as f64 - lse_b;
        let p = lp.exp();
        if p > 0.0 {
            kl += p * (lp - (q as f64 - lse_q));
        }
    }
    let (nll_base, nll_quant) = match target {
        Some(t) => (Some(lse_b - base[t as usize] as f64), Some(lse_q - quant[t as usize] as f64)),
        None => (None, None),
    };
    Ok(RowMetrics {
        kl: kl.max(0.0),
        top1_agree: argmax(base) == argmax(quant),
        dp: nll_base.zip(nll_quant).map(|(b, q)| (-q).exp() - (-b).exp()),
        nll_base,
        nll_quant,
    })
}

/// The base distribution of one position kept compactly: its `K` most likely tokens with their
/// log-probabilities (descending; ties by lower id) and the log-probability of the reference token.
#[derive(Clone, Debug, PartialEq)]
pub struct CompactRow {
    /// `(token id, ln p)`, most likely first; `top[0]` is the argmax.
    pub top: Vec<(u32, f32)>,
    /// `ln p_base(target)`, `None` when the position has no reference token.
    pub target_logp: Option<f32>,
}

/// Keep the `k` most likely tokens of a logit row (all of them when `k ≥ V`).
pub fn compact_row(logits: &[f32], k: usize, target: Option<u32>) -> Result<CompactRow> {
    if logits.is_empty() || k == 0 {
        return Err(QualityError::Shape { what: "logits row / top-K", got: logits.len().min(k), expected: 1 });
    }
    check_target(target, logits.len())?;
    let lse = log_sum_exp(logits);
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    // Descending by logit, ascending by id on ties: a total order, so top[0] is `argmax`.
    let order = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]).then(a.cmp(b));
    let k = k.min(logits.len());
    if k < ids.len() {
        ids.select_nth_unstable_by(k - 1, order);
        ids.truncate(k);
    }
    ids.sort_unstable_by(order);
    Ok(CompactRow {
        top: ids.iter().map(|&i| (i, (logits[i as usize] as f64 - lse) as f32)).collect(),
        target_logp: target.map(|t| (logits[t as usize] as f64 - lse) as f32),
    })
}

/// Compare a compact base row with a full quantized row.
///
/// KL is taken over the base's top-K tokens plus one "rest" bucket holding the remaining mass of
/// each distribution: `Σ_k p_k ln(p_k/q_k) + p_rest ln(p_rest/q_rest)`. By the log-sum inequality
/// this never exceeds the full KL, and equals it when `K ≥ V`.
pub fn compare_compact(base: &CompactRow, quant: &[f32], target: Option<u32>) -> Result<RowMetrics> {
    check_target(target, quant.len())?;
    if base.top.is_empty() || base.top.iter().any(|&(id, _)| id as usize >= quant.len()) {
        return Err(QualityError::Shape { what: "compact base row (ids vs vocabulary)", got: base.top.len(), expected: quant.len() });
    }
    let lse_q = log_sum_exp(quant);
    let (mut kl, mut p_top, mut q_top) = (0.0f64, 0.0f64, 0.0f64);
    for &(id, lp) in &base.top {
        let (lp, lq) = (lp as f64, quant[id as usize] as f64 - lse_q);
        let p = lp.exp();
        p_top += p;
        q_top += lq.exp();
        if p > 0.0 {
            kl += p * (lp - lq);
        }
    }
    let p_rest = (1.0 - p_top).max(0.0);
    // Below ~1e-6 the rest mass is float rounding of p_top (e.g. K ≥ V), not probability.
    if base.top.len() < quant.len() && p_rest > 1e-6 {
        let q_rest = (1.0 - q_top).max(f64::MIN_POSITIVE);
        kl += p_rest * (p_rest / q_rest).ln();
    }
    let nll_base = match (target, base.target_logp) {
        (Some(_), Some(lp)) => Some(-(lp as f64)),
        _ => None,
    };
    let nll_quant = target.filter(|_| nll_base.is_some()).map(|t| lse_q - quant[t as usize] as f64);
    Ok(RowMetrics {
        kl: kl.max(0.0),
        top1_agree: argmax(quant) as u32 == base.top[0].0,
        dp: nll_base.zip(nll_quant).map(|(b, q)| (-q).exp() - (-b).exp()),
        nll_base,
        nll_quant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward KL from probabilities, for comparison.
    fn naive_kl(base: &[f32], quant: &[f32]) -> f64 {
        let soft = |r: &[f32]| {
            let e: Vec<f64> = r.iter().map(|&x| (x as f64).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(|x| x / s).collect::<Vec<_>>()
        };
        let (p, q) = (soft(base), soft(quant));
        p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum()
    }

    #[test]
    fn kl_of_identical_rows_is_exactly_zero() {
        let row = [0.3f32, -1.0, 2.5, 2.5, 0.0];
        let m = compare_full(&row, &row, Some(2)).unwrap();
        assert_eq!(m.kl, 0.0);
        assert!(m.top1_agree);
        assert_eq!(m.dp, Some(0.0));
        assert_eq!(m.nll_base, m.nll_quant);
    }

    #[test]
    fn kl_of_two_point_distributions_matches_closed_form() {
        // p = (0.5, 0.5), q = (0.25, 0.75): KL = 0.5 ln 2 + 0.5 ln(2/3).
        let base = [0.0f32, 0.0];
        let quant = [0.0f32, 3f32.ln()];
        let want = 0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
        let m = compare_full(&base, &quant, Some(1)).unwrap();
        assert!((m.kl - want).abs() < 1e-7, "{} vs {want}", m.kl);
        assert!((m.dp.unwrap() - 0.25).abs() < 1e-7);
        assert!((m.nll_base.unwrap() - 2f64.ln()).abs() < 1e-7);
    }

    #[test]
    fn kl_matches_naive_on_random_rows() {
        let mut s = 12345u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0
        };
        let base: Vec<f32> = (0..300).map(|_| next()).collect();
        let quant: Vec<f32> = base.iter().map(|&x| x + 0.3 * next()).collect();
        let m = compare_full(&base, &quant, None).unwrap();
        let want = naive_kl(&base, &quant);
        assert!((m.kl - want).abs() < 1e-9 * want.max(1.0), "{} vs {want}", m.kl);
        assert!(m.kl > 0.0);
        // With K ≥ V the compact form holds the whole distribution: same KL up to f32 storage.
        let c = compact_row(&base, 1000, Some(7)).unwrap();
        let mc = compare_compact(&c, &quant, Some(7)).unwrap();
        assert!((mc.kl - want).abs() < 1e-5 * want, "{} vs {want}", mc.kl);
        // With K < V it is a lower bound.
        let c8 = compact_row(&base, 8, None).unwrap();
        let m8 = compare_compact(&c8, &quant, None).unwrap();
        assert!(m8.kl <= want + 1e-9 && m8.kl > 0.0, "{} vs {want}", m8.kl);
    }

    #[test]
    fn compact_row_keeps_top_k_in_order_with_ties_by_id() {
        let row = [1.0f32, 5.0, 3.0, 5.0, -2.0];
        let c = compact_row(&row, 3, None).unwrap();
        let ids: Vec<u32> = c.top.iter().map(|t| t.0).collect();
        assert_eq!(ids, vec![1, 3, 2]);
        assert_eq!(argmax(&row), 1);
    }

    #[test]
    fn top1_disagreement_is_reported() {
        let m = compare_full(&[1.0, 0.0], &[0.0, 1.0], None).unwrap();
        assert!(!m.top1_agree);
        let c = compact_row(&[1.0, 0.0], 1, None).unwrap();
        assert!(!compare_compact(&c, &[0.0, 1.0], None).unwrap().top1_agree);
    }

    #[test]
    fn bad_shapes_and_ids_are_errors() {
        assert!(compare_full(&[0.0, 1.0], &[0.0], None).is_err());
        assert!(compare_full(&[0.0, 1.0], &[0.0, 1.0], Some(2)).is_err());
        let c = CompactRow { top: vec![(9, -0.1)], target_logp: None };
        assert!(compare_compact(&c, &[0.0, 1.0], None).is_err());
    }
}
