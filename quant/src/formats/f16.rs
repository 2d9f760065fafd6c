//! F16: IEEE binary16, round to nearest even; values beyond ±65504 become ±inf, as NumPy's
//! `astype(float16)` (gguf-py) and ggml do. NaN stays NaN (always quiet).

use half::slice::HalfFloatSliceExt;
use half::f16;

/// Elements converted per stack batch (half's slice conversions use F16C/NEON when present).
const BATCH: usize = 64;

/// Round each value to binary16.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    let mut h = [f16::ZERO; BATCH];
    for (x, y) in src.chunks(BATCH).zip(dst.chunks_mut(2 * BATCH)) {
        let h = &mut h[..x.len()];
        h.convert_from_f32_slice(x);
        for (v, out) in h.iter().zip(y.chunks_exact_mut(2)) {
            out.copy_from_slice(&v.to_bits().to_le_bytes());
        }
    }
}

/// Widen binary16 values (exact).
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    let mut h = [f16::ZERO; BATCH];
    for (b, y) in src.chunks(2 * BATCH).zip(dst.chunks_mut(BATCH)) {
        let h = &mut h[..y.len()];
        for (v, pair) in h.iter_mut().zip(b.chunks_exact(2)) {
            *v = f16::from_bits(u16::from_le_bytes([pair[0], pair[1]]));
        }
        h.convert_to_f32_slice(y);
    }
}
