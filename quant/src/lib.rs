//! GGML block formats used by GGUF files.
//!
//! * [`GgmlType`]: the type ids of the file format with their block geometry.
//! * [`blocks`]: one `#[repr(C)]` struct per block format, byte layout identical to ggml.
//!
//! Quantizers, dequantizers and dot kernels build on these two modules.

pub mod blocks;
pub mod kernels;
pub mod types;

pub use types::{GgmlType, UnknownType};
