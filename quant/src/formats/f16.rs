//! F16: IEEE binary16, round to nearest even; values beyond ±65504 become ±inf, as NumPy's
//! `astype(float16)` (gguf-py) and ggml do. NaN stays NaN (always quiet).

use crate::blocks::{f16_to_f32, f32_to_f16};

/// Round each value to binary16.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.iter().zip(dst.chunks_exact_mut(2)) {
        y.copy_from_slice(&f32_to_f16(*x).to_le_bytes());
    }
}

/// Widen binary16 values (exact).
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(2).zip(dst.iter_mut()) {
        *y = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
    }
}
