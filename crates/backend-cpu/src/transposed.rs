//! `y = x · W` over a long shared dimension (the soft embedding `softmax(z) · Emb`, model.md §7,
//! 262,144 vocabulary rows): each weight row segment is decoded once per call for all `n` rows.
//!
//! Tasks are (column segment × fixed range of weight rows). The number of row ranges depends only
//! on the shape, never on the thread count, and the ranges' partial sums are added in a fixed
//! order, so results are identical at any thread count.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use crate::math::has_fma;
use crate::weight::{decode, CpuWeight};

/// Weight rows decoded into one tile; each activation row's accumulator is loaded and stored
/// once per tile, not once per weight row.
const VB: usize = 16;
/// Rows summed in f32 before the run is added to the f64 total: the rounding error does not grow
/// with the vocabulary (262k-vocab self-conditioning error 1.3e-4 -> 1.4e-5).
const SUM_RUN: usize = 512;
/// Aim for at least this many tasks so both few- and many-core machines stay busy.
const MIN_TASKS: usize = 32;
/// Output columns per segment, rounded up to whole blocks of the weight type.
const SEG: usize = 256;

/// `y [n, cols] = x [n, rows] · W [rows, cols]`.
pub(crate) fn matmul_transposed(w: &CpuWeight<'_>, x: &[f32], n: usize, y: &mut [f32]) {
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    assert!(x.len() >= n * rows && y.len() >= n * cols, "matmul_transposed: buffers too small");
    if n == 0 || cols == 0 {
        return;
    }
    let bs = w.ty.block_size();
    let seg = (SEG.div_ceil(bs) * bs).min(cols);
    let n_seg = cols.div_ceil(seg);
    // Row ranges of whole sum runs; how many depends on the shape alone.
    let runs = rows.div_ceil(SUM_RUN).max(1);
    let n_chunk = MIN_TASKS.div_ceil(n_seg).min(runs);
    let chunk_rows = runs.div_ceil(n_chunk) * SUM_RUN;
    let n_chunk = rows.div_ceil(chunk_rows).max(1);
    let region = n * seg;
    let mut partial = vec![0f64; n_chunk * n_seg * region];
    partial.par_chunks_mut(region).enumerate().for_each_init(
        || (vec![0f32; VB * seg], vec![0f32; n * VB], vec![0f32; n * seg]),
        |(tile, p, acc), (task, total)| {
            let (k, s) = (task / n_seg, task % n_seg);
            let c0 = s * seg;
            let width = seg.min(cols - c0);
            let v_end = ((k + 1) * chunk_rows).min(rows);
            let (b0, b1) = (c0 / bs * w.ty.type_size(), (c0 + width) / bs * w.ty.type_size());
            let acc = &mut acc[..n * width];
            acc.fill(0.0);
            let mut v0 = k * chunk_rows;
            while v0 < v_end {
                let vb = VB.min(v_end - v0);
                // Gather this tile's probabilities as [n, VB] and note which weight rows matter.
                let mut used = [false; VB];
                for r in 0..n {
                    let xr = &x[r * rows + v0..r * rows + v0 + vb];
                    for j in 0..VB {
                        let q = if j < vb { xr[j] } else { 0.0 };
                        p[r * VB + j] = q;
                        used[j] |= q != 0.0;
                    }
                }
                for j in 0..VB {
                    let t = &mut tile[j * width..(j + 1) * width];
                    if used[j] {
                        decode(w.ty, &w.row(0, v0 + j)[b0..b1], t);
                    } else {
                        t.fill(0.0); // exact: an all-zero column of x adds nothing
                    }
                }
                accumulate(p, &tile[..VB * width], acc, width);
                v0 += vb;
                if (v0 - k * chunk_rows) % SUM_RUN == 0 || v0 == v_end {
                    for (t, a) in total[..n * width].iter_mut().zip(acc.iter_mut()) {
                        *t += *a as f64;
                        *a = 0.0;
                    }
                }
            }
        },
    );
    // Fixed-order reduction of the row ranges.
    y[..n * cols].par_chunks_mut(cols).enumerate().for_each(|(r, yr)| {
        for s in 0..n_seg {
            let c0 = s * seg;
            let width = seg.min(cols - c0);
            for c in 0..width {
                let mut sum = 0f64;
                for k in 0..n_chunk {
                    sum += partial[(k * n_seg + s) * region + r * width + c];
                }
                yr[c0 + c] = sum as f32;
            }
        }
    });
}

/// `acc[r, c] += Σ_j p[r, j] · tile[j, c]` for a tile of [`VB`] weight rows, with AVX2+FMA where
/// the CPU has it. The sum over `j` runs in the same order for every column and thread.
#[inline]
fn accumulate(p: &[f32], tile: &[f32], acc: &mut [f32], width: usize) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked above).
        return unsafe { accumulate_fma(p, tile, acc, width) };
    }
    accumulate_body::<false>(p, tile, acc, width)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn accumulate_fma(p: &[f32], tile: &[f32], acc: &mut [f32], width: usize) {
    accumulate_body::<true>(p, tile, acc, width)
}

/// Columns held in registers per step: eight 8-wide vectors, enough independent FMA chains to
/// hide their latency.
const CW: usize = 64;

#[inline(always)]
fn accumulate_body<const FMA: bool>(p: &[f32], tile: &[f32], acc: &mut [f32], width: usize) {
    let fma = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    for (pr, ar) in p.chunks_exact(VB).zip(acc.chunks_exact_mut(width)) {
        if pr.iter().all(|&q| q == 0.0) {
            continue;
        }
        let mut c0 = 0;
        while c0 + CW <= width {
            let mut a = [0f32; CW];
            a.copy_from_slice(&ar[c0..c0 + CW]);
            for (j, &q) in pr.iter().enumerate() {
                let t = &tile[j * width + c0..j * width + c0 + CW];
                for l in 0..CW {
                    a[l] = fma(q, t[l], a[l]);
                }
            }
            ar[c0..c0 + CW].copy_from_slice(&a);
            c0 += CW;
        }
        for c in c0..width {
            let mut a = ar[c];
            for (j, &q) in pr.iter().enumerate() {
                a = fma(q, tile[j * width + c], a);
            }
            ar[c] = a;
        }
    }
}
