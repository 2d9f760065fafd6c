//! AVX2 + FMA + F16C dot kernels (x86_64).
//!
//! Same results as [`super::scalar`] up to f32 summation order. Integer work uses
//! `maddubs` (u8 x i8 -> i16 pairs), which saturates only above 32767: the unsigned weight
//! values are at most 63 and activations at most 127 in magnitude, so a pair is at most
//! 2 * 63 * 127 = 16002, and the signed Q8_0/Q4_0/Q5_0 paths move the sign onto the activation
//! (|w| <= 128, 2 * 128 * 127 = 32512).
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
unsafe fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Sum of the 4 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn hsum_ps128(s: __m128) -> f32 {
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
unsafe fn load_f16(p: *const u8) -> f32 {
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
unsafe fn load256(p: *const u8) -> __m256i {
    _mm256_loadu_si256(p as *const __m256i)
}

/// Unsigned bytes `u` times signed bytes `s`, summed in groups of 4 into 8 i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_u8_i8(u: __m256i, s: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
}

/// Signed bytes times signed bytes: the sign of `x` is moved onto `y` so `maddubs` applies.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_i8_i8(x: __m256i, y: __m256i) -> __m256i {
    dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x))
}

/// The 16 packed bytes at `p` as 32 nibbles: low nibbles in bytes 0..16, high in 16..32
/// (the element order of the legacy formats).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn nibbles32(p: *const u8) -> __m256i {
    let q = _mm_loadu_si128(p as *const __m128i);
    let m = _mm_set1_epi8(0x0F);
    _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m))
}

/// Byte j = 0xFF where bit j of `x` is set, else 0.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn bit_mask32(x: u32) -> __m256i {
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

/// Shared loop of the 32-value formats: `block(ptr, act)` returns the 8-lane integer sum and
/// the f32 weight offset `m` (0 when the format has none).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_q8_blocks(
    w: &[u8],
    a: &[BlockQ8Act],
    size: usize,
    block: impl Fn(*const u8, __m256i) -> (__m256i, f32),
) -> f32 {
    assert!(w.len() >= a.len() * size, "weight row shorter than its activation row");
    let mut acc = _mm256_setzero_ps();
    let mut offset = 0.0f32;
    for (i, ab) in a.iter().enumerate() {
        let b = w.as_ptr().add(i * size);
        let (sum, m) = block(b, _mm256_loadu_si256(ab.qs.as_ptr() as *const __m256i));
        let d = _mm256_set1_ps(load_f16(b) * ab.d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc);
        offset += m * ab.s;
    }
    hsum_ps(acc) + offset
}

/// Q8_0 weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q8_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 34, |b, qa| (dot_i8_i8(load256(b.add(2)), qa), 0.0))
}

/// Q4_0 weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q4_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 18, |b, qa| {
        let q = _mm256_sub_epi8(nibbles32(b.add(2)), _mm256_set1_epi8(8));
        (dot_i8_i8(q, qa), 0.0)
    })
}

/// Q4_1 weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q4_1(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 20, |b, qa| (dot_u8_i8(nibbles32(b.add(4)), qa), load_f16(b.add(2))))
}

/// Q5_0 weights: `q - 16` is the nibble where the fifth bit is set, else nibble | 0xF0.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q5_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 22, |b, qa| {
        let high = bit_mask32((b.add(2) as *const u32).read_unaligned());
        let q = _mm256_or_si256(nibbles32(b.add(6)), _mm256_andnot_si256(high, _mm256_set1_epi8(0xF0u8 as i8)));
        (dot_i8_i8(q, qa), 0.0)
    })
}

/// Q5_1 weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q5_1(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 24, |b, qa| {
        let high = bit_mask32((b.add(4) as *const u32).read_unaligned());
        let q = _mm256_or_si256(nibbles32(b.add(8)), _mm256_and_si256(high, _mm256_set1_epi8(0x10)));
        (dot_u8_i8(q, qa), load_f16(b.add(2)))
    })
}

/// The eight 6-bit scales and eight 6-bit mins of a Q4_K/Q5_K block, as bytes of two u64.
#[inline]
fn unpack_scales_k4(p: &[u8; 12]) -> (u64, u64) {
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

/// Sum over the 8 sub-blocks of `min[j] * (bsums[2j] + bsums[2j+1])`, as 4 i32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn min_terms(mins: u64, bsums: &[i16; 16]) -> __m128i {
    let bs = _mm256_loadu_si256(bsums.as_ptr() as *const __m256i);
    let pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    _mm_madd_epi16(pairs, _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mins as i64)))
}

