//! Attention over `[cache ‖ new]` K/V with a positional mask; f32 softmax, scale 1.
//!
//! Computed as blocked GEMMs. A task takes one KV head and a block of query rows: the `group`
//! query heads that read that KV head, over all rows of the block, form a contiguous panel of
//! `M ≈ TARGET_ROWS` query vectors (in `q` they already sit side by side, `group · d` floats
//! per row). Then, per task:
//! 1. `S = Q · Kᵀ` over the keys any row of the block may see, one [`KEY_BLOCK`] of keys at a
//!    time, each block of K copied once into a packed, transposed panel (the KV head's K rows are
//!    strided by `kv_heads · d` in the segments) and reused by all `M` query vectors;
//! 2. the mask (masked keys hold −∞, so they weigh exactly 0) and an exact row softmax (the max,
//!    then the vectorised `exp_shifted_sum` with its f64 sum, then the scale by `1 / sum`);
//! 3. `O = P · V`, reading V rows in place.
//!
//! Both products run in register-blocked micro-kernels ([`kernel`]). Tasks depend on the
//! shape only, and each output element is written by one task with a fixed summation order, so
//! results do not depend on the thread count.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod kernel;
#[cfg(test)]
mod tests;

use dgemma_backend::{AttnGeometry, KvSegment, Mask};
use rayon::prelude::*;

use crate::fast_math;
use kernel::{Kernel, Scores, Values, KEY_BLOCK, ROW_ALIGN};

/// Query vectors (rows × group heads) per task: enough to reuse each packed K block many times,
/// few enough that the full layers (2 KV heads) still split into dozens of tasks.
const TARGET_ROWS: usize = 64;

/// See [`dgemma_backend::Backend::attention`].
pub(crate) fn attention(
    q: &[f32],
    geo: AttnGeometry,
    cache: KvSegment<'_, Vec<f32>>,
    new: KvSegment<'_, Vec<f32>>,
    mask: Mask,
    out: &mut [f32],
) {
    attention_with(Kernel::best(), q, geo, [seg(cache), seg(new)], mask, out);
}

/// A K/V segment as slices.
#[derive(Clone, Copy)]
struct Seg<'a> {
    k: &'a [f32],
    v: &'a [f32],
    len: usize,
    pos0: usize,
}

fn seg<'a>(s: KvSegment<'a, Vec<f32>>) -> Seg<'a> {
    Seg { k: s.k, v: s.v, len: s.len, pos0: s.pos0 }
}

/// The output buffer, shared by tasks that write disjoint `group · d` runs of it.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint ranges (each (KV head, row) pair belongs to one task).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper, not the field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Per-thread buffers, grown to the largest task and reused.
#[derive(Default)]
struct Scratch {
    /// Query panel `[m, d]`.
    q: Vec<f32>,
    /// One packed key block `[d, KEY_BLOCK]`.
    kt: Vec<f32>,
    /// Scores, then probabilities `[m, keys rounded up to KEY_BLOCK]`.
    s: Vec<f32>,
    /// Output panel `[m, d]`.
    o: Vec<f32>,
}

/// Grows `v` to at least `n` values (new values are 0; old ones are left as they are).
fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// The block of keys `[lo, hi)` of a segment that the query at position `i` may see: the mask
/// is an interval in key position, and key `j` of the segment sits at `pos0 + j`.
fn visible(mask: Mask, i: usize, s: &Seg<'_>) -> (usize, usize) {
    let hi = match mask {
        Mask::Bidirectional => s.len,
        Mask::Causal | Mask::CausalWindow(_) => (i + 1).saturating_sub(s.pos0).min(s.len),
    };
    let lo = match mask {
        Mask::CausalWindow(w) => (i + 1).saturating_sub(w).saturating_sub(s.pos0).min(hi),
        _ => 0,
    };
    (lo, hi)
}

