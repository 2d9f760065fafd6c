//! The attention definition in f64, the reference the backends' attention kernels are checked
//! against, and the error measure those checks use.

/// One key of the reference: its position, its K row and its V row (`kv_heads · head_dim`
/// wide, all KV heads).
pub type RefKey<'a> = (usize, &'a [f32], &'a [f32]);

/// For each query row `r` (`q` is `rows × heads × head_dim`) and head: f64 dots with the keys
/// `visible(r, key position)` allows (KV head `h / (heads / kv_heads)`), softmax, and the
/// probability-weighted sum of their V rows. Keys are visited in the order given.
pub fn attention_reference(
    q: &[f32],
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    keys: &[RefKey<'_>],
    visible: impl Fn(usize, usize) -> bool,
) -> Vec<f64> {
    let d = head_dim;
    let rows = q.len() / (heads * d);
    let mut out = vec![0f64; rows * heads * d];
    let mut seen: Vec<(f64, &[f32])> = Vec::with_capacity(keys.len());
    for r in 0..rows {
        for h in 0..heads {
            let kh = h / (heads / kv_heads);
            let qh = &q[(r * heads + h) * d..][..d];
            seen.clear();
            for &(pos, k, v) in keys {
                if visible(r, pos) {
                    let k = &k[kh * d..][..d];
                    let dot: f64 = qh.iter().zip(k).map(|(&a, &b)| a as f64 * b as f64).sum();
                    seen.push((dot, &v[kh * d..][..d]));
                }
            }
            let max = seen.iter().fold(f64::NEG_INFINITY, |m, &(x, _)| m.max(x));
            let z: f64 = seen.iter().map(|&(x, _)| (x - max).exp()).sum();
            let o = &mut out[(r * heads + h) * d..][..d];
            for &(x, v) in &seen {
                let p = (x - max).exp() / z;
                for (oi, &vi) in o.iter_mut().zip(v) {
                    *oi += p * vi as f64;
                }
            }
        }
    }
    out
}

/// Largest error of any `d`-wide output vector relative to that vector's largest |value|.
pub fn rel_err(got: &[f32], want: &[f64], d: usize) -> f64 {
    got.chunks(d)
        .zip(want.chunks(d))
        .map(|(g, w)| {
            let scale = w.iter().fold(1e-30f64, |m, x| m.max(x.abs()));
            g.iter().zip(w).fold(0f64, |m, (&a, &b)| m.max((a as f64 - b).abs())) / scale
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One query, two keys: the weights are softmax of the dots; a hidden key does not count;
    /// KV head sharing picks the right half of each key row.
    #[test]
    fn reference_is_softmax_weighted_values() {
        // heads 2, kv_heads 1, d 2: both query heads read the one KV head.
        let q = [1.0, 0.0, 0.0, 1.0];
        let (k0, v0) = ([2.0f32, 0.0], [1.0f32, 0.0]);
        let (k1, v1) = ([0.0f32, 3.0], [0.0f32, 1.0]);
        let keys: [RefKey<'_>; 2] = [(0, &k0, &v0), (1, &k1, &v1)];
        let out = attention_reference(&q, 2, 1, 2, &keys, |_, _| true);
        let (p0, p1) = (2f64.exp() / (2f64.exp() + 1.0), 1.0 / (1.0 + 3f64.exp()));
        let want = [p0, 1.0 - p0, p1, 1.0 - p1];
        assert!(out.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{out:?}");
        let only_first = attention_reference(&q, 2, 1, 2, &keys, |_, pos| pos == 0);
        assert_eq!(only_first, vec![1.0, 0.0, 1.0, 0.0]);
        assert_eq!(rel_err(&[1.0, 0.5], &[2.0, 0.5], 2), 0.5);
    }
}
