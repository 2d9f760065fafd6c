//! AVX2 + FMA register blocks for the attention products: [`ROWS`] query rows × half a
//! 32-float strip of accumulators (8 ymm) stay in registers over the whole reduction; each
//! packed vector is loaded once per block and each row's scalar is broadcast once per step.

use std::arch::x86_64::*;

use super::kernel::{Scores, Values, ROW_ALIGN, STRIP};

/// Query rows per register block.
const ROWS: usize = 4;
/// Columns per register block (two 8-float vectors).
const COLS: usize = 16;
const VECS: usize = COLS / 8;
const _: () = assert!(ROW_ALIGN.is_multiple_of(ROWS) && STRIP.is_multiple_of(COLS));

/// [`Scores`] in register blocks.
///
/// # Safety
/// The CPU runs AVX2 and FMA; the sizes are the ones `kernel::scores` checks.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn scores(a: Scores<'_>) {
    let Scores { q, q_stride, rows, d, kt, strips, s, s_stride } = a;
    for c0 in (0..strips * STRIP).step_by(COLS) {
        let (t, c) = (c0 / STRIP, c0 % STRIP);
        for r0 in (0..rows).step_by(ROWS) {
            // SAFETY: r0 + ROWS ≤ rows and the columns lie inside strip t of the checked panels.
            unsafe {
                let (qb, kb) = (q.as_ptr().add(r0 * q_stride), kt.as_ptr().add(t * d * STRIP + c));
                block(qb, q_stride, d, kb, s.as_mut_ptr().add(r0 * s_stride + c0), s_stride);
            }
        }
    }
}

/// [`Values`] in register blocks.
///
/// # Safety
/// The CPU runs AVX2 and FMA; the sizes are the ones `kernel::values` checks.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn values(a: Values<'_>) {
    let Values { p, p_stride, keys, v, v_stride, o, o_stride, rows } = a;
    for c0 in (0..o_stride).step_by(COLS) {
        let (t, c) = (c0 / STRIP, c0 % STRIP);
        for r0 in (0..rows).step_by(ROWS) {
            // SAFETY: r0 + ROWS ≤ rows and the columns lie inside strip t of the checked panels.
            unsafe {
                let (pb, vb) = (p.as_ptr().add(r0 * p_stride), v.as_ptr().add(t * v_stride + c));
                block(pb, p_stride, keys, vb, o.as_mut_ptr().add(r0 * o_stride + c0), o_stride);
            }
        }
    }
}

/// One block of either product: `out[r · os + c] = Σ_k a[r · as_ + k] · b[k · STRIP + c]` for
/// `r < ROWS`, `c < COLS`, `k < n` in ascending order.
#[inline]
#[target_feature(enable = "avx2,fma")]
// Index loops over const-sized register arrays: the compiler unrolls them and keeps every
// element in a register.
#[allow(clippy::needless_range_loop)]
unsafe fn block(a: *const f32, as_: usize, n: usize, b: *const f32, out: *mut f32, os: usize) {
    // SAFETY: the caller's block lies inside the panels.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); VECS]; ROWS];
        for k in 0..n {
            let bk = b.add(k * STRIP);
            let mut bv = [_mm256_setzero_ps(); VECS];
            for v in 0..VECS {
                bv[v] = _mm256_loadu_ps(bk.add(v * 8));
            }
            for r in 0..ROWS {
                let x = _mm256_set1_ps(*a.add(r * as_ + k));
                for v in 0..VECS {
                    acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
                }
            }
        }
        for r in 0..ROWS {
            for v in 0..VECS {
                _mm256_storeu_ps(out.add(r * os + v * 8), acc[r][v]);
            }
        }
    }
}