fn attention_with(kernel: Kernel, q: &[f32], geo: AttnGeometry, segs: [Seg<'_>; 2], mask: Mask, out: &mut [f32]) {
    let AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0 } = geo;
    assert!(kv_heads > 0 && heads % kv_heads == 0, "attention: {heads} heads not a multiple of {kv_heads} kv heads");
    let (group, kv_w, q_w) = (heads / kv_heads, kv_heads * d, heads * d);
    assert!(q.len() >= rows * q_w && out.len() >= rows * q_w, "attention: q or out shorter than {rows} rows");
    for s in &segs {
        assert!(s.k.len() >= s.len * kv_w && s.v.len() >= s.len * kv_w, "attention: K/V shorter than {} rows", s.len);
    }
    if rows == 0 || d == 0 {
        return;
    }
    let block_rows = (TARGET_ROWS / group).clamp(1, rows);
    let blocks = rows.div_ceil(block_rows);
    let outp = OutPtr(out.as_mut_ptr());
    let isa = fast_math::isa();
    (0..kv_heads * blocks).into_par_iter().for_each_init(Scratch::default, |sc, task| {
        let (kvh, b) = (task % kv_heads, task / kv_heads);
        let r0 = b * block_rows;
        let nr = block_rows.min(rows - r0);
        let m = nr * group;
        let mp = m.next_multiple_of(ROW_ALIGN);
        let gw = group * d;

        // Query panel: vector `(r − r0) · group + g` is head `kvh · group + g` of row `r`.
        let qp = grow(&mut sc.q, mp * d);
        for r in 0..nr {
            let src = (r0 + r) * q_w + kvh * gw;
            qp[r * gw..(r + 1) * gw].copy_from_slice(&q[src..src + gw]);
        }
        qp[m * d..].fill(0.0);

        // The keys any row of the block sees: per segment, the hull of the rows' intervals.
        let (i0, i1) = (q_pos0 + r0, q_pos0 + r0 + nr - 1);
        let ranges = segs.map(|s| {
            let (lo, _) = visible(mask, i0, &s);
            let (_, hi) = visible(mask, i1, &s);
            (lo, hi.max(lo))
        });
        let n0 = ranges[0].1 - ranges[0].0;
        let keys = n0 + ranges[1].1 - ranges[1].0;
        let ns = keys.next_multiple_of(KEY_BLOCK).max(KEY_BLOCK);
        let s = grow(&mut sc.s, mp * ns);
        let kt = grow(&mut sc.kt, d * KEY_BLOCK);
        let key_row = |n: usize| {
            let (sg, j) = if n < n0 { (&segs[0], ranges[0].0 + n) } else { (&segs[1], ranges[1].0 + n - n0) };
            (sg, j)
        };

        // 1. S = Q · Kᵀ, one packed key block at a time.
        for c0 in (0..keys).step_by(KEY_BLOCK) {
            let kb = KEY_BLOCK.min(keys - c0);
            for n in 0..kb {
                let (sg, j) = key_row(c0 + n);
                let src = &sg.k[j * kv_w + kvh * d..j * kv_w + (kvh + 1) * d];
                for (k, &x) in src.iter().enumerate() {
                    kt[k * KEY_BLOCK + n] = x;
                }
            }
            if kb < KEY_BLOCK {
                for k in 0..d {
                    kt[k * KEY_BLOCK + kb..(k + 1) * KEY_BLOCK].fill(0.0);
                }
            }
            kernel::scores(kernel, Scores { q: qp, rows: mp, d, kt, s: &mut s[c0..], s_stride: ns });
        }

        // 2. Mask and softmax per query vector; P overwrites S.
        for mi in 0..m {
            let i = q_pos0 + r0 + mi / group;
            let row = &mut s[mi * ns..mi * ns + keys];
            if mask != Mask::Bidirectional {
                for (n, x) in row.iter_mut().enumerate() {
                    let (sg, j) = key_row(n);
                    if !mask.allows(i, sg.pos0 + j) {
                        *x = f32::NEG_INFINITY;
                    }
                }
            }
            let max = fast_math::max(isa, row);
            if max == f32::NEG_INFINITY {
                // No visible key: the output row is 0 (every weight is 0).
                row.fill(0.0);
                continue;
            }
            // Masked keys hold −∞: exp gives exactly 0.
            let sum = fast_math::exp_shifted_sum(isa, row, max);
            fast_math::scale(isa, row, (1.0 / sum) as f32);
        }

        // 3. O = P · V over the cache keys, then the new keys, in key order.
        let o = grow(&mut sc.o, mp * d);
        let mut first = true;
        let mut p0 = 0;
        for (sg, &(lo, hi)) in segs.iter().zip(&ranges) {
            if hi == lo {
                continue;
            }
            let v = &sg.v[lo * kv_w + kvh * d..];
            kernel::values(kernel, Values { p: &s[p0..], p_stride: ns, keys: hi - lo, v, v_stride: kv_w, o, rows: mp, d, first });
            first = false;
            p0 += hi - lo;
        }
        if first {
            o.fill(0.0);
        }

        // Scatter the panel back: row r's `group` heads of this KV head are contiguous in `out`.
        for r in 0..nr {
            let dst = (r0 + r) * q_w + kvh * gw;
            // SAFETY: `dst + gw ≤ rows · q_w ≤ out.len()`, and the run (row r0 + r, KV head kvh)
            // belongs to this task alone.
            unsafe { std::ptr::copy_nonoverlapping(o.as_ptr().add(r * gw), outp.get().add(dst), gw) };
        }
    });
}
