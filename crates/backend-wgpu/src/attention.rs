//! Attention over `[cache ‖ new]` K/V with a positional mask: one workgroup per (head, row).

use dgemma_backend::{AttnGeometry, KvSegment, Mask};

use crate::buffer::WgpuBuffer;
use crate::kernels::Kernel;
use crate::recorder::{u, Bind, Recorder};

/// Largest head width the kernel holds (8 output values per thread × 64 threads).
pub(crate) const MAX_HEAD_DIM: usize = 512;

pub(crate) fn attention(
    rec: &mut Recorder<'_>,
    q: &WgpuBuffer,
    geo: AttnGeometry,
    cache: KvSegment<'_, WgpuBuffer>,
    new: KvSegment<'_, WgpuBuffer>,
    mask: Mask,
    out: &WgpuBuffer,
) {
    let AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0 } = geo;
    assert!(kv_heads > 0 && heads % kv_heads == 0, "attention: {heads} heads not a multiple of {kv_heads} kv heads");
    assert!(d <= MAX_HEAD_DIM, "attention: head_dim {d} > {MAX_HEAD_DIM}");
    assert!(q.len >= rows * heads * d && out.len >= rows * heads * d, "attention: q/out too small");
    for s in [&cache, &new] {
        assert!(s.k.len >= s.len * kv_heads * d && s.v.len >= s.len * kv_heads * d, "attention: K/V too small");
    }
    let (kind, window) = match mask {
        Mask::Causal => (0, 0),
        Mask::CausalWindow(w) => (1, w),
        Mask::Bidirectional => (2, 0),
    };
    let params = [
        u(rows),
        u(heads),
        u(kv_heads),
        u(d),
        u(q_pos0),
        u(cache.len),
        u(cache.pos0),
        u(new.len),
        u(new.pos0),
        kind,
        // A window wider than any position behaves as plain causal.
        u(window.min(u32::MAX as usize / 2)),
    ];
    let binds = [
        Bind::Buf(&q.buf),
        Bind::Buf(&cache.k.buf),
        Bind::Buf(&cache.v.buf),
        Bind::Buf(&new.k.buf),
        Bind::Buf(&new.v.buf),
        Bind::Buf(&out.buf),
    ];
    rec.dispatch(Kernel::Attention, &params, &binds, [u(heads), u(rows), 1]);
}
