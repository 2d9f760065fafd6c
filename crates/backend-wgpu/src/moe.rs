//! Mixture of experts grouped by expert: the host sorts the (row, pick) slots by expert, the
//! routed rows are gathered once, and one tiled dispatch per projection multiplies every used
//! expert's rows with its contiguous group of slots, so each expert's weights are read once per
//! 64-row tile and call. Weighted results land in one slot
//! per (row, pick) and are summed in pick order, as on the CPU.

use std::sync::Mutex;

use dgemma_backend::MoeRoute;

use crate::buffer::WgpuBuffer;
use crate::kernels::Kernel;
use crate::matmul::{record_tiled, tokens_per_thread, Job, Operands};
use crate::recorder::{grid, u, Bind, Recorder};
use crate::weight::WgpuWeight;
use crate::WgpuBackend;

/// Device and host buffers reused across calls (grown, never shrunk).
#[derive(Default)]
pub(crate) struct MoeScratch {
    xg: Option<WgpuBuffer>,
    gu: Option<WgpuBuffer>,
    act: Option<WgpuBuffer>,
    yv: Option<WgpuBuffer>,
    slots: Option<WgpuBuffer>,
    order: Vec<u32>,
    start: Vec<usize>,
    fill: Vec<usize>,
    jobs: Vec<Job>,
}

impl MoeScratch {
    pub(crate) fn new() -> Mutex<Self> {
        Mutex::new(Self::default())
    }
}

fn at_least<'s>(be: &WgpuBackend, slot: &'s mut Option<WgpuBuffer>, len: usize) -> &'s WgpuBuffer {
    if slot.as_ref().is_none_or(|b| b.len < len) {
        *slot = Some(be.alloc_buffer(len));
    }
    slot.as_ref().expect("just ensured")
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn moe(
    be: &WgpuBackend,
    rec: &mut Recorder<'_>,
    gate_up: &WgpuWeight,
    down: &WgpuWeight,
    x: &WgpuBuffer,
    route: &MoeRoute,
    out: &WgpuBuffer,
    s: &mut MoeScratch,
) {
    let h = gate_up.shape.cols;
    let two_i = gate_up.shape.rows;
    let inter = two_i / 2;
    let (rows, k, ne) = (route.rows, route.k, route.n_experts);
    assert!(down.shape.rows == h && down.shape.cols == inter, "moe: down is {} for gate_up {}", down.shape, gate_up.shape);
    assert!(gate_up.shape.experts >= ne && down.shape.experts >= ne, "moe: route has {ne} experts");
    assert!(x.len >= rows * h && out.len >= rows * h, "moe: buffers too small");
    let total = rows * k;
    if total == 0 {
        return;
    }
    // Counting sort of the slots by expert.
    s.start.clear();
    s.start.resize(ne + 1, 0);
    for &e in &route.experts[..total] {
        assert!((e as usize) < ne, "moe: expert {e} ≥ {ne}");
        s.start[e as usize + 1] += 1;
    }
    for e in 0..ne {
        s.start[e + 1] += s.start[e];
    }
    s.order.resize(total, 0);
    s.fill.clear();
    s.fill.extend_from_slice(&s.start);
    for slot in 0..total {
        let e = route.experts[slot] as usize;
        s.order[s.fill[e]] = slot as u32;
        s.fill[e] += 1;
    }
    let list_off = rec.aux(&s.order);
    let wgt_off = rec.aux(&[]);
    for &slot in &s.order {
        rec.aux(&[route.weights[slot as usize].to_bits()]);
    }
    let xg = at_least(be, &mut s.xg, total * h).buf.clone();
    let gu = at_least(be, &mut s.gu, total * two_i).buf.clone();
    let act = at_least(be, &mut s.act, total * inter).buf.clone();
    let yv = at_least(be, &mut s.yv, total * h).buf.clone();
    let slots = at_least(be, &mut s.slots, total * h).buf.clone();
    let params = |n: usize| [u(n), u(h), u(inter), u(k), list_off, wgt_off];

    let threads = |n: usize| grid(n.div_ceil(256));
    rec.dispatch(Kernel::MoeGather, &params(total), &[Bind::Buf(&x.buf), Bind::Aux, Bind::Buf(&xg)], threads(total * h));
    // Each used expert's rows × its contiguous group of slots, all experts in one tiled
    // dispatch per projection (per weight part), tiles sized to the average group.
    s.jobs.clear();
    for e in 0..ne {
        let (a, m) = (s.start[e], s.start[e + 1] - s.start[e]);
        if m > 0 {
            s.jobs.push(Job { lo: e * two_i, t0: a, tcnt: m });
        }
    }
    let tj = tokens_per_thread(total / s.jobs.len().max(1));
    let o = Operands { x: &xg, x_off: 0, n: total, y: &gu, y_off: 0, y_stride: two_i };
    record_tiled(rec, gate_up, &s.jobs, two_i, &o, tj);
    rec.dispatch(Kernel::MoeGeluSplit, &params(total), &[Bind::Buf(&gu), Bind::Skip, Bind::Buf(&act)], threads(total * inter));
    // The same groups over the down projection: expert e's rows start at e · h there.
    for j in &mut s.jobs {
        j.lo = j.lo / two_i * h;
    }
    let o = Operands { x: &act, x_off: 0, n: total, y: &yv, y_off: 0, y_stride: h };
    record_tiled(rec, down, &s.jobs, h, &o, tj);
    rec.dispatch(Kernel::MoeScatter, &params(total), &[Bind::Buf(&yv), Bind::Aux, Bind::Buf(&slots)], threads(total * h));
    rec.dispatch(Kernel::MoeSumSlots, &params(rows), &[Bind::Buf(&slots), Bind::Skip, Bind::Buf(&out.buf)], threads(rows * h));
}
