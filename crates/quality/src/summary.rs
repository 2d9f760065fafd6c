//! Distributions of per-position values (percentiles) and the per-section report.

use serde::{Deserialize, Serialize};

use crate::logprobs::RowMetrics;

/// The `q`-th percentile (0..=100) of ascending `sorted` values, linearly interpolated between
/// the two nearest ranks (numpy's default method). NaN for an empty slice.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = (q.clamp(0.0, 100.0) / 100.0) * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        }
    }
}

/// Mean, median, p90, p99 and max of a set of values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// Summary of `values` (sorted in place). All NaN when empty.
    pub fn of(values: &mut [f64]) -> Summary {
        values.sort_by(f64::total_cmp);
        let mean = if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 };
        Summary {
            mean,
            median: percentile(values, 50.0),
            p90: percentile(values, 90.0),
            p99: percentile(values, 99.0),
            max: values.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// One section of a report (encoder next-token, denoiser at noise r, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectionReport {
    /// Section name, e.g. `encoder` or `denoise r=0.50`.
    pub name: String,
    /// Positions compared.
    pub positions: usize,
    /// KL(base ‖ quant) per position, nats.
    pub kl: Summary,
    /// Positions where both models' most likely token is the same, percent.
    pub top1_pct: f64,
    /// RMS over reference positions of `p_quant(ref) − p_base(ref)`, percent.
    pub rms_dp_pct: Option<f64>,
    /// Perplexity of the reference tokens under the base model.
    pub ppl_base: Option<f64>,
    /// Perplexity of the reference tokens under the quantized model.
    pub ppl_quant: Option<f64>,
}

/// Collects [`RowMetrics`] of one section.
#[derive(Clone, Debug, Default)]
pub struct SectionAccumulator {
    kl: Vec<f64>,
    top1: usize,
    dp_sq: f64,
    nll_base: f64,
    nll_quant: f64,
    n_ref: usize,
}

impl SectionAccumulator {
    /// Add one position.
    pub fn add(&mut self, m: &RowMetrics) {
        self.kl.push(m.kl);
        self.top1 += m.top1_agree as usize;
        if let (Some(dp), Some(b), Some(q)) = (m.dp, m.nll_base, m.nll_quant) {
            self.dp_sq += dp * dp;
            self.nll_base += b;
            self.nll_quant += q;
            self.n_ref += 1;
        }
    }

    /// The section's report.
    pub fn finish(mut self, name: impl Into<String>) -> SectionReport {
        let n = self.kl.len();
        let per_ref = |x: f64| (self.n_ref > 0).then(|| x / self.n_ref as f64);
        SectionReport {
            name: name.into(),
            positions: n,
            kl: Summary::of(&mut self.kl),
            top1_pct: if n > 0 { 100.0 * self.top1 as f64 / n as f64 } else { f64::NAN },
            rms_dp_pct: per_ref(self.dp_sq).map(|m| 100.0 * m.sqrt()),
            ppl_base: per_ref(self.nll_base).map(f64::exp),
            ppl_quant: per_ref(self.nll_quant).map(f64::exp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) = [2.5, 3.7, 3.97]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 50.0), 2.5);
        assert!((percentile(&v, 90.0) - 3.7).abs() < 1e-12);
        assert!((percentile(&v, 99.0) - 3.97).abs() < 1e-12);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 4.0);
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn summary_sorts_and_reports() {
        let mut v: Vec<f64> = (0..=100).rev().map(f64::from).collect();
        let s = Summary::of(&mut v);
        assert_eq!((s.mean, s.median, s.p90, s.p99, s.max), (50.0, 50.0, 90.0, 99.0, 100.0));
    }

    #[test]
    fn accumulator_reports_top1_dp_and_perplexity() {
        let mut acc = SectionAccumulator::default();
        let ln2 = 2f64.ln();
        acc.add(&RowMetrics { kl: 0.1, top1_agree: true, dp: Some(0.1), nll_base: Some(ln2), nll_quant: Some(0.0) });
        acc.add(&RowMetrics { kl: 0.3, top1_agree: false, dp: Some(-0.1), nll_base: Some(ln2), nll_quant: Some(ln2) });
        acc.add(&RowMetrics { kl: 0.2, top1_agree: true, dp: None, nll_base: None, nll_quant: None });
        let r = acc.finish("x");
        assert_eq!(r.positions, 3);
        assert!((r.kl.mean - 0.2).abs() < 1e-12);
        assert!((r.top1_pct - 200.0 / 3.0).abs() < 1e-9);
        assert!((r.rms_dp_pct.unwrap() - 10.0).abs() < 1e-9);
        assert!((r.ppl_base.unwrap() - 2.0).abs() < 1e-9);
        assert!((r.ppl_quant.unwrap() - 2f64.sqrt()).abs() < 1e-9);
    }
}
