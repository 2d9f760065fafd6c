//! Every kernel this CPU runs against a plain scalar reference (the per-(row, head) dot, softmax
//! and axpy algorithm, in f64), over the masks and the geometries of the model and odd ones.

use dgemma_backend::{AttnGeometry, Mask};
use dgemma_test_support::{attention_reference, rel_err, values, values_scaled};

use super::kernel::Kernel;
use super::{attention_with, Seg};

/// The reference (for each row and head, f64 dots over the visible keys, softmax, weighted sum)
/// over the keys of both segments in order.
fn reference(q: &[f32], geo: AttnGeometry, segs: &[Seg<'_>; 2], mask: Mask) -> Vec<f64> {
    let AttnGeometry { heads, kv_heads, head_dim: d, q_pos0, .. } = geo;
    let kv_w = kv_heads * d;
    let keys: Vec<(usize, &[f32], &[f32])> = segs
        .iter()
        .flat_map(|s| (0..s.len).map(move |j| (s.pos0 + j, &s.k[j * kv_w..][..kv_w], &s.v[j * kv_w..][..kv_w])))
        .collect();
    attention_reference(q, heads, kv_heads, d, &keys, |r, pos| mask.allows(q_pos0 + r, pos))
}

/// One case: K/V of the cache and of the new rows, and the query.
struct Case {
    geo: AttnGeometry,
    cache: (Vec<f32>, Vec<f32>, usize, usize),
    new: (Vec<f32>, Vec<f32>),
    q: Vec<f32>,
}

impl Case {
    fn new(rows: usize, heads: usize, kv_heads: usize, d: usize, cache_len: usize, seed: u64) -> Self {
        let kv_w = kv_heads * d;
        // Keys scaled so that scores span a few units, as after the model's q/k norms.
        let amp = (8.0 / d as f32).sqrt() * 2.0;
        let cache_pos0 = 3;
        let q_pos0 = cache_pos0 + cache_len;
        Case {
            geo: AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0 },
            cache: (values_scaled(cache_len * kv_w, seed, amp), values(cache_len * kv_w, seed + 1), cache_len, cache_pos0),
            new: (values_scaled(rows * kv_w, seed + 2, amp), values(rows * kv_w, seed + 3)),
            q: values_scaled(rows * heads * d, seed + 4, amp),
        }
    }

    fn segs(&self) -> [Seg<'_>; 2] {
        let (kc, vc, len, pos0) = &self.cache;
        [
            Seg { k: kc, v: vc, len: *len, pos0: *pos0 },
            Seg { k: &self.new.0, v: &self.new.1, len: self.geo.rows, pos0: self.geo.q_pos0 },
        ]
    }

    fn run(&self, kernel: Kernel, mask: Mask) -> Vec<f32> {
        let g = self.geo;
        let mut out = vec![f32::NAN; g.rows * g.heads * g.head_dim];
        attention_with(kernel, &self.q, g, self.segs(), mask, &mut out);
        out
    }
}

fn kernels() -> Vec<Kernel> {
    [Kernel::Portable, Kernel::Fma, Kernel::Avx512].into_iter().filter(|k| k.available()).collect()
}

#[test]
fn every_kernel_matches_the_scalar_reference_for_every_mask_and_geometry() {
    // (rows, heads, kv_heads, d, cache): group 1, 2, 8; head widths 64 / 256 / 512 and odd ones
    // (24, 40: the portable tail); key counts off the 64-key block; empty and non-empty caches.
    let geos = [
        (5, 2, 2, 64, 0),
        (37, 4, 2, 256, 29),
        (19, 16, 2, 512, 70),
        (70, 8, 8, 64, 3),
        (9, 16, 2, 24, 5),
        (13, 2, 1, 40, 0),
        (1, 8, 1, 64, 0),
    ];
    let masks = [Mask::Causal, Mask::CausalWindow(1), Mask::CausalWindow(7), Mask::CausalWindow(40), Mask::Bidirectional];
    let mut worst = 0f64;
    for (seed, &(rows, heads, kv_heads, d, cache)) in geos.iter().enumerate() {
        let case = Case::new(rows, heads, kv_heads, d, cache, seed as u64 * 10);
        for mask in masks {
            let want = reference(&case.q, case.geo, &case.segs(), mask);
            for kernel in kernels() {
                let got = case.run(kernel, mask);
                let e = rel_err(&got, &want, d);
                assert!(e <= 1e-5, "{kernel:?} {mask:?} {:?}: relative error {e:e}", case.geo);
                worst = worst.max(e);
            }
        }
    }
    eprintln!("worst relative error {worst:e}");
}

#[test]
fn a_row_that_sees_one_key_copies_that_value_exactly() {
    // CausalWindow(1) with an empty cache: each query sees only its own key, weight exactly 1.
    let case = Case::new(11, 4, 2, 64, 0, 99);
    for kernel in kernels() {
        let got = case.run(kernel, Mask::CausalWindow(1));
        for r in 0..11 {
            for h in 0..4 {
                let v = &case.new.1[r * 128 + (h / 2) * 64..][..64];
                assert_eq!(&got[(r * 4 + h) * 64..][..64], v, "{kernel:?} row {r} head {h}");
            }
        }
    }
}

#[test]
fn masked_keys_contribute_nothing_even_when_huge() {
    // Cache keys the causal window hides carry huge scores and values: they must not leak.
    let mut case = Case::new(20, 4, 2, 64, 30, 7);
    case.cache.0.iter_mut().for_each(|k| *k *= 1e3);
    case.cache.1.iter_mut().for_each(|v| *v = 1e30);
    let mask = Mask::CausalWindow(5); // sees only keys of the new rows
    let want = reference(&case.q, case.geo, &case.segs(), mask);
    for kernel in kernels() {
        let got = case.run(kernel, mask);
        assert!(rel_err(&got, &want, 64) <= 1e-5, "{kernel:?}");
    }
}
