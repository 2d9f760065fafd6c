//! Mixture of experts with rows grouped by expert: each selected expert's weights are decoded
//! once per call for all rows routed to it, and experts run in parallel.
//!
//! Results land in one slot per (row, pick) and are summed per row in pick order afterwards, so
//! the output does not depend on the thread count.

use dgemma_backend::MoeRoute;
use dgemma_quant::kernels::Activations;
use rayon::prelude::*;

use crate::fast_math::{self, isa};
use crate::math::SyncPtr;
use crate::matmul::matmul_serial;
use crate::weight::CpuWeight;

/// Reusable buffers of one MoE call (kept by the backend so steady-state calls do not allocate).
#[derive(Default)]
pub(crate) struct MoeScratch {
    /// Assignment slots (row · k + pick) grouped by expert.
    order: Vec<u32>,
    /// Start of each expert's group in `order` (`n_experts + 1` entries).
    start: Vec<usize>,
    /// Next free position per expert while filling `order`.
    fill: Vec<usize>,
    /// `[rows · k, H]` weighted expert outputs, one per slot.
    slots: Vec<f32>,
}

/// Per-task buffers.
struct Work {
    x: Vec<f32>,
    gu: Vec<f32>,
    act: Vec<f32>,
    y: Vec<f32>,
    tile: Vec<f32>,
    acts: Activations,
}

/// See [`dgemma_backend::Backend::moe`].
pub(crate) fn moe(gate_up: &CpuWeight<'_>, down: &CpuWeight<'_>, x: &[f32], route: &MoeRoute, out: &mut [f32], s: &mut MoeScratch) {
    let h = gate_up.shape.cols;
    let two_i = gate_up.shape.rows;
    let inter = two_i / 2;
    let (rows, k, ne) = (route.rows, route.k, route.n_experts);
    // Counting sort of the slots by expert.
    s.start.clear();
    s.start.resize(ne + 1, 0);
    for &e in &route.experts[..rows * k] {
        s.start[e as usize + 1] += 1;
    }
    for e in 0..ne {
        s.start[e + 1] += s.start[e];
    }
    s.order.resize(rows * k, 0);
    s.fill.clear();
    s.fill.extend_from_slice(&s.start);
    for slot in 0..rows * k {
        let e = route.experts[slot] as usize;
        s.order[s.fill[e]] = slot as u32;
        s.fill[e] += 1;
    }
    s.slots.resize(rows * k * h, 0.0);
    let slots = SyncPtr(s.slots.as_mut_ptr());
    let (order, start) = (&s.order, &s.start);
    (0..ne).into_par_iter().filter(|&e| start[e + 1] > start[e]).for_each_init(
        || Work { x: Vec::new(), gu: Vec::new(), act: Vec::new(), y: Vec::new(), tile: Vec::new(), acts: Activations::new() },
        |wk, e| {
            let mine = &order[start[e]..start[e + 1]];
            let m = mine.len();
            wk.x.resize(m * h, 0.0);
            for (i, &slot) in mine.iter().enumerate() {
                let r = slot as usize / k;
                wk.x[i * h..(i + 1) * h].copy_from_slice(&x[r * h..(r + 1) * h]);
            }
            wk.gu.resize(m * two_i, 0.0);
            matmul_serial(&gate_up.expert(e), &wk.x, m, &mut wk.gu, &mut wk.tile, &mut wk.acts);
            wk.act.resize(m * inter, 0.0);
            for i in 0..m {
                let (g, u) = wk.gu[i * two_i..(i + 1) * two_i].split_at(inter);
                let a = &mut wk.act[i * inter..(i + 1) * inter];
                a.copy_from_slice(g);
                fast_math::gelu_mul(isa(), a, u);
            }
            wk.y.resize(m * h, 0.0);
            matmul_serial(&down.expert(e), &wk.act, m, &mut wk.y, &mut wk.tile, &mut wk.acts);
            for (i, &slot) in mine.iter().enumerate() {
                let wgt = route.weights[slot as usize];
                for c in 0..h {
                    // SAFETY: each slot belongs to exactly one expert, so one task writes it.
                    unsafe { slots.write(slot as usize * h + c, wgt * wk.y[i * h + c]) };
                }
            }
        },
    );
    let slots = &s.slots;
    out[..rows * h].par_chunks_mut(h).enumerate().for_each(|(r, o)| {
        o.fill(0.0);
        for j in 0..k {
            let src = &slots[(r * k + j) * h..(r * k + j + 1) * h];
            o.iter_mut().zip(src).for_each(|(a, b)| *a += b);
        }
    });
}
