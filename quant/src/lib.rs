//! GGML block formats used by GGUF files.
//!
//! * [`GgmlType`]: the type ids of the file format with their block geometry.
//! * [`blocks`]: one `#[repr(C)]` struct per block format, byte layout identical to ggml.
//! * [`quantize`] / [`dequantize`] (and rayon variants): ggml's reference block codecs, bit-exact
//!   with ggml's C "_ref" functions and gguf-py (see docs/formats.md).
//!
//! The dot kernels in [`kernels`] build on these.

pub mod blocks;
mod error;
mod formats;
pub mod kernels;
pub mod types;

pub use error::QuantError;
pub use formats::{
    bf16_to_f32, can_dequantize, can_quantize, dequantize, dequantize_par, f32_to_bf16, quantize,
    quantize_par, quantize_rows_par,
};
pub use types::{GgmlType, UnknownType};
