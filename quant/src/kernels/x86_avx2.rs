//! AVX2 + FMA + F16C dot kernels (x86_64).
//!
//! Same results as [`super::scalar`] up to f32 summation order. Integer work uses
//! `maddubs` (u8 x i8 -> i16 pairs), which saturates only above 32767: the unsigned weight
//! values are at most 63 and activations at most 127 in magnitude, so a pair is at most
//! 2 * 63 * 127 = 16002, and the signed Q8_0 path moves the sign onto the activation
//! (|w| <= 128, 2 * 128 * 127 = 32512).
//!
//! Each format has a one-row kernel (`dot_*`, matvec) and a four-row one (`dot4_*`, matmul)
//! that decodes each weight block once for four activation rows; both run the same generic
//! code, so per row they perform the same operations in the same order.
//!
//! Every function is `unsafe`: callers must have checked the features (see `table.rs`).
//! Each kernel asserts that the weight slice holds the blocks it reads, so a wrong caller
//! panics instead of reading out of bounds.

use std::arch::x86_64::*;

use super::activations::BlockQ8Act;
use crate::blocks::{BlockQ8K, QK_K};

/// Sum of the 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Sum of the 4 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn hsum_ps128(s: __m128) -> f32 {
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// The binary16 at `p` (unaligned) as f32, converted in integer registers.
///
/// Not `vcvtph2ps`: for a single lane LLVM builds the input on top of whatever vector register
/// is free, often the live FMA accumulator, which chains every block to the previous one
/// (measured 4x slower on Q8_0). Exact for every input, including subnormals, inf and NaN.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn load_f16(p: *const u8) -> f32 {
    let h = (p as *const u16).read_unaligned() as u32;
    let sign = (h & 0x8000) << 16;
    let bits = if h & 0x7C00 == 0x7C00 {
        0x7F80_0000 | ((h & 0x03FF) << 13)
    } else {
        // Reinterpret exponent and mantissa in place, then rebias by 2^(127 - 15).
        (f32::from_bits((h & 0x7FFF) << 13) * f32::from_bits(0x7780_0000)).to_bits()
    };
    f32::from_bits(bits | sign)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn load256(p: *const u8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

/// Unsigned bytes `u` times signed bytes `s`, summed in groups of 4 into 8 i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_u8_i8(u: __m256i, s: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
}

/// The 16 packed bytes at `p` as 32 nibbles: low nibbles in bytes 0..16, high in 16..32
/// (the element order of the legacy formats).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn nibbles32(p: *const u8) -> __m256i {
    let q = _mm_loadu_si128(p as *const __m128i);
    let m = _mm_set1_epi8(0x0F);
    _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m))
}

/// Byte j = 0xFF where bit j of `x` is set, else 0.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn bit_mask32(x: u32) -> __m256i {
    // Byte j gets byte j / 8 of x; OR-ing every bit but (j % 8) leaves all-ones iff that bit is set.
    let spread = _mm256_set_epi64x(
        0x0303_0303_0303_0303,
        0x0202_0202_0202_0202,
        0x0101_0101_0101_0101,
        0,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x as i32), spread);
    let others = _mm256_set1_epi64x(0x7FBF_DFEF_F7FB_FDFEu64 as i64);
    _mm256_cmpeq_epi8(_mm256_or_si256(bytes, others), _mm256_set1_epi8(-1))
}

