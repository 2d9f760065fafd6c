//! Q8_K (activation format of the K-quant dot products): f32 `d`, 256 signed bytes, sixteen
//! i16 sums of each 16 consecutive q; `x = d * q`.

use super::bytes::nearest_int;
use super::search::signed_max;

pub(crate) const QK: usize = 256;
pub(crate) const BYTES: usize = 292;
const QS: usize = 4;
const BSUMS: usize = 260;

/// ggml `quantize_row_q8_K_ref`: iscale = -127 / (signed value of largest magnitude),
/// q = min(127, nearest_int(iscale * x)), d = 1 / iscale. An all-zero block gets d = 0 and
/// zero sums (ggml leaves its sums unwritten there).
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let (max, amax) = signed_max(x);
        if amax == 0.0 {
            y.fill(0);
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in y[QS..BSUMS].iter_mut().zip(x) {
            *q = nearest_int(iscale * v).min(127) as i8 as u8;
        }
        for j in 0..16 {
            let sum: i32 = y[QS + 16 * j..QS + 16 * j + 16].iter().map(|&q| q as i8 as i32).sum();
            y[BSUMS + 2 * j..BSUMS + 2 * j + 2].copy_from_slice(&(sum as i16).to_le_bytes());
        }
        y[..QS].copy_from_slice(&(1.0 / iscale).to_le_bytes());
    }
}

/// ggml `dequantize_row_q8_K`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        for (o, &q) in y.iter_mut().zip(&b[QS..BSUMS]) {
            *o = d * (q as i8) as f32;
        }
    }
}
