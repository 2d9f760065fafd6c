//! Portable reference dot kernels: one weight row against one prepared activation row.
//!
//! These define the results the SIMD kernels must reproduce (up to f32 summation order).
//! Integer partial sums are exact (bounds noted per kernel); each block adds
//! `weight scale * activation scale * integer sum` in f32, as ggml does.

use bytemuck::Pod;

use super::activations::BlockQ8Act;
use crate::blocks::{
    f16_to_f32, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8K, BlockQ8_0, K_SCALE_SIZE,
};

/// The blocks of a weight row, read without any alignment requirement.
fn blocks<B: Pod>(w: &[u8]) -> impl Iterator<Item = B> + '_ {
    w.chunks_exact(std::mem::size_of::<B>()).map(bytemuck::pod_read_unaligned)
}

/// Scale and min `j` (0..8) of a Q4_K / Q5_K super-block: eight 6-bit pairs packed in 12 bytes.
#[inline]
pub(crate) fn scale_min_k4(j: usize, q: &[u8; K_SCALE_SIZE]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

fn dot_i8(a: impl Iterator<Item = i32>, b: &[i8]) -> i32 {
    a.zip(b).map(|(x, &y)| x * y as i32).sum()
}

/// Q8_0 weights.
pub(crate) fn dot_q8_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    blocks::<BlockQ8_0>(w)
        .zip(a)
        .map(|(b, a)| f16_to_f32(b.d) * a.d * dot_i8(b.qs.iter().map(|&q| q as i32), &a.qs) as f32)
        .sum()
}

/// The 32 unsigned 4-bit values of a legacy block: low nibbles are elements 0..16.
fn nibbles(qs: &[u8; 16]) -> impl Iterator<Item = i32> + '_ {
    qs.iter().map(|&q| (q & 0xF) as i32).chain(qs.iter().map(|&q| (q >> 4) as i32))
}

/// The 32 unsigned 5-bit values of a Q5_0 / Q5_1 block.
fn fivebits<'a>(qs: &'a [u8; 16], qh: [u8; 4]) -> impl Iterator<Item = i32> + 'a {
    let qh = u32::from_le_bytes(qh);
    nibbles(qs).enumerate().map(move |(j, q)| q | (((qh >> j) & 1) << 4) as i32)
}

/// Q4_0 weights: `d * (q - 8)`.
pub(crate) fn dot_q4_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    blocks::<BlockQ4_0>(w)
        .zip(a)
        .map(|(b, a)| f16_to_f32(b.d) * a.d * dot_i8(nibbles(&b.qs).map(|q| q - 8), &a.qs) as f32)
        .sum()
}

/// Q4_1 weights: `d * q + m`; the `m` term uses the activation block sum `a.s`.
pub(crate) fn dot_q4_1(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    blocks::<BlockQ4_1>(w)
        .zip(a)
        .map(|(b, a)| {
            f16_to_f32(b.d) * a.d * dot_i8(nibbles(&b.qs), &a.qs) as f32 + f16_to_f32(b.m) * a.s
        })
        .sum()
}

/// Q5_0 weights: `d * (q - 16)`.
pub(crate) fn dot_q5_0(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    blocks::<BlockQ5_0>(w)
        .zip(a)
        .map(|(b, a)| {
            f16_to_f32(b.d) * a.d * dot_i8(fivebits(&b.qs, b.qh).map(|q| q - 16), &a.qs) as f32
        })
        .sum()
}

/// Q5_1 weights: `d * q + m`.
pub(crate) fn dot_q5_1(w: &[u8], a: &[BlockQ8Act]) -> f32 {
    blocks::<BlockQ5_1>(w)
        .zip(a)
        .map(|(b, a)| {
            f16_to_f32(b.d) * a.d * dot_i8(fivebits(&b.qs, b.qh), &a.qs) as f32
                + f16_to_f32(b.m) * a.s
        })
        .sum()
}