/// Shared loop of the 32-value formats for `N` activation rows at once (the weights are
/// decoded once per block and reused for every row). `block(ptr)` returns the 32 weight
/// values (signed if `SIGNED`, else unsigned) and the f32 weight offset `m` (0 if none).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_q8_blocks<const N: usize, const SIGNED: bool>(
    w: &[u8],
    a: [&[BlockQ8Act]; N],
    size: usize,
    block: impl Fn(*const u8) -> (__m256i, f32),
) -> [f32; N] {
    let nb = a[0].len();
    assert!(a.iter().all(|r| r.len() == nb), "activation rows of different lengths");
    assert!(w.len() >= nb * size, "weight row shorter than its activation row");
    let mut acc = [_mm256_setzero_ps(); N];
    let mut offset = [0.0f32; N];
    for i in 0..nb {
        let b = w.as_ptr().add(i * size);
        let (q, m) = block(b);
        let dw = _mm256_set1_ps(load_f16(b));
        // Signed weights: move their sign onto the activations so `maddubs` applies.
        let u = if SIGNED { _mm256_sign_epi8(q, q) } else { q };
        for t in 0..N {
            let ab = a[t].get_unchecked(i);
            let qa = _mm256_loadu_si256(ab.qs.as_ptr() as *const __m256i);
            let qa = if SIGNED { _mm256_sign_epi8(qa, q) } else { qa };
            let d = _mm256_mul_ps(dw, _mm256_broadcast_ss(&ab.d));
            acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_i8(u, qa)), acc[t]);
            offset[t] += m * ab.s;
        }
    }
    let mut out = [0.0f32; N];
    for t in 0..N {
        out[t] = hsum_ps(acc[t]) + offset[t];
    }
    out
}

/// Declares the one-row and four-row kernels of a 32-value format.
macro_rules! q8_kernels {
    ($one:ident, $four:ident, $size:expr, $signed:expr, $doc:literal, $block:expr) => {
        #[doc = $doc]
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $one(w: &[u8], a: &[BlockQ8Act]) -> f32 {
            dot_q8_blocks::<1, $signed>(w, [a], $size, $block)[0]
        }

        #[doc = $doc]
        #[doc = "Four activation rows."]
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $four(w: &[u8], a: [&[BlockQ8Act]; 4]) -> [f32; 4] {
            dot_q8_blocks::<4, $signed>(w, a, $size, $block)
        }
    };
}

q8_kernels!(dot_q8_0, dot4_q8_0, 34, true, "Q8_0 weights.", |b: *const u8| (load256(b.add(2)), 0.0));
// Q4_0 and Q5_0 run on the unsigned codes with the offset folded into the activation sum
// (`d·(q - 8)·a = d·q·a - 8d·a`): no per-token sign fix-up, as for Q4_1 / Q5_1.
q8_kernels!(dot_q4_0, dot4_q4_0, 18, false, "Q4_0 weights.", |b: *const u8| {
    (nibbles32(b.add(2)), -8.0 * load_f16(b))
});
q8_kernels!(dot_q4_1, dot4_q4_1, 20, false, "Q4_1 weights.", |b: *const u8| {
    (nibbles32(b.add(4)), load_f16(b.add(2)))
});
q8_kernels!(dot_q5_0, dot4_q5_0, 22, false, "Q5_0 weights.", |b: *const u8| {
    let high = bit_mask32((b.add(2) as *const u32).read_unaligned());
    (_mm256_or_si256(nibbles32(b.add(6)), _mm256_and_si256(high, _mm256_set1_epi8(0x10))), -16.0 * load_f16(b))
});
q8_kernels!(dot_q5_1, dot4_q5_1, 24, false, "Q5_1 weights.", |b: *const u8| {
    let high = bit_mask32((b.add(4) as *const u32).read_unaligned());
    (_mm256_or_si256(nibbles32(b.add(8)), _mm256_and_si256(high, _mm256_set1_epi8(0x10))), load_f16(b.add(2)))
});

/// The eight 6-bit scales and eight 6-bit mins of a Q4_K/Q5_K block, as bytes of two u64.
#[inline]
pub(super) fn unpack_scales_k4(p: &[u8; 12]) -> (u64, u64) {
    const LOW6: u32 = 0x3F3F_3F3F;
    const LOW4: u32 = 0x0F0F_0F0F;
    const LOW2: u32 = 0x0303_0303;
    let word = |i: usize| u32::from_le_bytes([p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]]);
    let (w0, w1, w2) = (word(0), word(1), word(2));
    // Scales/mins 0..4 are the low 6 bits of bytes 0..4 / 4..8; 4..8 take a nibble from
    // bytes 8..12 and their top two bits from the spare top bits of bytes 0..4 / 4..8.
    let scales = (w0 & LOW6) as u64 | ((((w2 & LOW4) | (((w0 >> 6) & LOW2) << 4)) as u64) << 32);
    let mins = (w1 & LOW6) as u64 | (((((w2 >> 4) & LOW4) | (((w1 >> 6) & LOW2) << 4)) as u64) << 32);
    (scales, mins)
}

