//! dgemma-convert: HF DiffusionGemma checkpoints -> llama.cpp-compatible GGUF files, GGUF
//! requantization, and exact size estimates.
//!
//! * [`convert`]: safetensors (mmap, sharded or single; BF16/F16/F32) + config + tokenizer ->
//!   one GGUF of type F32/F16/BF16/Q8_0 (as llama.cpp's converter writes them) or
//!   Q4_0/Q4_K_M/Q5_K_M/Q6_K (as llama-quantize makes them from the BF16 file), streaming with
//!   bounded memory.
//! * [`quantize_gguf`]: llama-quantize's behaviour on a BF16/F16/F32 GGUF.
//! * [`estimate`]: file sizes per type from a config alone.
//!
//! Tensor types are decided in one place ([`plan::file_types`] over [`mixture`]) for all three.

pub mod config;
pub mod convert_hf;
pub mod encode;
pub mod error;
pub mod estimate;
pub mod meta_value;
pub mod metadata;
pub mod mixture;
pub mod names;
pub mod output;
pub mod plan;
pub mod progress;
pub mod requantize;
pub mod source;
pub mod target;
pub mod tensor_stream;
pub mod vocab;

pub use config::ModelParams;
pub use convert_hf::{convert, ConvertOptions, Summary};
pub use error::{ConvertError, Result};
pub use estimate::{estimate, estimate_from_config, HeaderSize, SizeEstimate};
pub use requantize::{quantize_gguf, QuantizeOptions};
pub use target::OutType;
