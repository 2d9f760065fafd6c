//! f32 rows -> bytes of an output tensor type, and any input tensor type -> f32 rows.
//!
//! F32/F16/BF16 are plain conversions (BF16 rounding as ggml/gguf-py: round to nearest even,
//! NaN kept quiet, ../shared/spec/gguf.md §3.1). Block types go through dgemma-quant's reference
//! quantizers, which are bit-exact with ggml's `quantize_row_*_ref` / gguf-py.

use dgemma_quant::GgmlType;

/// f32 -> bf16 bits as ggml's `ggml_compute_fp32_to_bf16`.
pub fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 64) as u16;
    }
    ((bits + (0x7FFF + ((bits >> 16) & 1))) >> 16) as u16
}

/// Encodes `src` (a whole number of rows) as `ty` into `dst` (exactly the right length).
pub fn encode(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> Result<(), String> {
    match ty {
        GgmlType::F32 => {
            for (d, x) in dst.chunks_exact_mut(4).zip(src) {
                d.copy_from_slice(&x.to_le_bytes());
            }
            Ok(())
        }
        GgmlType::F16 => {
            for (d, x) in dst.chunks_exact_mut(2).zip(src) {
                d.copy_from_slice(&half::f16::from_f32(*x).to_bits().to_le_bytes());
            }
            Ok(())
        }
        GgmlType::BF16 => {
            for (d, x) in dst.chunks_exact_mut(2).zip(src) {
                d.copy_from_slice(&f32_to_bf16(*x).to_le_bytes());
            }
            Ok(())
        }
        _ => dgemma_quant::quantize(ty, src, dst).map_err(|e| e.to_string()),
    }
}

/// Decodes `src` bytes of type `ty` into `dst` f32 values.
pub fn decode(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), String> {
    match ty {
        GgmlType::F32 => {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
            Ok(())
        }
        GgmlType::F16 => {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *o = half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
            }
            Ok(())
        }
        GgmlType::BF16 => {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *o = f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16);
            }
            Ok(())
        }
        _ => dgemma_quant::dequantize(ty, src, dst).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even_and_keeps_nan_quiet() {
        assert_eq!(f32_to_bf16(1.0), 0x3F80);
        // 1 + 2^-8 is exactly halfway between two bf16 values: ties to even (down).
        assert_eq!(f32_to_bf16(f32::from_bits(0x3F80_8000)), 0x3F80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3F81_8000)), 0x3F82);
        assert_eq!(f32_to_bf16(f32::from_bits(0x7F80_0001)) & 0x40, 0x40);
    }
}
