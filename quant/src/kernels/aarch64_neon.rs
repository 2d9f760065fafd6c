//! NEON dot kernels (aarch64). Baseline NEON only (no `dotprod` extension): 8-bit products
//! are widened with `vmull_s8` and pairwise-accumulated into i32 lanes.
//!
//! Each block is decoded to signed 8-bit values, dotted per sub-block, and scaled in scalar
//! code; same results as [`super::scalar`] up to f32 summation order.

use std::arch::aarch64::*;

use super::activations::BlockQ8Act;
use super::scalar::scale_min_k4;
use crate::blocks::{f16_to_f32, BlockQ8K};

/// 16 x 16 signed 8-bit products summed into 4 i32 lanes (|product| <= 2^14, no overflow).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn dot16(a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    let hi = vmull_high_s8(a, b);
    vpadalq_s16(vpaddlq_s16(lo), hi)
}

#[inline]
#[target_feature(enable = "neon")]
unsafe fn load_f16(p: *const u8) -> f32 {
    f16_to_f32((p as *const u16).read_unaligned())
}

/// The 32 nibbles of 16 packed bytes: (low nibbles = elements 0..16, high = 16..32).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn nibbles(p: *const u8) -> (uint8x16_t, uint8x16_t) {
    let q = vld1q_u8(p);
    (vandq_u8(q, vdupq_n_u8(0x0F)), vshrq_n_u8(q, 4))
}

/// 0x10 in byte j where bit j of the 32-bit little-endian value at `p` is set.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn fifth_bits(p: *const u8) -> (uint8x16_t, uint8x16_t) {
    const BIT: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let bit = vld1q_u8(BIT.as_ptr());
    let b = std::slice::from_raw_parts(p, 4);
    let lo = vcombine_u8(vdup_n_u8(b[0]), vdup_n_u8(b[1]));
    let hi = vcombine_u8(vdup_n_u8(b[2]), vdup_n_u8(b[3]));
    let sixteen = vdupq_n_u8(0x10);
    (vandq_u8(vtstq_u8(lo, bit), sixteen), vandq_u8(vtstq_u8(hi, bit), sixteen))
}

/// Shared loop of the 32-value formats: `block(ptr)` gives the 32 signed weight values and
/// the offset `m` (0 when the format has none).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn dot_q8_blocks(
    w: &[u8],
    a: &[BlockQ8Act],
    size: usize,
    block: impl Fn(*const u8) -> (int8x16_t, int8x16_t, f32),
) -> f32 {
    assert!(w.len() >= a.len() * size, "weight row shorter than its activation row");
    let mut sum = 0.0f32;
    for (i, ab) in a.iter().enumerate() {
        let b = w.as_ptr().add(i * size);
        let (w0, w1, m) = block(b);
        let a0 = vld1q_s8(ab.qs.as_ptr());
        let a1 = vld1q_s8(ab.qs.as_ptr().add(16));
        let isum = vaddvq_s32(vaddq_s32(dot16(w0, a0), dot16(w1, a1)));
        sum += load_f16(b) * ab.d * isum as f32 + m * ab.s;
    }
    sum
}

/// Q8_0 weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q8_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 34, |b| (vld1q_s8(b.add(2) as *const i8), vld1q_s8(b.add(18) as *const i8), 0.0))
}

/// Q4_0 weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q4_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 18, |b| {
        let (lo, hi) = nibbles(b.add(2));
        let eight = vdupq_n_s8(8);
        (vsubq_s8(vreinterpretq_s8_u8(lo), eight), vsubq_s8(vreinterpretq_s8_u8(hi), eight), 0.0)
    })
}

/// Q4_1 weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q4_1(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 20, |b| {
        let (lo, hi) = nibbles(b.add(4));
        (vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi), load_f16(b.add(2)))
    })
}

/// Q5_0 weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q5_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 22, |b| {
        let (lo, hi) = nibbles(b.add(6));
        let (h0, h1) = fifth_bits(b.add(2));
        let sixteen = vdupq_n_s8(16);
        (
            vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, h0)), sixteen),
            vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, h1)), sixteen),
            0.0,
        )
    })
}

/// Q5_1 weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q5_1(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    dot_q8_blocks(w, a, 24, |b| {
        let (lo, hi) = nibbles(b.add(8));
        let (h0, h1) = fifth_bits(b.add(4));
        (vreinterpretq_s8_u8(vorrq_u8(lo, h0)), vreinterpretq_s8_u8(vorrq_u8(hi, h1)), load_f16(b.add(2)))
    })
}

/// Dot of 32 weights (two vectors) with 32 activations at `a`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn dot32(w0: uint8x16_t, w1: uint8x16_t, a: *const i8) -> i32 {
    let s = vaddq_s32(
        dot16(vreinterpretq_s8_u8(w0), vld1q_s8(a)),
        dot16(vreinterpretq_s8_u8(w1), vld1q_s8(a.add(16))),
    );
    vaddvq_s32(s)
}