/// Q4_K / Q5_K chunk `c` (the 32 packed bytes `q4`): the codes of its two sub-blocks, low
/// nibbles (sub-block `2c`) and high nibbles (`2c + 1`). For Q5_K, `high` holds the `qh` bytes
/// shifted right by `2c`: bit 0 is the fifth bit of the low half, bit 1 of the high half; it is
/// shifted on by 2 for the next chunk.
///
/// Callers must enable AVX2 (`#[inline(always)]`: compiled into the caller).
#[inline(always)]
pub(super) unsafe fn k4_chunk_codes(q4: __m256i, high: Option<&mut __m256i>) -> (__m256i, __m256i) {
    unsafe {
        let low4 = _mm256_set1_epi8(0x0F);
        let mut lo = _mm256_and_si256(q4, low4);
        let mut hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), low4);
        if let Some(h) = high {
            let one = _mm256_set1_epi8(1);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(*h, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(*h, 1), one), 4));
            *h = _mm256_srli_epi16(*h, 2);
        }
        (lo, hi)
    }
}

/// Q6_K: the 32 six-bit codes (0..=63) of group `g` (0..4) of half `half` of the block at `b`:
/// the low four bits from `ql[64·half + 32·(g & 1)..]` (low nibbles for g < 2, high for g ≥ 2),
/// the top two from bits `2g..2g + 2` of `qh[32·half..]`.
///
/// Callers must enable AVX2 (`#[inline(always)]`: compiled into the caller).
#[inline(always)]
pub(super) unsafe fn q6_codes32(b: *const u8, half: usize, g: usize) -> __m256i {
    unsafe {
        let l = _mm256_loadu_si256(b.add(64 * half + 32 * (g & 1)) as *const __m256i);
        let h = _mm256_loadu_si256(b.add(128 + 32 * half) as *const __m256i);
        let l = if g < 2 { l } else { _mm256_srli_epi16(l, 4) };
        let h = match g {
            0 => _mm256_slli_epi16(h, 4),
            1 => _mm256_slli_epi16(h, 2),
            2 => h,
            _ => _mm256_srli_epi16(h, 2),
        };
        _mm256_or_si256(_mm256_and_si256(l, _mm256_set1_epi8(0x0F)), _mm256_and_si256(h, _mm256_set1_epi8(0x30)))
    }
}

/// Sum over the 8 sub-blocks of `min[j] * (bsums[2j] + bsums[2j+1])`, as 4 i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn min_terms(mins: u64, bsums: &[i16; 16]) -> __m128i {
    let bs = _mm256_loadu_si256(bsums.as_ptr() as *const __m256i);
    let pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    _mm_madd_epi16(pairs, _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64)))
}

