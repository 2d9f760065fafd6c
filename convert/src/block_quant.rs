//! Bridge to the block quantizers. dgemma-quant's `quantize`/`dequantize` were not available
//! when the converter was written, so Q8_0 (the only block type llama.cpp's converter itself
//! writes) is done here from ../shared/spec/gguf.md §3.5; every other block type is delegated
//! to dgemma-quant once it exposes them.

use dgemma_quant::GgmlType;

const QK8_0: usize = 32;

/// Quantizes whole blocks of `src` into `dst`.
pub fn quantize(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> Result<(), String> {
    match ty {
        GgmlType::Q8_0 => {
            for (x, out) in src.chunks_exact(QK8_0).zip(dst.chunks_exact_mut(34)) {
                let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                out[..2].copy_from_slice(&half::f16::from_f32(d).to_bits().to_le_bytes());
                for (q, v) in out[2..].iter_mut().zip(x) {
                    *q = (v * id).round() as i8 as u8;
                }
            }
            Ok(())
        }
        other => Err(format!("no quantizer for {other} available yet")),
    }
}

/// Dequantizes whole blocks of `src` into `dst`.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), String> {
    match ty {
        GgmlType::Q8_0 => {
            for (b, out) in src.chunks_exact(34).zip(dst.chunks_exact_mut(QK8_0)) {
                let d = half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
                for (o, q) in out.iter_mut().zip(&b[2..]) {
                    *o = d * (*q as i8) as f32;
                }
            }
            Ok(())
        }
        other => Err(format!("no dequantizer for {other} available yet")),
    }
}
