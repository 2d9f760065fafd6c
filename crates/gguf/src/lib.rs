//! GGUF v2/v3: a validating, zero-copy reader over a memory map, and a streaming writer whose
//! bytes match gguf-py's `GGUFWriter`. [`arch`] holds the DiffusionGemma key and tensor names
//! shared by the converter and the loader.
//!
//! * [`GgufFile`] parses the header once (every count, length, type id, shape and data offset
//!   checked against the file, errors naming the byte offset), then hands out [`Value`]s and
//!   [`TensorView`]s that borrow from the mapped file.
//! * [`GgufWriter`] takes metadata and tensor declarations first, then tensor data one tensor at
//!   a time.

pub mod arch;
mod cursor;
mod error;
mod file;
mod parse;
mod tensor;
mod value;
mod writer;

pub use dgemma_quant::GgmlType;
pub use error::{GgufError, Result};
pub use file::GgufFile;
pub use parse::{DEFAULT_ALIGNMENT, MAGIC};
pub use tensor::{TensorInfo, TensorView, MAX_DIMS, MAX_TENSOR_NAME_LEN};
pub use value::{ArrayElem, ArrayIter, ArrayValue, Value, ValueType};
pub use writer::{GgufWriter, WRITE_VERSION};