/// Shared body of Q4_K and Q5_K for `N` activation rows: nibbles at `qs_at`, fifth bits at
/// `qh_at` (Q5_K only).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_k4_like<const N: usize>(
    w: &[u8],
    a: [&[BlockQ8K]; N],
    size: usize,
    qs_at: usize,
    qh_at: Option<usize>,
) -> [f32; N] {
    let nb = a[0].len();
    assert!(a.iter().all(|r| r.len() == nb), "activation rows of different lengths");
    assert!(w.len() >= nb * size, "weight row shorter than its activation row");
    let mut acc = [_mm256_setzero_ps(); N];
    let mut acc_m = [_mm_setzero_ps(); N];
    for i in 0..nb {
        let b = w.as_ptr().add(i * size);
        let (d, dmin) = (load_f16(b), load_f16(b.add(2)));
        let (scales, mins) = unpack_scales_k4(&*(b.add(4) as *const [u8; 12]));
        for t in 0..N {
            let ab = a[t].get_unchecked(i);
            let m = _mm_cvtepi32_ps(min_terms(mins, &ab.bsums));
            acc_m[t] = _mm_fmadd_ps(_mm_set1_ps(dmin * ab.d), m, acc_m[t]);
        }
        let mut high = match qh_at {
            Some(off) => load256(b.add(off)),
            None => _mm256_setzero_si256(),
        };
        let mut sumi = [_mm256_setzero_si256(); N];
        for c in 0..4 {
            let (lo, hi) = k4_chunk_codes(load256(b.add(qs_at + 32 * c)), qh_at.map(|_| &mut high));
            let sc_lo = _mm256_set1_epi16(((scales >> (16 * c)) & 0xFF) as i16);
            let sc_hi = _mm256_set1_epi16(((scales >> (16 * c + 8)) & 0xFF) as i16);
            for t in 0..N {
                let qa = a[t].get_unchecked(i).qs.as_ptr();
                let a_lo = _mm256_loadu_si256(qa.add(64 * c) as *const __m256i);
                let a_hi = _mm256_loadu_si256(qa.add(64 * c + 32) as *const __m256i);
                let p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a_lo), sc_lo);
                let p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a_hi), sc_hi);
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p_lo, p_hi));
            }
        }
        for t in 0..N {
            let da = _mm256_set1_ps(d * a[t].get_unchecked(i).d);
            acc[t] = _mm256_fmadd_ps(da, _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    let mut out = [0.0f32; N];
    for t in 0..N {
        out[t] = hsum_ps(acc[t]) - hsum_ps128(acc_m[t]);
    }
    out
}

/// Q4_K weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q4_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    dot_k4_like::<1>(w, [a], 144, 16, None)[0]
}

/// Q4_K weights, four activation rows.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot4_q4_k(w: &[u8], a: [&[BlockQ8K]; 4]) -> [f32; 4] {
    dot_k4_like::<4>(w, a, 144, 16, None)
}

/// Q5_K weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q5_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    dot_k4_like::<1>(w, [a], 176, 48, Some(16))[0]
}

/// Q5_K weights, four activation rows.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot4_q5_k(w: &[u8], a: [&[BlockQ8K]; 4]) -> [f32; 4] {
    dot_k4_like::<4>(w, a, 176, 48, Some(16))
}

/// Q6_K for `N` activation rows. The `- 32` offset is applied once per block through the
/// activation sums: `sum sc * (q - 32) * a = sum sc * q * a - 32 * sum_k sc[k] * bsums[k]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_q6_k_n<const N: usize>(w: &[u8], a: [&[BlockQ8K]; N]) -> [f32; N] {
    const SIZE: usize = 210;
    let nb = a[0].len();
    assert!(a.iter().all(|r| r.len() == nb), "activation rows of different lengths");
    assert!(w.len() >= nb * SIZE, "weight row shorter than its activation row");
    let low4 = _mm256_set1_epi8(0x0F);
    let mut acc = [_mm256_setzero_ps(); N];
    for i in 0..nb {
        let b = w.as_ptr().add(i * SIZE);
        let (ql, qh) = (b, b.add(128));
        let sc = _mm_loadu_si128(b.add(192) as *const __m128i);
        let sc16 = _mm256_cvtepi8_epi16(sc);
        let d = load_f16(b.add(208));
        let mut sumi = [_mm256_setzero_si256(); N];
        for t in 0..N {
            let bs = _mm256_loadu_si256(a[t].get_unchecked(i).bsums.as_ptr() as *const __m256i);
            sumi[t] = _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5);
            sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), sumi[t]);
        }
        for half in 0..2 {
            let l0 = load256(ql.add(64 * half));
            let l1 = load256(ql.add(64 * half + 32));
            let h = load256(qh.add(32 * half));
            let q = [
                _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x03)), 4)),
                _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x0C)), 2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(h, _mm256_set1_epi8(0x30))),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                    _mm256_and_si256(_mm256_srli_epi16(h, 2), _mm256_set1_epi8(0x30)),
                ),
            ];
            for (g, qg) in q.iter().enumerate() {
                // Elements 0..16 of the group use scale j, 16..32 scale j + 1.
                let j = (8 * half + 2 * g) as i64;
                let pick = _mm_set_epi64x((j + 1) * 0x0101_0101_0101_0101, j * 0x0101_0101_0101_0101);
                let scale = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, pick));
                for t in 0..N {
                    let qa = a[t].get_unchecked(i).qs.as_ptr().add(128 * half + 32 * g);
                    let aq = _mm256_loadu_si256(qa as *const __m256i);
                    let p = _mm256_madd_epi16(_mm256_maddubs_epi16(*qg, aq), scale);
                    sumi[t] = _mm256_add_epi32(sumi[t], p);
                }
            }
        }
        for t in 0..N {
            let da = _mm256_set1_ps(d * a[t].get_unchecked(i).d);
            acc[t] = _mm256_fmadd_ps(da, _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    let mut out = [0.0f32; N];
    for t in 0..N {
        out[t] = hsum_ps(acc[t]);
    }
    out
}

/// Q6_K weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q6_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    dot_q6_k_n::<1>(w, [a])[0]
}