/// Shared body of Q4_K and Q5_K (`qh_at` = offset of the fifth bits for Q5_K).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn dot_k4_like(w: &[u8], a: &[BlockQ8K], size: usize, qs_at: usize, qh_at: Option<usize>) -> f32 {
    assert!(w.len() >= a.len() * size, "weight row shorter than its activation row");
    let low4 = vdupq_n_u8(0x0F);
    let one = vdupq_n_u8(1);
    let mut sum = 0.0f32;
    for (i, ab) in a.iter().enumerate() {
        let b = w.as_ptr().add(i * size);
        let scales = &*(b.add(4) as *const [u8; 12]);
        let (mut h0, mut h1) = match qh_at {
            Some(off) => (vld1q_u8(b.add(off)), vld1q_u8(b.add(off + 16))),
            None => (vdupq_n_u8(0), vdupq_n_u8(0)),
        };
        let (mut sumi, mut summ) = (0i32, 0i32);
        for c in 0..4 {
            let q0 = vld1q_u8(b.add(qs_at + 32 * c));
            let q1 = vld1q_u8(b.add(qs_at + 32 * c + 16));
            let (mut l0, mut l1) = (vandq_u8(q0, low4), vandq_u8(q1, low4));
            let (mut u0, mut u1) = (vshrq_n_u8(q0, 4), vshrq_n_u8(q1, 4));
            if qh_at.is_some() {
                l0 = vorrq_u8(l0, vshlq_n_u8(vandq_u8(h0, one), 4));
                l1 = vorrq_u8(l1, vshlq_n_u8(vandq_u8(h1, one), 4));
                u0 = vorrq_u8(u0, vshlq_n_u8(vandq_u8(vshrq_n_u8(h0, 1), one), 4));
                u1 = vorrq_u8(u1, vshlq_n_u8(vandq_u8(vshrq_n_u8(h1, 1), one), 4));
                h0 = vshrq_n_u8(h0, 2);
                h1 = vshrq_n_u8(h1, 2);
            }
            let (sc0, m0) = scale_min_k4(2 * c, scales);
            let (sc1, m1) = scale_min_k4(2 * c + 1, scales);
            sumi += sc0 as i32 * dot32(l0, l1, ab.qs.as_ptr().add(64 * c))
                + sc1 as i32 * dot32(u0, u1, ab.qs.as_ptr().add(64 * c + 32));
            let bs = &ab.bsums[4 * c..4 * c + 4];
            summ += m0 as i32 * (bs[0] as i32 + bs[1] as i32) + m1 as i32 * (bs[2] as i32 + bs[3] as i32);
        }
        sum += load_f16(b) * ab.d * sumi as f32 - load_f16(b.add(2)) * ab.d * summ as f32;
    }
    sum
}

/// Q4_K weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q4_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    dot_k4_like(w, a, 144, 16, None)
}

/// Q5_K weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q5_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    dot_k4_like(w, a, 176, 48, Some(16))
}

/// Q6_K weights: values decoded to `q - 32` in i8, one scale per 16.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_q6_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    const SIZE: usize = 210;
    assert!(w.len() >= a.len() * SIZE, "weight row shorter than its activation row");
    let low4 = vdupq_n_u8(0x0F);
    let three = vdupq_n_u8(0x03);
    let m32 = vdupq_n_s8(32);
    let mut sum = 0.0f32;
    for (i, ab) in a.iter().enumerate() {
        let b = w.as_ptr().add(i * SIZE);
        let sc = std::slice::from_raw_parts(b.add(192) as *const i8, 16);
        let mut sumi = 0i32;
        for half in 0..2 {
            let ql = b.add(64 * half);
            let qh = b.add(128 + 32 * half);
            for k in 0..2 {
                // 16 positions l = 16k .. 16k+16 of the four 32-value groups.
                let l0 = vld1q_u8(ql.add(16 * k));
                let l1 = vld1q_u8(ql.add(32 + 16 * k));
                let h = vld1q_u8(qh.add(16 * k));
                let groups = [
                    vorrq_u8(vandq_u8(l0, low4), vshlq_n_u8(vandq_u8(h, three), 4)),
                    vorrq_u8(vandq_u8(l1, low4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 2), three), 4)),
                    vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 4), three), 4)),
                    vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(h, 6), 4)),
                ];
                for (g, q) in groups.iter().enumerate() {
                    let q = vsubq_s8(vreinterpretq_s8_u8(*q), m32);
                    let act = vld1q_s8(ab.qs.as_ptr().add(128 * half + 32 * g + 16 * k));
                    sumi += sc[8 * half + 2 * g + k] as i32 * vaddvq_s32(dot16(q, act));
                }
            }
        }
        sum += load_f16(b.add(208)) * ab.d * sumi as f32;
    }
    sum
}

/// F32 weights.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    assert!(w.len() >= 4 * x.len(), "weight row shorter than its activation row");
    let n = x.len();
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 16 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            let wv = vreinterpretq_f32_u8(vld1q_u8(w.as_ptr().add(4 * (i + 4 * k))));
            *a = vfmaq_f32(*a, wv, vld1q_f32(x.as_ptr().add(i + 4 * k)));
        }
        i += 16;
    }
    let mut sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for j in i..n {
        sum += f32::from_le_bytes([w[4 * j], w[4 * j + 1], w[4 * j + 2], w[4 * j + 3]]) * x[j];
    }
    sum
}

/// BF16 weights: widen each 16-bit value into the top half of an f32.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_bf16(w: &[u8], x: &[f32]) -> f32 {
    assert!(w.len() >= 2 * x.len(), "weight row shorter than its activation row");
    let n = x.len();
    let mut acc = [vdupq_n_f32(0.0); 2];
    let mut i = 0;
    while i + 8 <= n {
        let v = vld1q_u16(w.as_ptr().add(2 * i) as *const u16);
        let lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16));
        let hi = vreinterpretq_f32_u32(vshll_high_n_u16(v, 16));
        acc[0] = vfmaq_f32(acc[0], lo, vld1q_f32(x.as_ptr().add(i)));
        acc[1] = vfmaq_f32(acc[1], hi, vld1q_f32(x.as_ptr().add(i + 4)));
        i += 8;
    }
    let mut sum = vaddvq_f32(vaddq_f32(acc[0], acc[1]));
    for j in i..n {
        sum += f32::from_bits((u16::from_le_bytes([w[2 * j], w[2 * j + 1]]) as u32) << 16) * x[j];
    }
    sum
}
