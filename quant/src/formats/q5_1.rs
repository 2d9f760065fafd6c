//! Q5_1: 32 elements, f16 scale `d`, f16 minimum `m`, `qh` (fifth bits as Q5_0), 16 bytes of
//! low nibbles; `x = d * q + m`.

use super::bytes::{c_float_to_byte, get_f16, put_f16};
use super::q4_1::min_max;

pub(crate) const QK: usize = 32;
pub(crate) const BYTES: usize = 24;

/// ggml `quantize_row_q5_1_ref`: d = (max - min) / 31, q = trunc((x - min) / d + 0.5), no clamp
/// (the argument is at most 31.5).
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let (min, max) = min_max(x);
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(y, 0, d);
        put_f16(y, 2, min);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let q0 = c_float_to_byte((x[j] - min) * id + 0.5);
            let q1 = c_float_to_byte((x[j + QK / 2] - min) * id + 0.5);
            y[8 + j] = (q0 & 15) | ((q1 & 15) << 4);
            qh |= ((q0 as u32 & 0x10) >> 4) << j;
            qh |= ((q1 as u32 & 0x10) >> 4) << (j + QK / 2);
        }
        y[4..8].copy_from_slice(&qh.to_le_bytes());
    }
}

/// ggml `dequantize_row_q5_1`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, 0);
        let m = get_f16(b, 2);
        let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        for j in 0..QK / 2 {
            let h0 = ((qh >> j) << 4) as u8 & 0x10;
            let h1 = (qh >> (j + 12)) as u8 & 0x10;
            let q = b[8 + j];
            y[j] = ((q & 15) | h0) as f32 * d + m;
            y[j + QK / 2] = ((q >> 4) | h1) as f32 * d + m;
        }
    }
}
