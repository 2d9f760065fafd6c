//! Q4_K: 256-element super-block of eight 32-element sub-blocks. Bytes: f16 `d`, f16 `dmin`,
//! 12 bytes of packed 6-bit scales and mins, 128 bytes of nibbles;
//! `x = d * sc_k * q - dmin * m_k`.

use super::bytes::{get_f16, nearest_int, put_f16};
use super::search::MinSearch;
use super::search_lanes::make_qkx2_quants_lanes;

pub(crate) const QK: usize = 256;
pub(crate) const BYTES: usize = 144;

/// ggml `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` from the 12 packed bytes.
#[inline(always)]
pub(crate) fn get_scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// Steps 1-5 of the Q4_K/Q5_K reference: per sub-block min/scale search, 6-bit quantization of
/// the scales and mins into `packed`, and the two f16 super-scales (returned as stored bits
/// widened back to f32). `levels` receives the first-pass levels. Inlined so that the search
/// parameters are constants in the vectorized loops.
#[inline(always)]
pub(crate) fn search_and_pack_scales(
    x: &[f32],
    p: &MinSearch,
    levels: &mut [u8; QK],
    packed: &mut [u8],
) -> (f32, f32) {
    // Sub-block k in lane k (see search_lanes.rs): xt[i][k] = x[32k + i].
    let mut xt = [[0.0f32; 8]; 32];
    for (i, row) in xt.iter_mut().enumerate() {
        for (k, v) in row.iter_mut().enumerate() {
            *v = x[32 * k + i];
        }
    }
    let mut sum_x2 = [0.0f32; 8];
    for row in &xt {
        for k in 0..8 {
            sum_x2[k] += row[k] * row[k];
        }
    }
    let mut av_x = [0.0f32; 8];
    for k in 0..8 {
        av_x[k] = (sum_x2[k] / 32.0).sqrt();
    }
    let mut wt = [[0.0f32; 8]; 32];
    for (w, row) in wt.iter_mut().zip(&xt) {
        for k in 0..8 {
            w[k] = av_x[k] + row[k].abs();
        }
    }
    let mut lt = [[0u8; 8]; 32];
    let (scales, mins) = make_qkx2_quants_lanes(&xt, &wt, &mut lt, p);
    for (i, row) in lt.iter().enumerate() {
        for k in 0..8 {
            levels[32 * k + i] = row[k];
        }
    }
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    for k in 0..8 {
        if scales[k] > max_scale {
            max_scale = scales[k];
        }
        if mins[k] > max_min {
            max_min = mins[k];
        }
    }
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    packed[..12].fill(0);
    for j in 0..8 {
        // C stores nearest_int into a uint8_t before the MIN: wrap, then clamp.
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            packed[j - 4] |= (ls >> 4) << 6;
            packed[j] |= (lm >> 4) << 6;
        }
    }
    (max_scale / 63.0, max_min / 63.0)
}

/// Step 6 of the Q4_K/Q5_K reference: re-quantize each sub-block with the stored scales.
pub(crate) fn requantize(x: &[f32], d: f32, dmin: f32, packed: &[u8], nmax: i32, l: &mut [u8; QK]) {
    for j in 0..8 {
        let (sc, m) = get_scale_min_k4(j, packed);
        let dk = d * sc as f32;
        if dk == 0.0 {
            continue;
        }
        let dm = dmin * m as f32;
        for ii in 0..32 {
            l[32 * j + ii] = nearest_int((x[32 * j + ii] + dm) / dk).clamp(0, nmax) as u8;
        }
    }
}

const SEARCH: MinSearch = MinSearch { nmax: 15, rmin: -1.0, rdelta: 0.1, nstep: 20, use_mad: false };

/// ggml `quantize_row_q4_K_ref`.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    let mut l = [0u8; QK];
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let (d, dmin) = search_and_pack_scales(x, &SEARCH, &mut l, &mut y[4..16]);
        put_f16(y, 0, d);
        put_f16(y, 2, dmin);
        let (d, dmin) = (get_f16(y, 0), get_f16(y, 2));
        requantize(x, d, dmin, &y[4..16], 15, &mut l);
        for c in 0..4 {
            for i in 0..32 {
                y[16 + 32 * c + i] = l[64 * c + i] | (l[64 * c + 32 + i] << 4);
            }
        }
    }
}

/// ggml `dequantize_row_q4_K`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, 0);
        let min = get_f16(b, 2);
        let sc = &b[4..16];
        let qs = &b[16..];
        for c in 0..4 {
            let (s1, m1) = get_scale_min_k4(2 * c, sc);
            let (s2, m2) = get_scale_min_k4(2 * c + 1, sc);
            let (d1, m1) = (d * s1 as f32, min * m1 as f32);
            let (d2, m2) = (d * s2 as f32, min * m2 as f32);
            let q = &qs[32 * c..32 * c + 32];
            let out = &mut y[64 * c..64 * c + 64];
            for l in 0..32 {
                out[l] = d1 * (q[l] & 0xF) as f32 - m1;
                out[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }
}
