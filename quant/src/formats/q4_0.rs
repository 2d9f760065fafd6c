//! Q4_0: 32 elements, f16 scale `d` (bytes 0-1), 16 bytes of nibbles (element j in the low
//! nibble of byte j, element j + 16 in the high nibble); `x = d * (q - 8)`.

use super::bytes::{c_float_to_byte, get_f16, put_f16};

pub(crate) const QK: usize = 32;
pub(crate) const BYTES: usize = 18;

/// The signed value of largest magnitude (first one wins ties), ggml's `max` of the legacy
/// symmetric quantizers.
#[inline(always)]
pub(crate) fn signed_absmax(x: &[f32]) -> f32 {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    max
}

/// ggml `quantize_row_q4_0_ref`: d = max / -8, q = min(15, trunc(x / d + 8.5)).
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let d = signed_absmax(x) / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(y, 0, d);
        for j in 0..QK / 2 {
            // C: MIN(15, (int8_t)(x*id + 8.5f)); the argument is >= 0.5 unless 1/d overflowed.
            let q0 = (c_float_to_byte(x[j] * id + 8.5) as i8).min(15) as u8;
            let q1 = (c_float_to_byte(x[j + QK / 2] * id + 8.5) as i8).min(15) as u8;
            y[2 + j] = q0 | (q1 << 4);
        }
    }
}

/// ggml `dequantize_row_q4_0`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, 0);
        for j in 0..QK / 2 {
            let q = b[2 + j];
            y[j] = ((q & 15) as i32 - 8) as f32 * d;
            y[j + QK / 2] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}