/// Q6_K weights, four activation rows.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot4_q6_k(w: &[u8], a: [&[BlockQ8K]; 4]) -> [f32; 4] {
    dot_q6_k_n::<4>(w, a)
}

/// Shared loop of the float formats: `load8(p)` widens the 8 weights at `p` to f32.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_float(w: &[u8], x: &[f32], width: usize, load8: impl Fn(*const u8) -> __m256, one: impl Fn(&[u8]) -> f32) -> f32 {
    assert!(w.len() >= x.len() * width, "weight row shorter than its activation row");
    let n = x.len();
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // Four independent accumulators hide the FMA latency.
    while i + 32 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            let j = i + 8 * k;
            *a = _mm256_fmadd_ps(load8(wp.add(j * width)), _mm256_loadu_ps(xp.add(j)), *a);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(load8(wp.add(i * width)), _mm256_loadu_ps(xp.add(i)), acc[0]);
        i += 8;
    }
    let mut sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for j in i..n {
        sum += one(&w[j * width..(j + 1) * width]) * x[j];
    }
    sum
}

/// Float weights against four activation rows: each weight vector is widened once.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot4_float(
    w: &[u8],
    x: [&[f32]; 4],
    width: usize,
    load8: impl Fn(*const u8) -> __m256,
    one: impl Fn(&[u8]) -> f32,
) -> [f32; 4] {
    let n = x[0].len();
    assert!(x.iter().all(|r| r.len() == n), "activation rows of different lengths");
    assert!(w.len() >= n * width, "weight row shorter than its activation row");
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 8 <= n {
        let wv = load8(w.as_ptr().add(i * width));
        for t in 0..4 {
            acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t].as_ptr().add(i)), acc[t]);
        }
        i += 8;
    }
    let mut out = [0.0f32; 4];
    for t in 0..4 {
        out[t] = hsum_ps(acc[t]);
        for j in i..n {
            out[t] += one(&w[j * width..(j + 1) * width]) * x[t][j];
        }
    }
    out
}

/// Declares the one-row and four-row kernels of a float format.
macro_rules! float_kernels {
    ($one:ident, $four:ident, $width:expr, $doc:literal, $load8:expr, $scalar:expr) => {
        #[doc = $doc]
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $one(w: &[u8], x: &[f32]) -> f32 {
            dot_float(w, x, $width, $load8, $scalar)
        }

        #[doc = $doc]
        #[doc = "Four activation rows."]
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(crate) unsafe fn $four(w: &[u8], x: [&[f32]; 4]) -> [f32; 4] {
            dot4_float(w, x, $width, $load8, $scalar)
        }
    };
}

float_kernels!(
    dot_f32,
    dot4_f32,
    4,
    "F32 weights.",
    |p: *const u8| _mm256_loadu_ps(p as *const f32),
    |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]])
);
float_kernels!(
    dot_f16,
    dot4_f16,
    2,
    "F16 weights.",
    |p: *const u8| _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)),
    |b: &[u8]| crate::blocks::f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
);
// BF16 is the top half of an f32: widen to 32 bits and shift up.
float_kernels!(
    dot_bf16,
    dot4_bf16,
    2,
    "BF16 weights.",
    |p: *const u8| {
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(p as *const __m128i)), 16))
    },
    |b: &[u8]| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
);

const _: () = assert!(QK_K == 256);