/// Shared body of Q4_K and Q5_K: `high(c, l, nibble_index)` supplies the fifth bit (0 for Q4_K).
/// Integer bounds: |sumi| <= 63 * 31 * 127 * 256 < 2^31.
fn dot_k4_like(
    d: u16,
    dmin: u16,
    scales: &[u8; K_SCALE_SIZE],
    qs: &[u8; 128],
    high: impl Fn(usize, usize) -> u8,
    a: &BlockQ8K,
) -> f32 {
    let (mut sumi, mut summ) = (0i32, 0i32);
    for c in 0..4 {
        let q = &qs[32 * c..32 * c + 32];
        let (a_lo, a_hi) = a.qs[64 * c..64 * c + 64].split_at(32);
        let (sc0, m0) = scale_min_k4(2 * c, scales);
        let (sc1, m1) = scale_min_k4(2 * c + 1, scales);
        let lo = dot_i8(q.iter().enumerate().map(|(l, &v)| ((v & 0xF) | high(2 * c, l)) as i32), a_lo);
        let hi = dot_i8(q.iter().enumerate().map(|(l, &v)| ((v >> 4) | high(2 * c + 1, l)) as i32), a_hi);
        sumi += sc0 as i32 * lo + sc1 as i32 * hi;
        let bs = &a.bsums[4 * c..4 * c + 4];
        summ += m0 as i32 * (bs[0] as i32 + bs[1] as i32) + m1 as i32 * (bs[2] as i32 + bs[3] as i32);
    }
    f16_to_f32(d) * a.d * sumi as f32 - f16_to_f32(dmin) * a.d * summ as f32
}

/// Q4_K weights: `d * sc * q - dmin * m` per 32-value sub-block.
pub(crate) fn dot_q4_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    blocks::<BlockQ4K>(w)
        .zip(a)
        .map(|(b, a)| dot_k4_like(b.d, b.dmin, &b.scales, &b.qs, |_, _| 0, a))
        .sum()
}

/// Q5_K weights: Q4_K plus bit `sub` of `qh[l]` as the fifth bit.
pub(crate) fn dot_q5_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    blocks::<BlockQ5K>(w)
        .zip(a)
        .map(|(b, a)| {
            let qh = b.qh;
            dot_k4_like(b.d, b.dmin, &b.scales, &b.qs, |sub, l| ((qh[l] >> sub) & 1) << 4, a)
        })
        .sum()
}

/// Q6_K weights: `d * sc * (q - 32)`, 16 sub-blocks of 16.
/// Integer bounds: |sumi| <= 128 * 32 * 127 * 256 < 2^31.
pub(crate) fn dot_q6_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    blocks::<BlockQ6K>(w)
        .zip(a)
        .map(|(b, a)| {
            let mut sumi = 0i32;
            for half in 0..2 {
                let ql = &b.ql[64 * half..64 * half + 64];
                let qh = &b.qh[32 * half..32 * half + 32];
                let sc = &b.scales[8 * half..8 * half + 8];
                let aq = &a.qs[128 * half..128 * half + 128];
                for l in 0..32 {
                    let is = l / 16;
                    let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                    let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                    let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                    let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                    sumi += sc[is] as i32 * q1 * aq[l] as i32
                        + sc[is + 2] as i32 * q2 * aq[l + 32] as i32
                        + sc[is + 4] as i32 * q3 * aq[l + 64] as i32
                        + sc[is + 6] as i32 * q4 * aq[l + 96] as i32;
                }
            }
            f16_to_f32(b.d) * a.d * sumi as f32
        })
        .sum()
}

/// F32 weights (little-endian bytes).
pub(crate) fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(4).zip(x).map(|(b, &x)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * x).sum()
}

/// F16 weights.
pub(crate) fn dot_f16(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2).zip(x).map(|(b, &x)| f16_to_f32(u16::from_le_bytes([b[0], b[1]])) * x).sum()
}

/// BF16 weights: the top half of an f32.
pub(crate) fn dot_bf16(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2)
        .zip(x)
        .map(|(b, &x)| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16) * x)
        .sum()
}
