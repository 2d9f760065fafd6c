//! BF16: the top 16 bits of a binary32, rounded to nearest even.
//!
//! Same rule as ggml's `ggml_compute_fp32_to_bf16` and gguf-py's `BF16.quantize_blocks`: a NaN
//! keeps its sign and top payload bits and gets the quiet bit (bit 6 of the 16) forced on;
//! overflow during rounding gives ±inf.

/// Round one binary32 to bfloat16 bits.
#[inline(always)]
pub fn f32_to_bf16(x: f32) -> u16 {
    let n = x.to_bits();
    if n & 0x7fff_ffff > 0x7f80_0000 {
        return ((n >> 16) | 64) as u16;
    }
    ((n as u64 + (0x7fff + ((n >> 16) & 1)) as u64) >> 16) as u16
}

/// Widen bfloat16 bits (exact).
#[inline(always)]
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits((bits as u32) << 16)
}

/// Round each value to bfloat16.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    for (x, y) in src.iter().zip(dst.chunks_exact_mut(2)) {
        y.copy_from_slice(&f32_to_bf16(*x).to_le_bytes());
    }
}

/// Widen bfloat16 values.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(2).zip(dst.iter_mut()) {
        *y = bf16_to_f32(u16::from_le_bytes([b[0], b[1]]));
    }
}
