//! AVX-512 VNNI dot kernels for the K formats (Q4_K, Q5_K, Q6_K); see [`super::x86_avx512`].
//!
//! `maddubs` forms the u8 x i8 pairs (the sub-block scales do not fit an 8-bit operand), then
//! `vpdpwssd` multiplies them by the scales and accumulates in one instruction instead of
//! `madd` + `add`. Kernels run `R` weight rows against `N` activation rows from one generic
//! body (1 x 1, 1 x 4 and 2 x 8): each activation load feeds every weight row, and per
//! (weight row, activation row) pair the operations and their order are the same for every
//! shape, so batches give bit-identical results to single-token calls.
//!
//! Every function is `unsafe`: callers must have checked the features (see `table.rs`).
//! Each kernel asserts that the weight slices hold the blocks it reads.

use std::arch::x86_64::*;

use super::x86_avx2::{hsum_ps, hsum_ps128, k4_chunk_codes, load256, load_f16, min_terms, q6_codes32, unpack_scales_k4};
use crate::blocks::BlockQ8K;

/// Checks the shapes shared by every kernel; returns the number of 256-blocks.
fn check<const R: usize, const N: usize>(w: &[&[u8]; R], a: &[&[BlockQ8K]; N], size: usize) -> usize {
    let nb = a[0].len();
    assert!(a.iter().all(|r| r.len() == nb), "activation rows of different lengths");
    assert!(w.iter().all(|r| r.len() >= nb * size), "weight row shorter than its activation row");
    nb
}

/// Shared body of Q4_K and Q5_K for `R` weight rows x `N` activation rows: nibbles at
/// `qs_at`, fifth bits at `qh_at` (Q5_K only).
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dot_k4_like<const R: usize, const N: usize>(
    w: [&[u8]; R],
    a: [&[BlockQ8K]; N],
    size: usize,
    qs_at: usize,
    qh_at: Option<usize>,
) -> [[f32; N]; R] {
    let nb = check(&w, &a, size);
    let mut acc = [[_mm256_setzero_ps(); N]; R];
    let mut acc_m = [[_mm_setzero_ps(); N]; R];
    for i in 0..nb {
        let b: [*const u8; R] = std::array::from_fn(|r| w[r].as_ptr().add(i * size));
        let d: [f32; R] = std::array::from_fn(|r| load_f16(b[r]));
        let dmin: [f32; R] = std::array::from_fn(|r| load_f16(b[r].add(2)));
        let (scales, mins): ([u64; R], [u64; R]) = {
            let sm: [(u64, u64); R] = std::array::from_fn(|r| unpack_scales_k4(&*(b[r].add(4) as *const [u8; 12])));
            (sm.map(|p| p.0), sm.map(|p| p.1))
        };
        for t in 0..N {
            let ab = a[t].get_unchecked(i);
            for r in 0..R {
                let m = _mm_cvtepi32_ps(min_terms(mins[r], &ab.bsums));
                acc_m[r][t] = _mm_fmadd_ps(_mm_set1_ps(dmin[r] * ab.d), m, acc_m[r][t]);
            }
        }
        let mut high: [__m256i; R] = std::array::from_fn(|r| match qh_at {
            Some(off) => load256(b[r].add(off)),
            None => _mm256_setzero_si256(),
        });
        let mut sumi = [[_mm256_setzero_si256(); N]; R];
        // With few pairs the chain of `vpdpwssd` into one accumulator is latency-bound; there
        // the AVX2 sequence (`madd`, then one `add` per chunk) is used. Integer sums: the
        // result is the same either way.
        let fused = R * N > 4;
        for c in 0..4 {
            let mut lo = [_mm256_setzero_si256(); R];
            let mut hi = [_mm256_setzero_si256(); R];
            let mut sc_lo = [_mm256_setzero_si256(); R];
            let mut sc_hi = [_mm256_setzero_si256(); R];
            for r in 0..R {
                (lo[r], hi[r]) = k4_chunk_codes(load256(b[r].add(qs_at + 32 * c)), qh_at.map(|_| &mut high[r]));
                sc_lo[r] = _mm256_set1_epi16(((scales[r] >> (16 * c)) & 0xFF) as i16);
                sc_hi[r] = _mm256_set1_epi16(((scales[r] >> (16 * c + 8)) & 0xFF) as i16);
            }
            for t in 0..N {
                let qa = a[t].get_unchecked(i).qs.as_ptr();
                let a_lo = _mm256_loadu_si256(qa.add(64 * c) as *const __m256i);
                let a_hi = _mm256_loadu_si256(qa.add(64 * c + 32) as *const __m256i);
                for r in 0..R {
                    let p_lo = _mm256_maddubs_epi16(lo[r], a_lo);
                    let p_hi = _mm256_maddubs_epi16(hi[r], a_hi);
                    sumi[r][t] = if fused {
                        _mm256_dpwssd_epi32(_mm256_dpwssd_epi32(sumi[r][t], p_lo, sc_lo[r]), p_hi, sc_hi[r])
                    } else {
                        let p = _mm256_add_epi32(_mm256_madd_epi16(p_lo, sc_lo[r]), _mm256_madd_epi16(p_hi, sc_hi[r]));
                        _mm256_add_epi32(sumi[r][t], p)
                    };
                }
            }
        }
        for t in 0..N {
            let da = a[t].get_unchecked(i).d;
            for r in 0..R {
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * da), _mm256_cvtepi32_ps(sumi[r][t]), acc[r][t]);
            }
        }
    }
    let mut out = [[0.0f32; N]; R];
    for r in 0..R {
        for t in 0..N {
            out[r][t] = hsum_ps(acc[r][t]) - hsum_ps128(acc_m[r][t]);
        }
    }
    out
}