/// Shared body of Q4_K and Q5_K. `qs` points at the 128 nibble bytes, `qh` at the 32 fifth-bit
/// bytes (Q5_K) or is null (Q4_K).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_k4_like(w: &[u8], a: &[BlockQ8K], size: usize, qs_at: usize, qh_at: Option<usize>) -> f32 {
    assert!(w.len() >= a.len() * size, "weight row shorter than its activation row");
    let low4 = _mm256_set1_epi8(0x0F);
    let one = _mm256_set1_epi8(1);
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (i, ab) in a.iter().enumerate() {
        let b = w.as_ptr().add(i * size);
        let d = load_f16(b) * ab.d;
        let dmin = load_f16(b.add(2)) * ab.d;
        let (scales, mins) = unpack_scales_k4(&*(b.add(4) as *const [u8; 12]));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(min_terms(mins, &ab.bsums)), acc_m);

        let mut high = match qh_at {
            Some(off) => load256(b.add(off)),
            None => _mm256_setzero_si256(),
        };
        let mut sumi = _mm256_setzero_si256();
        for c in 0..4 {
            let q4 = load256(b.add(qs_at + 32 * c));
            let mut lo = _mm256_and_si256(q4, low4);
            let mut hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), low4);
            if qh_at.is_some() {
                // Bit 2c of qh[l] belongs to element l of this chunk's low half, bit 2c+1 to
                // the high half; `high` is shifted right by 2 per chunk.
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(high, one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 1), one), 4));
                high = _mm256_srli_epi16(high, 2);
            }
            let a_lo = _mm256_loadu_si256(ab.qs.as_ptr().add(64 * c) as *const __m256i);
            let a_hi = _mm256_loadu_si256(ab.qs.as_ptr().add(64 * c + 32) as *const __m256i);
            let sc_lo = _mm256_set1_epi16(((scales >> (16 * c)) & 0xFF) as i16);
            let sc_hi = _mm256_set1_epi16(((scales >> (16 * c + 8)) & 0xFF) as i16);
            let p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a_lo), sc_lo);
            let p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a_hi), sc_hi);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p_lo, p_hi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc) - hsum_ps128(acc_m)
}

/// Q4_K weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q4_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    dot_k4_like(w, a, 144, 16, None)
}

/// Q5_K weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q5_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    dot_k4_like(w, a, 176, 48, Some(16))
}

/// Q6_K weights. The `- 32` offset is applied once per block through the activation sums:
/// `sum sc * (q - 32) * a = sum sc * q * a - 32 * sum_k sc[k] * bsums[k]`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_q6_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    const SIZE: usize = 210;
    assert!(w.len() >= a.len() * SIZE, "weight row shorter than its activation row");
    let low4 = _mm256_set1_epi8(0x0F);
    let mut acc = _mm256_setzero_ps();
    for (i, ab) in a.iter().enumerate() {
        let b = w.as_ptr().add(i * SIZE);
        let (ql, qh) = (b, b.add(128));
        let sc = _mm_loadu_si128(b.add(192) as *const __m128i);
        let d = load_f16(b.add(208)) * ab.d;
        let bs = _mm256_loadu_si256(ab.bsums.as_ptr() as *const __m256i);
        let offset = _mm256_madd_epi16(bs, _mm256_cvtepi8_epi16(sc));
        let mut sumi = _mm256_setzero_si256();
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
                let aq = _mm256_loadu_si256(ab.qs.as_ptr().add(128 * half + 32 * g) as *const __m256i);
                // Elements 0..16 of the group use scale j, 16..32 scale j + 1.
                let j = (8 * half + 2 * g) as i64;
                let pick = _mm_set_epi64x((j + 1) * 0x0101_0101_0101_0101, j * 0x0101_0101_0101_0101);
                let scale = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, pick));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(*qg, aq), scale));
            }
        }
        let total = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(total), acc);
    }
    hsum_ps(acc)
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

/// F32 weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    dot_float(w, x, 4, |p| _mm256_loadu_ps(p as *const f32), |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// F16 weights.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_f16(w: &[u8], x: &[f32]) -> f32 {
    dot_float(
        w,
        x,
        2,
        |p| _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)),
        |b| crate::blocks::f16_to_f32(u16::from_le_bytes([b[0], b[1]])),
    )
}

/// BF16 weights: widen to 32 bits and shift into the top half.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dot_bf16(w: &[u8], x: &[f32]) -> f32 {
    dot_float(
        w,
        x,
        2,
        |p| _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(p as *const __m128i)), 16)),
        |b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16),
    )
}

const _: () = assert!(QK_K == 256);
