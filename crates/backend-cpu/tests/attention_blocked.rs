//! The blocked attention core through the public backend: the model's geometries (group 2 /
//! d 256 and group 8 / d 512, canvas rows over a prompt cache) against an f64 reference of the
//! definition, and bit-identical results at 1, 2 and 3 threads.

use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask};
use dgemma_backend_cpu::CpuBackend;
use dgemma_test_support::{attention_reference, rel_err, values, values_scaled};

struct Case {
    geo: AttnGeometry,
    cache_pos0: usize,
    kc: Vec<f32>,
    vc: Vec<f32>,
    nc: usize,
    kn: Vec<f32>,
    vn: Vec<f32>,
    q: Vec<f32>,
}

impl Case {
    fn new(rows: usize, heads: usize, kv_heads: usize, d: usize, nc: usize) -> Self {
        let kv_w = kv_heads * d;
        let amp = (8.0 / d as f32).sqrt() * 2.0;
        let cache_pos0 = 1;
        Case {
            geo: AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0: cache_pos0 + nc },
            cache_pos0,
            kc: values_scaled(nc * kv_w, 1, amp),
            vc: values(nc * kv_w, 2),
            nc,
            kn: values_scaled(rows * kv_w, 3, amp),
            vn: values(rows * kv_w, 4),
            q: values_scaled(rows * heads * d, 5, amp),
        }
    }

    fn run(&self, b: &CpuBackend, mask: Mask) -> Vec<f32> {
        let g = self.geo;
        let mut out = b.alloc(g.rows * g.heads * g.head_dim);
        let cache = KvSegment { k: &self.kc, v: &self.vc, len: self.nc, pos0: self.cache_pos0 };
        let new = KvSegment { k: &self.kn, v: &self.vn, len: g.rows, pos0: g.q_pos0 };
        b.attention(&self.q, g, cache, new, mask, &mut out);
        out
    }

    /// f64 dots, softmax and weighted sum per (row, head) over the keys the mask allows.
    fn reference(&self, mask: Mask) -> Vec<f64> {
        let AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0 } = self.geo;
        let kv_w = kv_heads * d;
        let keys: Vec<(usize, &[f32], &[f32])> = (0..self.nc)
            .map(|j| (self.cache_pos0 + j, &self.kc[j * kv_w..][..kv_w], &self.vc[j * kv_w..][..kv_w]))
            .chain((0..rows).map(|j| (q_pos0 + j, &self.kn[j * kv_w..][..kv_w], &self.vn[j * kv_w..][..kv_w])))
            .collect();
        attention_reference(&self.q, heads, kv_heads, d, &keys, |r, pos| mask.allows(q_pos0 + r, pos))
    }
}

#[test]
fn model_geometries_match_the_reference_and_do_not_depend_on_threads() {
    let pools: Vec<CpuBackend> = [1, 2, 3].into_iter().map(|t| CpuBackend::new(t).unwrap()).collect();
    // Sliding and full layers of the denoiser over a 21-key prompt (canvas cut to 77 rows to keep
    // the f64 reference quick), and an encoder chunk with an empty cache.
    let cases = [
        (Case::new(77, 16, 8, 256, 21), vec![Mask::Bidirectional, Mask::CausalWindow(64)]),
        (Case::new(77, 16, 2, 512, 21), vec![Mask::Bidirectional, Mask::Causal]),
        (Case::new(45, 16, 2, 512, 0), vec![Mask::Causal]),
    ];
    for (case, masks) in &cases {
        for &mask in masks {
            let one = case.run(&pools[0], mask);
            let e = rel_err(&one, &case.reference(mask), case.geo.head_dim);
            assert!(e <= 1e-5, "{:?} {mask:?}: relative error {e:e}", case.geo);
            for b in &pools[1..] {
                let got = case.run(b, mask);
                assert!(
                    one.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{:?} {mask:?}: {} threads differ from 1",
                    case.geo,
                    b.threads()
                );
            }
        }
    }
}
