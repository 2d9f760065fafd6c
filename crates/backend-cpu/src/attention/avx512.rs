//! AVX-512F register blocks for the attention products: [`ROWS`] query rows × one 32-float
//! strip of accumulators (16 zmm) stay in registers over the whole reduction; each packed
//! vector is loaded once per block and each row's scalar is broadcast once per step.

use std::arch::x86_64::*;

use super::kernel::{Scores, Values, ROW_ALIGN, STRIP};

/// Query rows per register block.
const ROWS: usize = 8;
/// 16-float vectors across a strip.
const VECS: usize = STRIP / 16;
const _: () = assert!(ROW_ALIGN.is_multiple_of(ROWS) && STRIP.is_multiple_of(16));

/// Whether this CPU has AVX-512F (plus AVX2/FMA), checked once.
pub(super) fn available() -> bool {
    use std::sync::OnceLock;
    static AVX512: OnceLock<bool> = OnceLock::new();
    *AVX512.get_or_init(|| {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    })
}

/// [`Scores`] in register blocks.
///
/// # Safety
/// The CPU runs AVX-512F, AVX2 and FMA; the sizes are the ones `kernel::scores` checks.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn scores(a: Scores<'_>) {
    let Scores { q, q_stride, rows, d, kt, strips, s, s_stride } = a;
    // Strips outside, row blocks inside: a strip (d × 32 floats, contiguous) streams from L2
    // for every row block while the block's 8 query rows stay in L1.
    for t in 0..strips {
        for r0 in (0..rows).step_by(ROWS) {
            // SAFETY: r0 + ROWS ≤ rows and strip t lies inside the checked panels.
            unsafe {
                let (qb, kb) = (q.as_ptr().add(r0 * q_stride), kt.as_ptr().add(t * d * STRIP));
                block(qb, q_stride, d, kb, s.as_mut_ptr().add(r0 * s_stride + t * STRIP), s_stride);
            }
        }
    }
}

/// [`Values`] in register blocks.
///
/// # Safety
/// The CPU runs AVX-512F, AVX2 and FMA; the sizes are the ones `kernel::values` checks.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn values(a: Values<'_>) {
    let Values { p, p_stride, keys, v, v_stride, o, o_stride, rows } = a;
    for t in 0..o_stride / STRIP {
        for r0 in (0..rows).step_by(ROWS) {
            // SAFETY: r0 + ROWS ≤ rows and strip t lies inside the checked panels.
            unsafe {
                let (pb, vb) = (p.as_ptr().add(r0 * p_stride), v.as_ptr().add(t * v_stride));
                block(pb, p_stride, keys, vb, o.as_mut_ptr().add(r0 * o_stride + t * STRIP), o_stride);
            }
        }
    }
}

/// One block of either product: `out[r · os + c] = Σ_k a[r · as_ + k] · b[k · STRIP + c]` for
/// `r < ROWS`, `c < STRIP`, `k < n` in ascending order.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
// Index loops over const-sized register arrays: the compiler unrolls them and keeps every
// element in a register.
#[allow(clippy::needless_range_loop)]
unsafe fn block(a: *const f32, as_: usize, n: usize, b: *const f32, out: *mut f32, os: usize) {
    // SAFETY: the caller's block lies inside the panels.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); VECS]; ROWS];
        for k in 0..n {
            let bk = b.add(k * STRIP);
            let mut bv = [_mm512_setzero_ps(); VECS];
            for v in 0..VECS {
                bv[v] = _mm512_loadu_ps(bk.add(v * 16));
            }
            for r in 0..ROWS {
                let x = _mm512_set1_ps(*a.add(r * as_ + k));
                for v in 0..VECS {
                    acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
                }
            }
        }
        for r in 0..ROWS {
            for v in 0..VECS {
                _mm512_storeu_ps(out.add(r * os + v * 16), acc[r][v]);
            }
        }
    }
}