/// Group `G` (32 values: a nibble of `ql` and 2 bits of `qh`) of half `half` of block `i` of
/// the Q6_K rows at `b`, against `N` activation rows, into `sumi`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn q6_group<const R: usize, const N: usize, const G: usize>(
    b: &[*const u8; R],
    a: &[&[BlockQ8K]; N],
    i: usize,
    half: usize,
    sc: &[__m128i; R],
    sumi: &mut [[__m256i; N]; R],
) {
    let q: [__m256i; R] = std::array::from_fn(|r| q6_codes32(b[r], half, G));
    // Elements 0..16 of the group use scale j, 16..32 scale j + 1.
    let j = (8 * half + 2 * G) as i64;
    let pick = _mm_set_epi64x((j + 1) * 0x0101_0101_0101_0101, j * 0x0101_0101_0101_0101);
    let scale: [__m256i; R] = std::array::from_fn(|r| _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc[r], pick)));
    for t in 0..N {
        let qa = a[t].get_unchecked(i).qs.as_ptr().add(128 * half + 32 * G);
        let aq = _mm256_loadu_si256(qa as *const __m256i);
        for r in 0..R {
            sumi[r][t] = _mm256_dpwssd_epi32(sumi[r][t], _mm256_maddubs_epi16(q[r], aq), scale[r]);
        }
    }
}

