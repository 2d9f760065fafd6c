//! Q6_K: 256-element super-block of sixteen 16-element sub-blocks. Bytes: 128 `ql` (low
//! nibbles), 64 `qh` (2 high bits each), 16 signed 8-bit scales, f16 `d`;
//! `x = d * scale_k * (q - 32)`.

use super::bytes::{get_f16, nearest_int, put_f16, GROUP_MAX_EPS};
use super::search_lanes::make_qx_quants_lanes;

pub(crate) const QK: usize = 256;
pub(crate) const BYTES: usize = 210;
const QH: usize = 128;
const SCALES: usize = 192;
const D: usize = 208;

/// ggml `quantize_row_q6_K_ref`.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    let mut l = [0i8; QK];
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        // Sub-block k in lane k (see search_lanes.rs).
        let mut xt = [[0.0f32; 16]; 16];
        for i in 0..16 {
            for k in 0..16 {
                xt[i][k] = x[16 * k + i];
            }
        }
        let mut lt = [[0i8; 16]; 16];
        let scales = make_qx_quants_lanes(&xt, 32, &mut lt);
        for i in 0..16 {
            for k in 0..16 {
                l[16 * k + i] = lt[i][k];
            }
        }
        let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
        for &scale in &scales {
            if scale.abs() > max_abs_scale {
                max_abs_scale = scale.abs();
                max_scale = scale;
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            y.fill(0);
            continue;
        }
        let iscale = -128.0 / max_scale;
        put_f16(y, D, 1.0 / iscale);
        for ib in 0..16 {
            // C: MIN(127, nearest_int(..)) stored into an int8_t (wraps below -128).
            y[SCALES + ib] = nearest_int(iscale * scales[ib]).min(127) as i8 as u8;
        }
        let d = get_f16(y, D);
        for j in 0..16 {
            let dk = d * (y[SCALES + j] as i8) as f32;
            if dk == 0.0 {
                continue;
            }
            for ii in 0..16 {
                l[16 * j + ii] = (nearest_int(x[16 * j + ii] / dk).clamp(-32, 31) + 32) as i8;
            }
        }
        let (ql, qh) = y[..SCALES].split_at_mut(QH);
        for h in 0..2 {
            for i in 0..32 {
                let q = |k: usize| l[128 * h + i + 32 * k] as u8;
                ql[64 * h + i] = (q(0) & 0xF) | ((q(2) & 0xF) << 4);
                ql[64 * h + i + 32] = (q(1) & 0xF) | ((q(3) & 0xF) << 4);
                qh[32 * h + i] = (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
            }
        }
    }
}

/// ggml `dequantize_row_q6_K`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, D);
        for h in 0..2 {
            let ql = &b[64 * h..64 * h + 64];
            let qh = &b[QH + 32 * h..QH + 32 * h + 32];
            let sc = &b[SCALES + 8 * h..SCALES + 8 * h + 8];
            let out = &mut y[128 * h..128 * h + 128];
            for l in 0..32 {
                let is = l / 16;
                let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                let s = |k: usize| d * (sc[is + k] as i8) as f32;
                out[l] = s(0) * q1 as f32;
                out[l + 32] = s(2) * q2 as f32;
                out[l + 64] = s(4) * q3 as f32;
                out[l + 96] = s(6) * q4 as f32;
            }
        }
    }
}
