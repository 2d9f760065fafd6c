//! The one error type of dgemma-convert: every failure names the file, key or tensor involved.

use std::path::PathBuf;

/// Why a conversion, requantization or estimate failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// An I/O call failed on a named file.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The output volume ran out of space while writing.
    #[error("{path}: disk full while writing the output ({written} bytes written)")]
    DiskFull { path: PathBuf, written: u64 },
    /// The output file exists and `--force` was not given.
    #[error("{0}: output exists (pass --force to overwrite)")]
    OutputExists(PathBuf),
    /// A JSON file could not be parsed.
    #[error("{path}: invalid JSON: {msg}")]
    Json { path: PathBuf, msg: String },
    /// A required configuration key is missing or has the wrong type.
    #[error("{file}: missing or invalid key `{key}`")]
    MissingKey { file: String, key: String },
    /// The configuration describes something this converter cannot represent.
    #[error("{file}: unsupported configuration: {msg}")]
    Unsupported { file: String, msg: String },
    /// The checkpoint is not a DiffusionGemma model.
    #[error("{file}: wrong architecture `{found}` (expected one of {expected})")]
    WrongArchitecture { file: String, found: String, expected: String },
    /// A safetensors file is malformed.
    #[error("{path}: invalid safetensors file: {msg}")]
    Safetensors { path: PathBuf, msg: String },
    /// The shard index names a shard that does not exist.
    #[error("{index}: shard `{shard}` listed in the index is missing")]
    MissingShard { index: PathBuf, shard: String },
    /// A shard file exists beside the index but the index does not list it.
    #[error("{index}: shard `{shard}` is present but not listed in the index")]
    ExtraShard { index: PathBuf, shard: String },
    /// A tensor the model needs is not in the checkpoint.
    #[error("checkpoint: tensor `{0}` is missing")]
    MissingTensor(String),
    /// A tensor appears twice (in two shards).
    #[error("checkpoint: tensor `{0}` appears more than once")]
    DuplicateTensor(String),
    /// A checkpoint tensor has a name the DiffusionGemma mapping does not know.
    #[error("checkpoint: tensor `{0}` is not part of a DiffusionGemma text model")]
    UnknownTensor(String),
    /// A tensor's shape disagrees with the configuration.
    #[error("tensor `{name}`: shape {found:?} does not match the configuration (expected {expected:?})")]
    ShapeMismatch { name: String, found: Vec<u64>, expected: Vec<u64> },
    /// A source dtype the converter cannot read.
    #[error("tensor `{name}`: unsupported source dtype {dtype} (BF16, F16 and F32 are supported)")]
    UnsupportedDtype { name: String, dtype: String },
    /// A tensor holds NaN or infinite values.
    #[error("tensor `{name}`: {count} non-finite values (NaN or inf)")]
    NonFinite { name: String, count: usize },
    /// The GGUF writer refused the output (a declaration or record it cannot store).
    #[error("{path}: {source}")]
    Gguf { path: PathBuf, source: dgemma_gguf::GgufError },
    /// A GGUF input file is malformed or not a DiffusionGemma file.
    #[error("{path}: {msg}")]
    BadGguf { path: PathBuf, msg: String },
    /// Requantizing an already-quantized tensor without `--allow-requantize`.
    #[error("tensor `{name}` is already {from}: requantizing to {to} is disabled (pass --allow-requantize)")]
    Requantize { name: String, from: String, to: String },
    /// The quantizer refused a tensor.
    #[error("tensor `{name}`: quantizing to {ty} failed: {msg}")]
    Quantize { name: String, ty: String, msg: String },
    /// An unknown output type was requested.
    #[error("unknown output type `{0}` (expected f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k)")]
    UnknownType(String),
}

impl ConvertError {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ConvertError::Io { path: path.into(), source }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ConvertError> = std::result::Result<T, E>;
