//! The one error type of this crate. Parse errors carry the absolute byte offset where the
//! problem was found, so a message points at the exact place in a (possibly hostile) file.

use std::path::PathBuf;

use crate::value::ValueType;

/// Everything that can go wrong reading or writing a GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// Opening, mapping, writing or renaming a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// A write to a caller-supplied sink failed.
    #[error("writing GGUF data: {0}")]
    Write(#[from] std::io::Error),

    /// The file ends before a field does.
    #[error("at byte {offset}: file ends while reading {what}: needs {needed} bytes, {available} left")]
    Truncated {
        /// Where the field starts.
        offset: u64,
        /// What was being read.
        what: String,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the file from `offset`.
        available: u64,
    },

    /// The first four bytes are not `GGUF`.
    #[error("at byte 0: not a GGUF file (magic {found:02x?}, expected \"GGUF\")")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },

    /// Version 1 or above 3.
    #[error("at byte 4: unsupported GGUF version {version} (only 2 and 3 are supported)")]
    UnsupportedVersion {
        /// The version field.
        version: u32,
    },

    /// The version looks byte-swapped: a big-endian file, which this reader does not support.
    #[error(
        "at byte 4: version field {version:#010x} looks byte-swapped; big-endian GGUF files are not supported"
    )]
    ByteSwapped {
        /// The version field as read little-endian.
        version: u32,
    },

    /// A count (of KVs, tensors or array elements) cannot fit in the rest of the file.
    #[error("at byte {offset}: {what} count {count} cannot fit in the {available} bytes left (each needs at least {min_size} bytes)")]
    ImplausibleCount {
        /// Where the count was read.
        offset: u64,
        /// What is counted.
        what: String,
        /// The count as stored.
        count: u64,
        /// The minimum bytes per item.
        min_size: u64,
        /// Bytes left in the file.
        available: u64,
    },

    /// A string (key, value, or tensor name) is not UTF-8.
    #[error("at byte {offset}: {what} is not valid UTF-8")]
    InvalidUtf8 {
        /// Where the string bytes start.
        offset: u64,
        /// Which string.
        what: String,
    },

    /// A metadata key occurs twice.
    #[error("at byte {offset}: duplicate metadata key '{key}'")]
    DuplicateKey {
        /// Where the second occurrence starts.
        offset: u64,
        /// The key.
        key: String,
    },

    /// A metadata value type id outside 0..=12.
    #[error("at byte {offset}: key '{key}': unknown value type id {id}")]
    UnknownValueType {
        /// Where the type id was read.
        offset: u64,
        /// The key it belongs to.
        key: String,
        /// The id.
        id: u32,
    },

    /// An array whose elements are arrays (llama.cpp does not read them).
    #[error("at byte {offset}: key '{key}': nested arrays are not supported")]
    NestedArray {
        /// Where the element type was read.
        offset: u64,
        /// The key.
        key: String,
    },

    /// A bool stored as something other than 0 or 1.
    #[error("at byte {offset}: key '{key}': bool byte is {byte}, expected 0 or 1")]
    InvalidBool {
        /// Where the byte is.
        offset: u64,
        /// The key.
        key: String,
        /// The byte found.
        byte: u8,
    },

    /// `general.alignment` is not a non-zero power of two, or not a u32.
    #[error("at byte {offset}: general.alignment: {reason}")]
    BadAlignment {
        /// Where the value is.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// A tensor-info record that breaks a format rule (name, dims, type).
    #[error("at byte {offset}: tensor '{name}': {reason}")]
    BadTensorInfo {
        /// Where the tensor-info record starts.
        offset: u64,
        /// The tensor name (possibly empty if the name itself is bad).
        name: String,
        /// What is wrong.
        reason: String,
    },

    /// Two tensor-info records with the same name.
    #[error("at byte {offset}: duplicate tensor name '{name}'")]
    DuplicateTensor {
        /// Where the second record starts.
        offset: u64,
        /// The name.
        name: String,
    },

    /// A tensor's data is misaligned, outside the file, or overlaps another tensor.
    #[error("at byte {offset}: tensor '{name}': {reason}")]
    BadTensorData {
        /// Where the tensor-info record starts.
        offset: u64,
        /// The tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },

    /// A metadata key that was asked for is absent.
    #[error("metadata key '{key}' is missing")]
    MissingKey {
        /// The key.
        key: String,
    },

    /// A metadata key has another type than the one asked for.
    #[error("metadata key '{key}' has type {actual}, expected {expected}")]
    KeyType {
        /// The key.
        key: String,
        /// The type the caller asked for.
        expected: String,
        /// The type in the file.
        actual: String,
    },

    /// A tensor that was asked for is absent.
    #[error("tensor '{name}' is missing")]
    MissingTensor {
        /// The name.
        name: String,
    },

    /// The writer was used out of order or given inconsistent content.
    #[error("GGUF writer: {0}")]
    Writer(String),
}

impl GgufError {
    /// A [`GgufError::KeyType`] for `key`.
    pub(crate) fn key_type(key: &str, expected: impl ToString, actual: ValueType) -> Self {
        GgufError::KeyType { key: key.to_string(), expected: expected.to_string(), actual: actual.to_string() }
    }

    /// The absolute byte offset the error points at, for parse errors.
    pub fn offset(&self) -> Option<u64> {
        use GgufError::*;
        match self {
            Truncated { offset, .. }
            | ImplausibleCount { offset, .. }
            | InvalidUtf8 { offset, .. }
            | DuplicateKey { offset, .. }
            | UnknownValueType { offset, .. }
            | NestedArray { offset, .. }
            | InvalidBool { offset, .. }
            | BadAlignment { offset, .. }
            | BadTensorInfo { offset, .. }
            | DuplicateTensor { offset, .. }
            | BadTensorData { offset, .. } => Some(*offset),
            BadMagic { .. } => Some(0),
            UnsupportedVersion { .. } | ByteSwapped { .. } => Some(4),
            Io { .. } | Write(_) | MissingKey { .. } | KeyType { .. } | MissingTensor { .. }
            | Writer(_) => None,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = GgufError> = std::result::Result<T, E>;
