//! AVX-512F register blocks for the attention products: [`ROWS`] query rows × `V`·16 columns
//! of accumulators stay in zmm registers over the whole reduction; each packed vector is loaded
//! once per block and each row's scalar is broadcast once per step.

use std::arch::x86_64::*;

use super::kernel::{Scores, Values, KEY_BLOCK};

/// Query rows per register block (divides [`super::kernel::ROW_ALIGN`]).
const ROWS: usize = 8;
/// 16-float vectors per register block: 8 × 2 = 16 accumulators + 2 loaded vectors.
const VECS: usize = 2;
const _: () = assert!(super::kernel::ROW_ALIGN.is_multiple_of(ROWS) && KEY_BLOCK.is_multiple_of(VECS * 16));

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
    let Scores { q, rows, d, kt, s, s_stride } = a;
    // Key chunks outside, row blocks inside: the chunk of `Kᵀ` (d × 32 floats) stays in L1/L2
    // while every row block of the panel streams past it.
    for c0 in (0..KEY_BLOCK).step_by(VECS * 16) {
        for r0 in (0..rows).step_by(ROWS) {
            // SAFETY: r0 + ROWS ≤ rows and c0 + 32 ≤ KEY_BLOCK, inside the checked panels.
            unsafe { score_block(q.as_ptr().add(r0 * d), d, kt.as_ptr().add(c0), s.as_mut_ptr().add(r0 * s_stride + c0), s_stride) };
        }
    }
}

/// One block: `s[r, c] = Σ_k q[r, k] · kt[k, c]` for `r < ROWS`, `c < VECS · 16`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
// Index loops over const-sized register arrays: the compiler unrolls them and keeps every
// element in a register.
#[allow(clippy::needless_range_loop)]
unsafe fn score_block(q: *const f32, d: usize, kt: *const f32, s: *mut f32, ss: usize) {
    // SAFETY: the caller's block lies inside the panels.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); VECS]; ROWS];
        for k in 0..d {
            let t = kt.add(k * KEY_BLOCK);
            let mut tv = [_mm512_setzero_ps(); VECS];
            for v in 0..VECS {
                tv[v] = _mm512_loadu_ps(t.add(v * 16));
            }
            for r in 0..ROWS {
                let x = _mm512_set1_ps(*q.add(r * d + k));
                for v in 0..VECS {
                    acc[r][v] = _mm512_fmadd_ps(x, tv[v], acc[r][v]);
                }
            }
        }
        for r in 0..ROWS {
            for v in 0..VECS {
                _mm512_storeu_ps(s.add(r * ss + v * 16), acc[r][v]);
            }
        }
    }
}

/// [`Values`] in register blocks; `d` must be a multiple of 16.
///
/// # Safety
/// The CPU runs AVX-512F, AVX2 and FMA; the sizes are the ones `kernel::values` checks.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn values(a: Values<'_>) {
    let Values { p, p_stride, keys, v, v_stride, o, rows, d, first } = a;
    let (pp, vp, op) = (p.as_ptr(), v.as_ptr(), o.as_mut_ptr());
    let mut c0 = 0;
    // Column chunks outside: the chunk of V (keys × 128 bytes) stays in L1 for every row block.
    while c0 < d {
        let wide = d - c0 >= VECS * 16;
        for r0 in (0..rows).step_by(ROWS) {
            // SAFETY: r0 + ROWS ≤ rows; the block's columns end at or before d.
            unsafe {
                let (pb, vb, ob) = (pp.add(r0 * p_stride), vp.add(c0), op.add(r0 * d + c0));
                if wide {
                    value_block::<VECS>(pb, p_stride, keys, vb, v_stride, ob, d, first);
                } else {
                    value_block::<1>(pb, p_stride, keys, vb, v_stride, ob, d, first);
                }
            }
        }
        c0 += if wide { VECS * 16 } else { 16 };
    }
}

/// One block: `o[r, c] (+)= Σ_j p[r, j] · v[j, c]` for `r < ROWS`, `c < V · 16`, `j` ascending.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
unsafe fn value_block<const V: usize>(
    p: *const f32, ps: usize, keys: usize, v: *const f32, vs: usize, o: *mut f32, os: usize, first: bool,
) {
    // SAFETY: the caller's block lies inside the panels.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); V]; ROWS];
        if !first {
            for r in 0..ROWS {
                for c in 0..V {
                    acc[r][c] = _mm512_loadu_ps(o.add(r * os + c * 16));
                }
            }
        }
        for j in 0..keys {
            let vj = v.add(j * vs);
            let mut xv = [_mm512_setzero_ps(); V];
            for c in 0..V {
                xv[c] = _mm512_loadu_ps(vj.add(c * 16));
            }
            for r in 0..ROWS {
                let w = _mm512_set1_ps(*p.add(r * ps + j));
                for c in 0..V {
                    acc[r][c] = _mm512_fmadd_ps(w, xv[c], acc[r][c]);
                }
            }
        }
        for r in 0..ROWS {
            for c in 0..V {
                _mm512_storeu_ps(o.add(r * os + c * 16), acc[r][c]);
            }
        }
    }
}
