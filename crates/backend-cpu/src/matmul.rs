//! Products with weights: `y = x Wᵀ` (linear layers) and row gathers; `y = x W` (soft embedding) is in transposed.rs.
//!
//! Weights are decoded to f32 a tile of rows at a time and dotted with every activation row, so
//! each weight byte is read once per call however many rows `x` has; accumulation is f32 in a
//! fixed order, so results do not depend on the thread count.

use rayon::prelude::*;

use dgemma_quant::kernels::{matmul_prepared, Activations};

use crate::math::{dot, SyncPtr};
use crate::weight::{decode, is_float, CpuWeight};

/// Weight rows decoded per task.
const TILE: usize = 16;

/// The weight as `&[f32]` when it is F32 and 4-byte aligned (always, for GGUF data in a mapping).
fn f32_view<'a>(w: &CpuWeight<'a>) -> Option<&'a [f32]> {
    if w.ty != dgemma_quant::GgmlType::F32 || cfg!(target_endian = "big") {
        return None;
    }
    bytemuck::try_cast_slice(w.data).ok()
}

/// `y = x Wᵀ` through the quant crate's kernels (block types), reusing `acts`.
pub(crate) fn matmul_quant(w: &CpuWeight<'_>, x: &[f32], n: usize, y: &mut [f32], acts: &mut Activations) {
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    acts.prepare(w.ty, &x[..n * cols], n, cols).expect("width checked at upload");
    matmul_prepared(w.ty, w.data, rows, acts, &mut y[..n * rows]).expect("shape checked at upload");
}

/// `y [n, rows] = x [n, cols] · Wᵀ`, tiles of weight rows in parallel.
pub(crate) fn matmul(w: &CpuWeight<'_>, x: &[f32], n: usize, y: &mut [f32], acts: &mut Activations) {
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    assert!(x.len() >= n * cols && y.len() >= n * rows, "matmul: buffers too small");
    if !is_float(w.ty) {
        return matmul_quant(w, x, n, y, acts);
    }
    let out = SyncPtr(y.as_mut_ptr());
    // F32 weights in an aligned mapping are used in place (no decode copy).
    if let Some(wf) = f32_view(w) {
        (0..rows.div_ceil(TILE)).into_par_iter().for_each(|ti| {
            let o0 = ti * TILE;
            for r in 0..n {
                let xr = &x[r * cols..(r + 1) * cols];
                for o in o0..(o0 + TILE).min(rows) {
                    // SAFETY: as below; tile `ti` alone writes output columns o0..o0+TILE.
                    unsafe { out.write(r * rows + o, dot(xr, &wf[o * cols..(o + 1) * cols])) };
                }
            }
        });
        return;
    }
    (0..rows.div_ceil(TILE)).into_par_iter().for_each_init(
        || vec![0f32; TILE * cols],
        |tile, ti| {
            let o0 = ti * TILE;
            let t = TILE.min(rows - o0);
            for i in 0..t {
                decode(w.ty, w.row(0, o0 + i), &mut tile[i * cols..(i + 1) * cols]);
            }
            for r in 0..n {
                let xr = &x[r * cols..(r + 1) * cols];
                for i in 0..t {
                    // SAFETY: index r·rows + o0 + i < n·rows ≤ y.len(), and tile `ti` is the
                    // only task writing output columns o0..o0+t.
                    unsafe { out.write(r * rows + o0 + i, dot(xr, &tile[i * cols..(i + 1) * cols])) };
                }
            }
        },
    );
}

/// `out[i] = W[ids[i]] · scale`.
pub(crate) fn get_rows(w: &CpuWeight<'_>, ids: &[u32], scale: f32, out: &mut [f32]) {
    let cols = w.shape.cols;
    out[..ids.len() * cols].par_chunks_mut(cols).zip(ids.par_iter()).for_each(|(o, &id)| {
        decode(w.ty, w.row(0, id as usize), o);
        o.iter_mut().for_each(|v| *v *= scale);
    });
}
