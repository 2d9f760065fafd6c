//! Quantize/dequantize dispatch over [`GgmlType`], with the size checks and rayon variants.
//!
//! One module per block format; each exposes `quantize(src, dst)` / `dequantize(src, dst)` over
//! whole, already validated blocks. The public functions here check the lengths (never panic
//! on bad sizes) and pick the module.

mod bf16;
mod bytes;
mod f16;
mod f32;
mod q2_k;
mod q3_k;
mod q4_0;
mod q4_1;
mod q4_k;
mod q5_0;
mod q5_1;
mod q5_k;
mod q6_k;
mod q8_0;
mod q8_k;
mod search;
mod search_lanes;

pub use bf16::{bf16_to_f32, f32_to_bf16};

use rayon::prelude::*;

use crate::error::QuantError;
use crate::types::GgmlType;

type QuantFn = fn(&[f32], &mut [u8]);
type DequantFn = fn(&[u8], &mut [f32]);

fn quantizer(ty: GgmlType) -> Option<QuantFn> {
    use GgmlType::*;
    Some(match ty {
        F32 => f32::quantize,
        F16 => f16::quantize,
        BF16 => bf16::quantize,
        Q8_0 => q8_0::quantize,
        Q4_0 => q4_0::quantize,
        Q4_1 => q4_1::quantize,
        Q5_0 => q5_0::quantize,
        Q5_1 => q5_1::quantize,
        Q2_K => q2_k::quantize,
        Q3_K => q3_k::quantize,
        Q4_K => q4_k::quantize,
        Q5_K => q5_k::quantize,
        Q6_K => q6_k::quantize,
        Q8_K => q8_k::quantize,
        _ => return None,
    })
}

fn dequantizer(ty: GgmlType) -> Option<DequantFn> {
    use GgmlType::*;
    Some(match ty {
        F32 => f32::dequantize,
        F16 => f16::dequantize,
        BF16 => bf16::dequantize,
        Q8_0 => q8_0::dequantize,
        Q4_0 => q4_0::dequantize,
        Q4_1 => q4_1::dequantize,
        Q5_0 => q5_0::dequantize,
        Q5_1 => q5_1::dequantize,
        Q2_K => q2_k::dequantize,
        Q3_K => q3_k::dequantize,
        Q4_K => q4_k::dequantize,
        Q5_K => q5_k::dequantize,
        Q6_K => q6_k::dequantize,
        Q8_K => q8_k::dequantize,
        _ => return None,
    })
}

/// Whether [`quantize`] supports `ty`.
pub fn can_quantize(ty: GgmlType) -> bool {
    quantizer(ty).is_some()
}

/// Whether [`dequantize`] supports `ty`.
pub fn can_dequantize(ty: GgmlType) -> bool {
    dequantizer(ty).is_some()
}

/// Whether the quantizer of `ty` refuses non-finite input (the block formats; the float
/// formats F32/F16/BF16 store NaN and infinities as such).
fn rejects_non_finite(ty: GgmlType) -> bool {
    !matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
}

fn check_blocks(ty: GgmlType, elements: usize) -> Result<usize, QuantError> {
    let block = ty.block_size();
    match ty.row_bytes(elements) {
        Some(bytes) => Ok(bytes),
        None => Err(QuantError::PartialBlock { ty, elements, block }),
    }
}

fn check_len(ty: GgmlType, what: &'static str, unit: &'static str, expected: usize, got: usize) -> Result<(), QuantError> {
    if expected == got {
        Ok(())
    } else {
        Err(QuantError::Length { ty, what, unit, expected, got })
    }
}

fn validate_quantize(ty: GgmlType, src: &[f32], dst: &[u8]) -> Result<QuantFn, QuantError> {
    let f = quantizer(ty).ok_or(QuantError::QuantizeUnsupported(ty))?;
    let bytes = check_blocks(ty, src.len())?;
    check_len(ty, "destination", "bytes", bytes, dst.len())?;
    if rejects_non_finite(ty) {
        if let Some(index) = src.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite { ty, index, value: src[index] });
        }
    }
    Ok(f)
}

fn validate_dequantize(ty: GgmlType, src: &[u8], dst: &[f32]) -> Result<DequantFn, QuantError> {
    let f = dequantizer(ty).ok_or(QuantError::DequantizeUnsupported(ty))?;
    let bytes = check_blocks(ty, dst.len())?;
    check_len(ty, "source", "bytes", bytes, src.len())?;
    Ok(f)
}

/// Quantize `src` (a whole number of blocks of `ty`) into `dst`, which must hold exactly
/// `ty.row_bytes(src.len())` bytes, with ggml's deterministic reference ("_ref") algorithm.
///
/// Block formats refuse NaN/±inf input ([`QuantError::NonFinite`]); see docs/formats.md.
pub fn quantize(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> Result<(), QuantError> {
    let f = validate_quantize(ty, src, dst)?;
    f(src, dst);
    Ok(())
}

/// Dequantize `src` (bytes of whole blocks of `ty`) into `dst`; `dst.len()` elements are
/// decoded and `src.len()` must be exactly their byte size.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    let f = validate_dequantize(ty, src, dst)?;
    f(src, dst);
    Ok(())
}

/// Elements per parallel work item: large enough to amortise rayon's scheduling, small enough
/// to balance a single big row over all threads. A multiple of every block size.
const PAR_CHUNK: usize = 16 * 1024;

/// [`quantize`] over rows of `row_len` elements, rows spread over the current rayon pool.
///
/// `row_len` must be a positive multiple of the block size and `src.len()` a multiple of
/// `row_len`. Output bytes are identical to [`quantize`] (blocks are independent).
pub fn quantize_rows_par(ty: GgmlType, src: &[f32], row_len: usize, dst: &mut [u8]) -> Result<(), QuantError> {
    let block = ty.block_size();
    if row_len == 0 || row_len % block != 0 || src.len() % row_len != 0 {
        return Err(QuantError::BadRows { ty, elements: src.len(), row_len, block });
    }
    quantize_par(ty, src, dst)
}

/// [`quantize`] with the blocks spread over the current rayon pool (same bytes).
pub fn quantize_par(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> Result<(), QuantError> {
    let f = validate_quantize(ty, src, dst)?;
    let chunk_bytes = PAR_CHUNK / ty.block_size() * ty.type_size();
    src.par_chunks(PAR_CHUNK).zip(dst.par_chunks_mut(chunk_bytes)).for_each(|(s, d)| f(s, d));
    Ok(())
}

/// [`dequantize`] with the blocks spread over the current rayon pool (same values).
pub fn dequantize_par(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    let f = validate_dequantize(ty, src, dst)?;
    let chunk_bytes = PAR_CHUNK / ty.block_size() * ty.type_size();
    src.par_chunks(chunk_bytes).zip(dst.par_chunks_mut(PAR_CHUNK)).for_each(|(s, d)| f(s, d));
    Ok(())
}
