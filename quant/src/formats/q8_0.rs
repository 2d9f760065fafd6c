//! Q8_0: 32 elements, f16 scale `d` (bytes 0-1) and 32 signed bytes; `x = d * q`.

use super::bytes::{c_float_to_byte, get_f16, put_f16};

pub(crate) const QK: usize = 32;
pub(crate) const BYTES: usize = 34;

/// ggml `quantize_row_q8_0_ref`: d = amax / 127, q = roundf(x / d) (ties away from zero). The
/// unrounded d is used for q; only the stored scale is rounded to f16.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let amax = x.iter().fold(0.0f32, |m, v| if m > v.abs() { m } else { v.abs() });
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(y, 0, d);
        for (q, v) in y[2..].iter_mut().zip(x) {
            *q = roundf_to_byte(v * id);
        }
    }
}

/// C `roundf` for |v| < 2^31: `f32::round` is a libm call on baseline x86-64; this is a
/// truncating convert plus an exact fraction test, and gives the same integer.
#[inline(always)]
fn round_half_away(v: f32) -> i32 {
    let t = v as i32;
    let frac = v - t as f32; // exact: subtracting the integer part of a float loses nothing
    t + (frac >= 0.5) as i32 - (frac <= -0.5) as i32
}

/// `(int8_t)roundf(v)` as ggml's Q8_0 stores it (see [`c_float_to_byte`] for NaN/overflow,
/// which only a block whose `1/d` overflows produces).
#[inline(always)]
fn roundf_to_byte(v: f32) -> u8 {
    if v.abs() < 2_147_483_648.0 {
        round_half_away(v) as u8
    } else {
        c_float_to_byte(v)
    }
}

/// ggml `dequantize_row_q8_0`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, 0);
        for (o, q) in y.iter_mut().zip(&b[2..]) {
            *o = (*q as i8) as f32 * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::round_half_away;

    #[test]
    fn round_half_away_equals_roundf_on_the_q8_0_range() {
        // Every f32 in [-128, 128] with a step of 2^-10 (all ties included) plus neighbours of ties.
        for i in -(128 << 10)..=(128 << 10) {
            let v = i as f32 / 1024.0;
            for w in [v, f32::from_bits(v.to_bits() + 1), f32::from_bits(v.to_bits().saturating_sub(1))] {
                assert_eq!(round_half_away(w), w.round() as i32, "{w}");
            }
        }
    }
}
