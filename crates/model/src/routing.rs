//! Expert choice from router logits (model.md 5.2): softmax in f32, top-k, renormalise, then
//! the per-expert scale. Runs on the host: `[rows, E]` logits are tiny next to the experts.

use dgemma_backend::MoeRoute;

/// Fill `route` from `logits [rows, n_experts]`. Ties go to the lower expert id.
pub fn route_top_k(logits: &[f32], rows: usize, n_experts: usize, k: usize, expert_scale: &[f32], route: &mut MoeRoute) {
    route.rows = rows;
    route.k = k;
    route.n_experts = n_experts;
    route.experts.resize(rows * k, 0);
    route.weights.resize(rows * k, 0.0);
    for r in 0..rows {
        let z = &logits[r * n_experts..(r + 1) * n_experts];
        let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = z.iter().map(|&v| (v - m).exp()).sum();
        let ids = &mut route.experts[r * k..(r + 1) * k];
        let ws = &mut route.weights[r * k..(r + 1) * k];
        // Insertion into a sorted top-k list: k is small (8) and E modest (128).
        let mut filled = 0;
        for (e, &v) in z.iter().enumerate() {
            let p = (v - m).exp() / sum;
            if filled == k && p <= ws[k - 1] {
                continue;
            }
            let mut j = filled.min(k - 1);
            while j > 0 && ws[j - 1] < p {
                if j < k {
                    ws[j] = ws[j - 1];
                    ids[j] = ids[j - 1];
                }
                j -= 1;
            }
            ws[j] = p;
            ids[j] = e as u32;
            filled = (filled + 1).min(k);
        }
        let total: f32 = ws.iter().sum();
        for (w, &e) in ws.iter_mut().zip(ids.iter()) {
            *w = *w / total * expert_scale[e as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive reference: full sort by (−p, id).
    fn naive(z: &[f32], k: usize, scale: &[f32]) -> Vec<(u32, f64)> {
        let m = z.iter().copied().fold(f64::NEG_INFINITY, |a, b| a.max(b as f64));
        let ex: Vec<f64> = z.iter().map(|&v| (v as f64 - m).exp()).collect();
        let s: f64 = ex.iter().sum();
        let mut idx: Vec<usize> = (0..z.len()).collect();
        idx.sort_by(|&a, &b| ex[b].partial_cmp(&ex[a]).unwrap().then(a.cmp(&b)));
        let top: Vec<usize> = idx[..k].to_vec();
        let tot: f64 = top.iter().map(|&i| ex[i] / s).sum();
        top.iter().map(|&i| (i as u32, ex[i] / s / tot * scale[i] as f64)).collect()
    }

    #[test]
    fn top_k_matches_a_full_sort_and_renormalises() {
        let (rows, e, k) = (7, 13, 3);
        let logits: Vec<f32> = (0..rows * e).map(|i| ((i * 7919) % 101) as f32 * 0.037 - 1.5 + (i as f32 * 0.001)).collect();
        let scale: Vec<f32> = (0..e).map(|i| 0.5 + i as f32 * 0.1).collect();
        let mut route = MoeRoute::default();
        route_top_k(&logits, rows, e, k, &scale, &mut route);
        for r in 0..rows {
            let want = naive(&logits[r * e..(r + 1) * e], k, &scale);
            for j in 0..k {
                assert_eq!(route.expert(r, j) as u32, want[j].0, "row {r} pick {j}");
                assert!((route.weight(r, j) as f64 - want[j].1).abs() < 1e-6, "row {r} pick {j}");
            }
        }
    }

    #[test]
    fn renormalised_weights_sum_to_one_with_unit_scale() {
        let logits = [0.3f32, -1.0, 2.0, 0.7, 0.1];
        let mut route = MoeRoute::default();
        route_top_k(&logits, 1, 5, 2, &[1.0; 5], &mut route);
        assert_eq!(&route.experts, &[2, 3]);
        assert!((route.weights.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
