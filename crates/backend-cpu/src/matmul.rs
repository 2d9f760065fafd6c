//! Products with weights: `y = x Wᵀ` (linear layers), `y = x W` (soft embedding), row gathers.
//!
//! Weights are decoded to f32 a tile of rows at a time and dotted with every activation row, so
//! each weight byte is read once per call however many rows `x` has; accumulation is f32 in a
//! fixed order, so results do not depend on the thread count.

use rayon::prelude::*;

use dgemma_quant::kernels::{matmul_prepared, Activations};

use crate::math::{axpy, dot, SyncPtr};
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

/// `y[r, o] = Σ_c x[r, c] · W[o, c]` for one expert: float types on this thread (`tile` holds
/// `TILE · cols` decoded values), block types through the kernels.
pub(crate) fn matmul_serial(w: &CpuWeight<'_>, x: &[f32], n: usize, y: &mut [f32], tile: &mut Vec<f32>, acts: &mut Activations) {
    if !is_float(w.ty) {
        return matmul_quant(w, x, n, y, acts);
    }
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    tile.resize(TILE * cols, 0.0);
    for o0 in (0..rows).step_by(TILE) {
        let t = TILE.min(rows - o0);
        for i in 0..t {
            decode(w.ty, w.row(0, o0 + i), &mut tile[i * cols..(i + 1) * cols]);
        }
        for r in 0..n {
            let xr = &x[r * cols..(r + 1) * cols];
            for i in 0..t {
                y[r * rows + o0 + i] = dot(xr, &tile[i * cols..(i + 1) * cols]);
            }
        }
    }
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

/// `y [n, cols] = x [n, rows] · W`: every task owns a block-aligned column segment of `y` for a
/// group of rows and walks all weight rows, decoding only its segment.
///
/// The sum runs over all `rows` (the whole vocabulary for the soft embedding, 262,144 terms of
/// similar size): terms are summed in f32 over runs of [`SUM_RUN`] rows and the runs in f64, so
/// the rounding error does not grow with the vocabulary.
pub(crate) fn matmul_transposed(w: &CpuWeight<'_>, x: &[f32], n: usize, y: &mut [f32]) {
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    assert!(x.len() >= n * rows && y.len() >= n * cols, "matmul_transposed: buffers too small");
    let bs = w.ty.block_size();
    // Segments of whole blocks, about 256 wide; row groups of 32 keep y's segment in cache.
    let seg = (256usize.div_ceil(bs) * bs).min(cols);
    let n_seg = cols.div_ceil(seg);
    const ROW_GROUP: usize = 32;
    const SUM_RUN: usize = 512;
    let n_grp = n.div_ceil(ROW_GROUP);
    let out = SyncPtr(y.as_mut_ptr());
    let bytes_per_block = w.ty.type_size();
    (0..n_seg * n_grp).into_par_iter().for_each_init(
        || (vec![0f32; seg], vec![0f32; ROW_GROUP * seg], vec![0f64; ROW_GROUP * seg]),
        |(wrow, acc, total), task| {
            let (s, g) = (task % n_seg, task / n_seg);
            let c0 = s * seg;
            let width = seg.min(cols - c0);
            let r0 = g * ROW_GROUP;
            let m = ROW_GROUP.min(n - r0);
            acc[..m * width].fill(0.0);
            total[..m * width].fill(0.0);
            let (b0, b1) = (c0 / bs * bytes_per_block, (c0 + width) / bs * bytes_per_block);
            for v in 0..rows {
                let mut decoded = false;
                for r in 0..m {
                    let p = x[(r0 + r) * rows + v];
                    if p == 0.0 {
                        continue; // exact: adds nothing
                    }
                    if !decoded {
                        decode(w.ty, &w.row(0, v)[b0..b1], &mut wrow[..width]);
                        decoded = true;
                    }
                    axpy(p, &wrow[..width], &mut acc[r * width..(r + 1) * width]);
                }
                if (v + 1) % SUM_RUN == 0 || v + 1 == rows {
                    for (t, a) in total[..m * width].iter_mut().zip(acc[..m * width].iter_mut()) {
                        *t += *a as f64;
                        *a = 0.0;
                    }
                }
            }
            for r in 0..m {
                for c in 0..width {
                    // SAFETY: (row group, segment) pairs are disjoint between tasks, indices < n·cols.
                    unsafe { out.write((r0 + r) * cols + c0 + c, total[r * width + c] as f32) };
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
