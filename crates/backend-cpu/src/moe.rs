//! Mixture of experts with rows grouped by expert, scheduled as two flat parallel loops.
//!
//! The layer input is quantized once for the kernels, then one parallel pass runs every
//! (expert, block of intermediate columns) task: the block's gate and up weight rows against the
//! expert's rows (a token list into the shared activations), GELU(gate)·up into the `[rows·k, I]`
//! intermediate. That is quantized once, and a second pass runs every (expert, block of output
//! rows) task of the down projection, each writing its weighted results into one slot per
//! (row, pick). Rows are summed over their slots in pick order at the end.
//!
//! No task nests a parallel loop (an expert has ~16 rows: too few to split its tokens), each
//! task's weight block (≤ 2 · 64 or 128 rows) stays in L2 while the expert's tokens pass, and
//! every value is computed by one task in a fixed order, so the output does not depend on the
//! thread count. Each expert's token list is packed once per projection ([`PackedTokens`]) and
//! each task is one [`matmul_packed_block_on`] call, which gives the same bits as a
//! whole-matrix gather of those tokens: the result equals per-expert `matmul` of the gathered
//! rows.

use std::cell::RefCell;

use dgemma_backend::MoeRoute;
use dgemma_quant::kernels::{matmul_packed_block_on, Activations, Isa, PackedTokens};
use rayon::prelude::*;

use crate::fast_math::{self, isa};
use crate::math::SyncPtr;
use crate::weight::CpuWeight;

/// Intermediate columns per gate/up task: 64 gate plus 64 up weight rows (≈ 190 KB of Q8_0 at
/// width 2816, L2-resident while ~16 tokens stream). A multiple of 16, so GELU runs on the same
/// vector lanes as over a whole row.
const GATE_COLS: usize = 64;
/// Output rows per down task (≈ 96 KB of Q8_0 at width 704).
const DOWN_ROWS: usize = 128;

/// Reusable buffers of one MoE call (kept by the backend so steady-state calls do not allocate).
#[derive(Default)]
pub(crate) struct MoeScratch {
    /// Assignment slots (row · k + pick) grouped by expert.
    order: Vec<u32>,
    /// Start of each expert's group in `order` (`n_experts + 1` entries).
    start: Vec<usize>,
    /// Next free position per expert while filling `order`.
    fill: Vec<usize>,
    /// Experts with at least one row, ascending.
    active: Vec<u32>,
    /// Input row of each position of `order` (the gate/up token lists).
    rows_of: Vec<usize>,
    /// `0, 1, 2, ..`: the down projection's token lists (the intermediate is in `order` order).
    positions: Vec<usize>,
    /// The layer input, quantized for the gate/up weights.
    acts_in: Activations,
    /// `[rows · k, I]` GELU(gate)·up per position of `order`.
    mid: Vec<f32>,
    /// `mid`, quantized for the down weights.
    acts_mid: Activations,
    /// `[rows · k, H]` weighted expert outputs, one per slot.
    slots: Vec<f32>,
    /// Per active expert: its token list, packed once for all its row-block tasks.
    packs: Vec<PackedTokens>,
}

