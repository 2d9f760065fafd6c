//! The AVX2+FMA tile kernel of the soft embedding, for CPUs without AVX-512: the same register
//! blocking as [`super::avx512`] with 8-float ymm vectors and the 16 ymm registers AVX2 has
//! (6 rows × 2 vectors = 12 accumulators, 2 tile vectors, 1 broadcast).
//!
//! Every accumulator is updated by one FMA per weight row in ascending row order, so the results
//! are bit-identical to the AVX-512 and portable-FMA kernels.

use std::arch::x86_64::*;

use super::{Probs, Tile};

/// Activation rows per register block.
const ROWS: usize = 6;
/// 8-float vectors per register block.
const VECS: usize = 2;

/// `acc[r, c] += Σ_j p[r, j] · tile[j, c]`: `tile` has `p.vb` rows of `width`, `acc` and `total`
/// `[n, width]`. On the first tile of a run `acc` counts as zero (its contents are not read);
/// on the last, `total += acc` in f64 follows (`acc` is left holding the run's sums; the next
/// run's first tile ignores them). Register blocks without a `live` row do no FMAs (exact:
/// their probabilities are all zero).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn accumulate(
    p: &Probs<'_>, live: &[bool], tile: &Tile<'_>, acc: &mut [f32], width: usize, first: bool,
    total: Option<&mut [f64]>,
) {
    let n = live.len();
    let (vb, ps) = (p.vb, p.stride);
    assert!(
        n > 0
            && acc.len() == n * width
            && total.as_ref().is_none_or(|t| t.len() == n * width)
            && tile.covers(vb, width)
            && p.x.len() >= (n - 1) * ps + p.v0 + vb,
        "tile kernel: bad buffers"
    );
    let last = total.is_some();
    let nv = width / 8;
    // Column chunks outside, register blocks inside: the chunk's slice of the tile
    // (vb × 16 floats, 4 KiB) stays in L1 while every row block streams past it.
    let mut v0 = 0;
    while v0 < nv {
        let vecs = VECS.min(nv - v0);
        let mut r0 = 0;
        while r0 < n {
            let rows = ROWS.min(n - r0);
            let any = live[r0..r0 + rows].iter().any(|&l| l);
            if any || first || last {
                let off = r0 * width + v0 * 8;
                // SAFETY: `rows` ≤ ROWS rows of probabilities (stride ps, vb each, from
                // r0·ps + v0) and of `acc`/`total` (from r0·width), and vecs·8 columns from
                // v0·8 ≤ width, lie inside the slices (asserted above); the CPU has AVX2 and FMA
                // (caller).
                unsafe {
                    let b = Block {
                        p: p.x.as_ptr().add(r0 * ps + p.v0),
                        ps,
                        vb: if any { vb } else { 0 },
                        t: tile.data.as_ptr().add(v0 * 8),
                        ts: tile.stride,
                        a: acc.as_mut_ptr().add(off),
                        width,
                        first,
                    };
                    match (rows, vecs) {
                        (ROWS, VECS) => block::<ROWS, VECS>(b),
                        (r, VECS) => dispatch_rows::<VECS>(r, b),
                        (r, _) => dispatch_rows::<1>(r, b),
                    }
                }
            }
            r0 += rows;
        }
        // A narrower remainder runs one vector at a time.
        v0 += if vecs == VECS { VECS } else { 1 };
    }
    for c in nv * 8..width {
        for (r, &l) in live.iter().enumerate() {
            let i = r * width + c;
            let mut a = if first { 0.0 } else { acc[i] };
            if l {
                for (j, &q) in p.row(r).iter().enumerate() {
                    a = q.mul_add(tile.data[j * tile.stride + c], a);
                }
            }
            acc[i] = a;
        }
    }
    if let Some(total) = total {
        for (t, a) in total.iter_mut().zip(acc.iter()) {
            *t += *a as f64;
        }
    }
}

/// One register block's operands: `p` → `R` rows (stride `ps`) of `vb` probabilities; `t` →
/// `vb` tile rows (stride `ts`), `a` → `R` accumulator rows (stride `width`), both of at least
/// `8·V` columns.
#[derive(Clone, Copy)]
struct Block {
    p: *const f32,
    ps: usize,
    vb: usize,
    t: *const f32,
    ts: usize,
    a: *mut f32,
    width: usize,
    /// Start from zero instead of loading `a`.
    first: bool,
}

/// [`block`] for a row count known only at run time (the last, partial register block).
#[inline(always)]
unsafe fn dispatch_rows<const V: usize>(rows: usize, b: Block) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match rows {
            1 => block::<1, V>(b),
            2 => block::<2, V>(b),
            3 => block::<3, V>(b),
            4 => block::<4, V>(b),
            5 => block::<5, V>(b),
            _ => block::<ROWS, V>(b),
        }
    }
}

/// One register block: `R` rows × `V` vectors of accumulators, loaded once (or zero), updated
/// by every weight row of the tile, stored once.
///
/// # Safety
/// The pointers of `b` cover what [`Block`] says; the CPU has AVX2 and FMA.
#[inline]
#[target_feature(enable = "avx2,fma")]
// Index loops over const-sized register arrays: the compiler unrolls them and keeps every
// element in a register.
#[allow(clippy::needless_range_loop)]
unsafe fn block<const R: usize, const V: usize>(b: Block) {
    let Block { p, ps, vb, t, ts, a, width, first } = b;
    // SAFETY: all offsets stay inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); V]; R];
        for r in 0..R {
            for v in 0..V {
                if !first {
                    acc[r][v] = _mm256_loadu_ps(a.add(r * width + v * 8));
                }
            }
        }
        for j in 0..vb {
            let tj = t.add(j * ts);
            let mut tv = [_mm256_setzero_ps(); V];
            for v in 0..V {
                tv[v] = _mm256_loadu_ps(tj.add(v * 8));
            }
            for r in 0..R {
                let q = _mm256_set1_ps(*p.add(r * ps + j));
                for v in 0..V {
                    acc[r][v] = _mm256_fmadd_ps(q, tv[v], acc[r][v]);
                }
            }
        }
        for r in 0..R {
            for v in 0..V {
                _mm256_storeu_ps(a.add(r * width + v * 8), acc[r][v]);
            }
        }
    }
}
