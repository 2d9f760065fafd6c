//! Attention over `[cache ‖ new]` K/V with a positional mask; f32 softmax, scale 1.
//!
//! Computed as blocked GEMMs:
//! 0. The keys any query row may see (both segments, in key order) are packed once per call
//!    and KV head into contiguous strips of [`STRIP`] (K transposed, V as is): in the segments
//!    a KV head's rows are `kv_heads · d` floats apart, a power of two that keeps missing cache.
//! 1. A task takes one KV head and a block of query rows: the `group` query heads that read
//!    that KV head, over all rows of the block, form a panel of `M ≈ TARGET_ROWS` query vectors.
//!    `S = Q · Kᵀ` over the strips of keys any row of the block may see;
//! 2. the mask (masked keys hold −∞, so they weigh exactly 0) and an exact row softmax (the max,
//!    then the vectorised `exp_shifted_sum` with its f64 sum, then the scale by `1 / sum`);
//! 3. `O = P · V` over the same keys, written back to the rows' heads.
//!
//! Both products run in register-blocked micro-kernels ([`kernel`]). Tasks depend on the
//! shape only, and each output element is written by one task with a fixed summation order, so
//! results do not depend on the thread count.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod kernel;
mod pack;
#[cfg(test)]
mod tests;

use dgemma_backend::{AttnGeometry, KvSegment, Mask};
use rayon::prelude::*;

use crate::fast_math;
use kernel::{Kernel, Scores, Values, ROW_ALIGN, STRIP};
use pack::{Keys, Packed};

/// Query vectors (rows × group heads) per task: enough to reuse each packed strip many times,
/// few enough that the full layers (2 KV heads) still split into dozens of tasks.
const TARGET_ROWS: usize = 64;
/// Floats of padding after each panel row: rows exactly a power of two apart (d = 256, 512)
/// would share a few cache sets.
const PAD: usize = 16;

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

/// The output buffer, shared by tasks that write disjoint runs of `d` floats of it.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint ranges (each (row, head) pair belongs to one task).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper, not the field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Per-thread buffers of a task, grown to the largest task and reused.
#[derive(Default)]
struct Scratch {
    /// Query panel `[m, d + PAD]`.
    q: Vec<f32>,
    /// Scores, then probabilities `[m, task keys + PAD]`.
    s: Vec<f32>,
    /// Output panel `[m, d rounded up to STRIP]`.
    o: Vec<f32>,
}

/// Grows `v` to at least `n` values (new values are 0; old ones are left as they are).
fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// The rows `[lo, hi)` of a segment that the query at position `i` may see: the mask is an
/// interval in key position, and row `j` of the segment sits at `pos0 + j`.
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

/// Per segment, the rows any query at positions `i0 ..= i1` may see (lo and hi grow with `i`).
fn hull(mask: Mask, i0: usize, i1: usize, segs: &[Seg<'_>; 2]) -> [(usize, usize); 2] {
    segs.map(|s| {
        let (lo, _) = visible(mask, i0, &s);
        let (_, hi) = visible(mask, i1, &s);
        (lo, hi.max(lo))
    })
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
    // 0. Pack every key some row sees.
    let keys = Keys::new(segs, hull(mask, q_pos0, q_pos0 + rows - 1, &segs));
    let packed = Packed::take(&keys, kv_heads, d);

    let block_rows = (TARGET_ROWS / group).clamp(1, rows);
    let blocks = rows.div_ceil(block_rows);
    let outp = OutPtr(out.as_mut_ptr());
    let isa = fast_math::isa();
    let dp = d.next_multiple_of(STRIP);
    (0..kv_heads * blocks).into_par_iter().for_each_init(Scratch::default, |sc, task| {
        let (kvh, b) = (task % kv_heads, task / kv_heads);
        let r0 = b * block_rows;
        let nr = block_rows.min(rows - r0);
        let m = nr * group;
        let mp = m.next_multiple_of(ROW_ALIGN);

        // Query panel: vector `(r − r0) · group + g` is head `kvh · group + g` of row `r`.
        let qs = d + PAD;
        let qp = grow(&mut sc.q, mp * qs);
        for r in 0..m {
            let src = (r0 + r / group) * q_w + (kvh * group + r % group) * d;
            qp[r * qs..r * qs + d].copy_from_slice(&q[src..src + d]);
        }
        qp[m * qs..].fill(0.0);

        // The whole strips of packed keys any row of the block sees.
        let (i0, i1) = (q_pos0 + r0, q_pos0 + r0 + nr - 1);
        let (first, strips) = keys.strips(hull(mask, i0, i1, &segs));
        let n = strips * STRIP;
        let ns = n + PAD;
        // Columns before the padding past the last key.
        let live = keys.total().saturating_sub(first * STRIP);
        let s = grow(&mut sc.s, mp * ns);

        // 1. S = Q · Kᵀ.
        let kt = packed.k_strips(kvh, first, strips);
        kernel::scores(kernel, Scores { q: qp, q_stride: qs, rows: mp, d, kt, strips, s, s_stride: ns });

        // 2. Mask and softmax per query vector; P overwrites S.
        for mi in 0..m {
            let i = q_pos0 + r0 + mi / group;
            let row = &mut s[mi * ns..mi * ns + n];
            // Padding past the last key, and keys the mask hides, weigh nothing.
            if mask == Mask::Bidirectional {
                row[live.min(n)..].fill(f32::NEG_INFINITY);
            } else {
                for (c, x) in row.iter_mut().enumerate() {
                    if !keys.position(first * STRIP + c).is_some_and(|j| mask.allows(i, j)) {
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

        // 3. O = P · V over the same keys.
        let o = grow(&mut sc.o, mp * dp);
        let (v, v_stride) = packed.v_strips(kvh, first);
        kernel::values(kernel, Values { p: s, p_stride: ns, keys: n, v, v_stride, o, o_stride: dp, rows: mp });

        // Scatter the panel back to the rows' heads.
        for r in 0..m {
            let dst = (r0 + r / group) * q_w + (kvh * group + r % group) * d;
            // SAFETY: `dst + d ≤ rows · q_w ≤ out.len()`, and head `kvh · group + r % group` of
            // row `r0 + r / group` belongs to this task alone.
            unsafe { std::ptr::copy_nonoverlapping(o.as_ptr().add(r * dp), outp.get().add(dst), d) };
        }
    });
    packed.give_back();
}