thread_local! {
    /// Per worker thread: one task's kernel outputs, kept between calls so tasks do not allocate.
    static BLOCK_OUT: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// See [`dgemma_backend::Backend::moe`].
pub(crate) fn moe(gate_up: &CpuWeight<'_>, down: &CpuWeight<'_>, x: &[f32], route: &MoeRoute, out: &mut [f32], s: &mut MoeScratch) {
    let h = gate_up.shape.cols;
    let inter = gate_up.shape.rows / 2;
    let (rows, k) = (route.rows, route.k);
    let n_slots = rows * k;
    group_by_expert(route, s);
    let kernel_isa = Isa::detected();

    // Gate/up: one task per (expert, block of GATE_COLS intermediate columns).
    s.acts_in.prepare(gate_up.ty, &x[..rows * h], rows, h).expect("width checked at upload");
    s.mid.resize(n_slots * inter, 0.0);
    let mid = SyncPtr(s.mid.as_mut_ptr());
    let n_col_blocks = inter.div_ceil(GATE_COLS);
    pack_experts(&mut s.packs, &s.active, &s.start, &s.rows_of, &s.acts_in, kernel_isa);
    let (start, active, rows_of, acts_in, packs) = (&s.start, &s.active, &s.rows_of, &s.acts_in, &s.packs);
    (0..active.len() * n_col_blocks).into_par_iter().for_each(|task| {
        let pack = &packs[task / n_col_blocks];
        let e = active[task / n_col_blocks] as usize;
        let c0 = (task % n_col_blocks) * GATE_COLS;
        let bc = GATE_COLS.min(inter - c0);
        let tokens = &rows_of[start[e]..start[e + 1]];
        let m = tokens.len();
        BLOCK_OUT.with_borrow_mut(|buf| {
            buf.resize(2 * m * bc, 0.0);
            let (g, u) = buf.split_at_mut(m * bc);
            let gate_rows = rows_bytes(gate_up, e, c0, c0 + bc);
            let up_rows = rows_bytes(gate_up, e, inter + c0, inter + c0 + bc);
            matmul_packed_block_on(kernel_isa, gate_up.ty, gate_rows, bc, acts_in, pack, g).expect("shape checked at upload");
            matmul_packed_block_on(kernel_isa, gate_up.ty, up_rows, bc, acts_in, pack, u).expect("shape checked at upload");
            for (i, (gi, ui)) in g.chunks_exact_mut(bc).zip(u.chunks_exact(bc)).enumerate() {
                fast_math::gelu_mul(isa(), gi, ui);
                let at = (start[e] + i) * inter + c0;
                // SAFETY: at + bc <= n_slots · inter == mid.len(); positions start[e].. belong to
                // expert e and columns c0..c0 + bc to this task, so no other task touches them.
                unsafe { write_run(mid, at, gi) };
            }
        });
    });

    // Down: one task per (expert, block of DOWN_ROWS output rows), weighted into the slots.
    s.acts_mid.prepare(down.ty, &s.mid, n_slots, inter).expect("width checked at upload");
    s.slots.resize(n_slots * h, 0.0);
    let slots = SyncPtr(s.slots.as_mut_ptr());
    let n_row_blocks = h.div_ceil(DOWN_ROWS);
    pack_experts(&mut s.packs, &s.active, &s.start, &s.positions, &s.acts_mid, kernel_isa);
    let (order, positions, acts_mid, packs, active, start) = (&s.order, &s.positions, &s.acts_mid, &s.packs, &s.active, &s.start);
    (0..active.len() * n_row_blocks).into_par_iter().for_each(|task| {
        let pack = &packs[task / n_row_blocks];
        let e = active[task / n_row_blocks] as usize;
        let r0 = (task % n_row_blocks) * DOWN_ROWS;
        let br = DOWN_ROWS.min(h - r0);
        let tokens = &positions[start[e]..start[e + 1]];
        BLOCK_OUT.with_borrow_mut(|buf| {
            buf.resize(tokens.len() * br, 0.0);
            let w = rows_bytes(down, e, r0, r0 + br);
            matmul_packed_block_on(kernel_isa, down.ty, w, br, acts_mid, pack, buf).expect("shape checked at upload");
            for (yi, &slot) in buf.chunks_exact(br).zip(&order[start[e]..start[e + 1]]) {
                let wgt = route.weights[slot as usize];
                for (c, &v) in yi.iter().enumerate() {
                    // SAFETY: slot < n_slots and r0 + c < h; each slot belongs to one expert
                    // and rows r0..r0 + br to this task, so one task writes each element.
                    unsafe { slots.write(slot as usize * h + r0 + c, wgt * v) };
                }
            }
        });
    });

    let slots = &s.slots;
    out[..rows * h].par_chunks_mut(h).enumerate().for_each(|(r, o)| {
        o.fill(0.0);
        for j in 0..k {
            let src = &slots[(r * k + j) * h..(r * k + j + 1) * h];
            o.iter_mut().zip(src).for_each(|(a, b)| *a += b);
        }
    });
}

/// Packs each active expert's token list (`tokens[start[e]..start[e + 1]]` of `acts`) once,
/// experts in parallel, into `packs[i]` for the `i`-th active expert.
fn pack_experts(packs: &mut Vec<PackedTokens>, active: &[u32], start: &[usize], tokens: &[usize], acts: &Activations, isa: Isa) {
    if packs.len() < active.len() {
        packs.resize_with(active.len(), PackedTokens::new);
    }
    packs[..active.len()].par_iter_mut().zip(active).for_each(|(pack, &e)| {
        let e = e as usize;
        pack.pack(isa, acts, &tokens[start[e]..start[e + 1]]).expect("token lists index the prepared rows");
    });
}

/// Counting sort of the (row, pick) slots by expert into `s.order` / `s.start`, plus the token
/// lists and the experts with work.
fn group_by_expert(route: &MoeRoute, s: &mut MoeScratch) {
    let (n_slots, ne) = (route.rows * route.k, route.n_experts);
    s.start.clear();
    s.start.resize(ne + 1, 0);
    for &e in &route.experts[..n_slots] {
        s.start[e as usize + 1] += 1;
    }
    for e in 0..ne {
        s.start[e + 1] += s.start[e];
    }
    s.order.resize(n_slots, 0);
    s.fill.clear();
    s.fill.extend_from_slice(&s.start);
    for slot in 0..n_slots {
        let e = route.experts[slot] as usize;
        s.order[s.fill[e]] = slot as u32;
        s.fill[e] += 1;
    }
    s.active.clear();
    s.active.extend((0..ne as u32).filter(|&e| s.start[e as usize + 1] > s.start[e as usize]));
    s.rows_of.clear();
    s.rows_of.extend(s.order.iter().map(|&slot| slot as usize / route.k));
    if s.positions.len() < n_slots {
        s.positions.clear();
        s.positions.extend(0..n_slots);
    }
}

/// Copies `src` to `dst[at..at + src.len()]`.
///
/// # Safety
/// That range is inside the buffer `dst` points into, and no other thread accesses it meanwhile.
#[inline]
unsafe fn write_run(dst: SyncPtr, at: usize, src: &[f32]) {
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.0.add(at), src.len()) };
}