/// Q6_K for `R` weight rows x `N` activation rows. The `- 32` offset is applied once per
/// block through the activation sums: `sum sc * (q - 32) * a = sum sc * q * a - 32 * sum_k
/// sc[k] * bsums[k]`, one more `vpdpwssd` per pair.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dot_q6_k_rn<const R: usize, const N: usize>(w: [&[u8]; R], a: [&[BlockQ8K]; N]) -> [[f32; N]; R] {
    const SIZE: usize = 210;
    let nb = check(&w, &a, SIZE);
    let mut acc = [[_mm256_setzero_ps(); N]; R];
    for i in 0..nb {
        let b: [*const u8; R] = std::array::from_fn(|r| w[r].as_ptr().add(i * SIZE));
        let sc: [__m128i; R] = std::array::from_fn(|r| _mm_loadu_si128(b[r].add(192) as *const __m128i));
        let sc_neg32: [__m256i; R] =
            std::array::from_fn(|r| _mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc[r]), _mm256_set1_epi16(-32)));
        let mut sumi = [[_mm256_setzero_si256(); N]; R];
        for t in 0..N {
            let bs = _mm256_loadu_si256(a[t].get_unchecked(i).bsums.as_ptr() as *const __m256i);
            for r in 0..R {
                sumi[r][t] = _mm256_dpwssd_epi32(sumi[r][t], bs, sc_neg32[r]);
            }
        }
        for half in 0..2 {
            // The four groups unrolled by hand: with a loop LLVM kept `g` dynamic in the 2 x 8
            // form (branchy decode, spills).
            q6_group::<R, N, 0>(&b, &a, i, half, &sc, &mut sumi);
            q6_group::<R, N, 1>(&b, &a, i, half, &sc, &mut sumi);
            q6_group::<R, N, 2>(&b, &a, i, half, &sc, &mut sumi);
            q6_group::<R, N, 3>(&b, &a, i, half, &sc, &mut sumi);
        }
        for t in 0..N {
            let da = a[t].get_unchecked(i).d;
            for r in 0..R {
                let d = load_f16(b[r].add(208));
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d * da), _mm256_cvtepi32_ps(sumi[r][t]), acc[r][t]);
            }
        }
    }
    let mut out = [[0.0f32; N]; R];
    for r in 0..R {
        for t in 0..N {
            out[r][t] = hsum_ps(acc[r][t]);
        }
    }
    out
}

/// Declares the (optional) 1 x 1, the 1 x 4 and the 2 x 8 kernels of a K format from its
/// generic body. `pair`:
/// the 2 x 8 kernel runs both weight rows together (each activation load feeds both);
/// `one_by_one`: it runs them one after the other, for bodies whose 2 x 8 form measured slower
/// (Q6_K: 2 x 8 127 GFLOP/s, 1 x 8 twice 133; docs/perf.md).
macro_rules! k_kernels {
    ($($one:ident)?, $four:ident, $eight:ident, $mode:ident, $doc:literal, |$w:ident, $a:ident| $body:expr) => {
        $(
        #[doc = $doc]
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(crate) unsafe fn $one(w: &[u8], a: &[BlockQ8K]) -> f32 {
            let ($w, $a) = ([w], [a]);
            $body[0][0]
        }
        )?

        #[doc = $doc]
        #[doc = "Four activation rows."]
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(crate) unsafe fn $four(w: &[u8], $a: [&[BlockQ8K]; 4]) -> [f32; 4] {
            let $w = [w];
            $body[0]
        }

        #[doc = $doc]
        #[doc = "Two weight rows, eight activation rows."]
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(crate) unsafe fn $eight(w: [&[u8]; 2], $a: [&[BlockQ8K]; 8]) -> [[f32; 8]; 2] {
            k_kernels!(@eight $mode, w, |$w| $body)
        }
    };
    (@eight pair, $w2:ident, |$w:ident| $body:expr) => {{
        let $w = $w2;
        $body
    }};
    (@eight one_by_one, $w2:ident, |$w:ident| $body:expr) => {{
        let mut out = [[0.0f32; 8]; 2];
        for r in 0..2 {
            let $w = [$w2[r]];
            out[r] = $body[0];
        }
        out
    }};
}

// No 1 x 1 Q4_K / Q5_K kernels: matvec uses the AVX2 ones (faster, same results; table.rs).
k_kernels!(, dot4_q4_k, dot8_q4_k, pair, "Q4_K weights.", |w, a| dot_k4_like(w, a, 144, 16, None));
k_kernels!(, dot4_q5_k, dot8_q5_k, pair, "Q5_K weights.", |w, a| dot_k4_like(w, a, 176, 48, Some(16)));
k_kernels!(dot_q6_k, dot4_q6_k, dot8_q6_k, one_by_one, "Q6_K weights.", |w, a| dot_q6_k_rn(w, a));
