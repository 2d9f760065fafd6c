//! Q4_1: 32 elements, f16 scale `d`, f16 minimum `m`, 16 bytes of nibbles (placement as
//! Q4_0); `x = d * q + m`.

use super::bytes::{c_float_to_byte, get_f16, put_f16};

pub(crate) const QK: usize = 32;
pub(crate) const BYTES: usize = 20;

/// The block's minimum and maximum, scanned as ggml does (starting from ±FLT_MAX).
#[inline(always)]
pub(crate) fn min_max(x: &[f32]) -> (f32, f32) {
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    (min, max)
}

/// ggml `quantize_row_q4_1_ref`: d = (max - min) / 15, q = min(15, trunc((x - min) / d + 0.5)).
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let (min, max) = min_max(x);
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(y, 0, d);
        put_f16(y, 2, min);
        for j in 0..QK / 2 {
            let q0 = (c_float_to_byte((x[j] - min) * id + 0.5) as i8).min(15) as u8;
            let q1 = (c_float_to_byte((x[j + QK / 2] - min) * id + 0.5) as i8).min(15) as u8;
            y[4 + j] = q0 | (q1 << 4);
        }
    }
}

/// ggml `dequantize_row_q4_1`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, 0);
        let m = get_f16(b, 2);
        for j in 0..QK / 2 {
            let q = b[4 + j];
            y[j] = (q & 15) as f32 * d + m;
            y[j + QK / 2] = (q >> 4) as f32 * d + m;
        }
    }
}