/// The bytes of rows `r0..r1` of expert `e` (contiguous in the 3-D tensor).
fn rows_bytes<'a>(w: &CpuWeight<'a>, e: usize, r0: usize, r1: usize) -> &'a [u8] {
    &w.expert(e).data[r0 * w.row_bytes..r1 * w.row_bytes]
}

#[cfg(test)]
mod tests {
    use dgemma_backend::{WeightShape, WeightSource};
    use dgemma_quant::GgmlType;

    use super::*;

    /// The previous scheme, kept as the bit-exact reference: per expert, gather its rows, full
    /// `matmul` (activations quantized per expert), GELU·up, `matmul`, weighted sum in pick order.
    fn per_expert_matmuls(gu: &CpuWeight<'_>, down: &CpuWeight<'_>, x: &[f32], route: &MoeRoute) -> Vec<f32> {
        let (h, inter, k) = (gu.shape.cols, gu.shape.rows / 2, route.k);
        let mut slots = vec![0f32; route.rows * k * h];
        for e in 0..route.n_experts {
            let mine: Vec<usize> = (0..route.rows * k).filter(|&s| route.experts[s] as usize == e).collect();
            let m = mine.len();
            let xe: Vec<f32> = mine.iter().flat_map(|&s| x[s / k * h..(s / k + 1) * h].iter().copied()).collect();
            let mut g = vec![0f32; m * 2 * inter];
            dgemma_quant::kernels::matmul(gu.ty, gu.expert(e).data, 2 * inter, h, &xe, m, &mut g).unwrap();
            let mut a = vec![0f32; m * inter];
            for i in 0..m {
                let (gi, ui) = g[i * 2 * inter..(i + 1) * 2 * inter].split_at(inter);
                a[i * inter..(i + 1) * inter].copy_from_slice(gi);
                fast_math::gelu_mul(isa(), &mut a[i * inter..(i + 1) * inter], ui);
            }
            let mut y = vec![0f32; m * h];
            dgemma_quant::kernels::matmul(down.ty, down.expert(e).data, h, inter, &a, m, &mut y).unwrap();
            for (i, &s) in mine.iter().enumerate() {
                for c in 0..h {
                    slots[s * h + c] = route.weights[s] * y[i * h + c];
                }
            }
        }
        let mut out = vec![0f32; route.rows * h];
        for r in 0..route.rows {
            for j in 0..k {
                for c in 0..h {
                    out[r * h + c] += slots[(r * k + j) * h + c];
                }
            }
        }
        out
    }

    fn weight(ty: GgmlType, e: usize, rows: usize, cols: usize, seed: u32, bytes: &mut Vec<u8>) -> WeightShape {
        let v: Vec<f32> = (0..e * rows * cols).map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32 - 0.5).collect();
        bytes.resize(ty.row_bytes(cols).unwrap() * rows * e, 0);
        dgemma_quant::quantize(ty, &v, bytes).unwrap();
        WeightShape { rows, cols, experts: e }
    }

    /// Same bits as the per-expert scheme for block types (whose kernels give the same bits
    /// per token however a batch is split), with intermediate and output widths that leave
    /// partial task blocks, on a pool of 1 and of 3 threads.
    #[test]
    fn flat_tasks_give_the_per_expert_bits() {
        for (gty, dty, h, inter) in [(GgmlType::Q8_0, GgmlType::Q8_0, 352, 96), (GgmlType::Q4_K, GgmlType::Q5_0, 512, 160), (GgmlType::Q6_K, GgmlType::Q8_0, 256, 32)] {
            let (ne, rows, k) = (6, 45, 3);
            let (mut gb, mut db) = (Vec::new(), Vec::new());
            let gs = weight(gty, ne, 2 * inter, h, 1, &mut gb);
            let ds = weight(dty, ne, h, inter, 2, &mut db);
            let gu = CpuWeight::new(WeightSource { name: "gu", ty: gty, shape: gs, data: &gb }).unwrap();
            let down = CpuWeight::new(WeightSource { name: "down", ty: dty, shape: ds, data: &db }).unwrap();
            let x: Vec<f32> = (0..rows * h).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
            let experts: Vec<u32> = (0..rows * k).map(|s| if s % k == 0 && s % 2 == 0 { 0 } else { ((s * 7 / k + s % k) % (ne - 1) + 1) as u32 }).collect();
            let weights = (0..rows * k).map(|s| 0.1 + (s % 5) as f32 * 0.2).collect();
            let route = MoeRoute { rows, k, n_experts: ne, experts, weights };
            let want = per_expert_matmuls(&gu, &down, &x, &route);
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut out = vec![f32::NAN; rows * h];
                pool.install(|| moe(&gu, &down, &x, &route, &mut out, &mut MoeScratch::default()));
                assert!(out.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{gty}/{dty}, {threads} threads");
            }
        }
    }
}
