//! Attention over `[cache ‖ new]` K/V with a positional mask; f32 softmax, scale 1.

use dgemma_backend::{AttnGeometry, KvSegment, Mask};
use rayon::prelude::*;

use crate::fast_math;
use crate::math::{axpy, dot};

/// See [`dgemma_backend::Backend::attention`].
pub(crate) fn attention(
    q: &[f32],
    geo: AttnGeometry,
    cache: KvSegment<'_, Vec<f32>>,
    new: KvSegment<'_, Vec<f32>>,
    mask: Mask,
    out: &mut [f32],
) {
    let AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0 } = geo;
    assert!(heads % kv_heads == 0, "attention: {heads} heads not a multiple of {kv_heads} kv heads");
    let group = heads / kv_heads;
    let kv_w = kv_heads * d;
    let q_w = heads * d;
    let segs = [cache, new];
    let isa = fast_math::isa();
    out[..rows * q_w].par_chunks_mut(q_w).enumerate().for_each_init(
        || Vec::with_capacity(cache.len + new.len),
        |scores, (r, orow)| {
            let i = q_pos0 + r;
            for h in 0..heads {
                let kvh = h / group;
                let qh = &q[r * q_w + h * d..r * q_w + (h + 1) * d];
                scores.clear();
                let mut max = f32::NEG_INFINITY;
                for seg in &segs {
                    for j in 0..seg.len {
                        if !mask.allows(i, seg.pos0 + j) {
                            scores.push(f32::NEG_INFINITY);
                            continue;
                        }
                        let s = dot(qh, &seg.k[j * kv_w + kvh * d..j * kv_w + (kvh + 1) * d]);
                        max = max.max(s);
                        scores.push(s);
                    }
                }
                // Masked keys hold −∞: exp gives exactly 0. One vectorised pass, lane sums in f64.
                let sum = fast_math::exp_shifted_sum(isa, scores, max);
                let inv = (1.0 / sum) as f32;
                let o = &mut orow[h * d..(h + 1) * d];
                o.fill(0.0);
                let mut idx = 0;
                for seg in &segs {
                    for j in 0..seg.len {
                        let p = scores[idx];
                        idx += 1;
                        if p != 0.0 {
                            axpy(p * inv, &seg.v[j * kv_w + kvh * d..j * kv_w + (kvh + 1) * d], o);
                        }
                    }
                }
            }
        },
    );
}
