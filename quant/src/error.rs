//! The error type of the block quantizers and dequantizers.

use crate::types::GgmlType;

/// Why a quantize/dequantize call was refused. Nothing in this crate panics on bad input sizes.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QuantError {
    /// No quantizer for this type (see [`crate::can_quantize`]).
    #[error("quantizing to {0} is not supported")]
    QuantizeUnsupported(GgmlType),
    /// No dequantizer for this type (see [`crate::can_dequantize`]).
    #[error("dequantizing {0} is not supported")]
    DequantizeUnsupported(GgmlType),
    /// The element count is not a whole number of blocks.
    #[error("{ty}: {elements} elements is not a multiple of the block size {block}")]
    PartialBlock { ty: GgmlType, elements: usize, block: usize },
    /// The row width of a rows call is zero or not a whole number of blocks, or the data is
    /// not a whole number of rows.
    #[error("{ty}: {elements} elements cannot be split into rows of {row_len} (block size {block})")]
    BadRows { ty: GgmlType, elements: usize, row_len: usize, block: usize },
    /// The destination (or source) buffer has the wrong length.
    #[error("{ty}: {what} buffer holds {got} {unit}, expected {expected}")]
    Length { ty: GgmlType, what: &'static str, unit: &'static str, expected: usize, got: usize },
    /// A block quantizer was given NaN or an infinity (F32/F16/BF16 pass them through).
    #[error("{ty}: input element {index} is not finite ({value})")]
    NonFinite { ty: GgmlType, index: usize, value: f32 },
}
