//! Q5_0: 32 elements, f16 scale `d`, `qh` (4 bytes, little-endian u32: bit j is the fifth bit
//! of element j), 16 bytes of low nibbles (placement as Q4_0); `x = d * (q - 16)`.

use super::bytes::{c_float_to_byte, get_f16, put_f16};
use super::q4_0::signed_absmax;

pub(crate) const QK: usize = 32;
pub(crate) const BYTES: usize = 22;

/// ggml `quantize_row_q5_0_ref`: d = max / -16, q = min(31, trunc(x / d + 16.5)).
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let d = signed_absmax(x) / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(y, 0, d);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let q0 = (c_float_to_byte(x[j] * id + 16.5) as i8).min(31) as u8;
            let q1 = (c_float_to_byte(x[j + QK / 2] * id + 16.5) as i8).min(31) as u8;
            y[6 + j] = (q0 & 15) | ((q1 & 15) << 4);
            qh |= ((q0 as u32 & 0x10) >> 4) << j;
            qh |= ((q1 as u32 & 0x10) >> 4) << (j + QK / 2);
        }
        y[2..6].copy_from_slice(&qh.to_le_bytes());
    }
}

/// ggml `dequantize_row_q5_0`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, 0);
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        for j in 0..QK / 2 {
            let h0 = ((qh >> j) << 4) as u8 & 0x10;
            let h1 = (qh >> (j + 12)) as u8 & 0x10;
            let q = b[6 + j];
            y[j] = (((q & 15) | h0) as i32 - 16) as f32 * d;
            y[j + QK / 2] = (((q >> 4) | h1) as i32 - 16) as f32 * d;
        }
    }
}
