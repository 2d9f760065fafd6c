//! The crate's error type.

use std::path::PathBuf;

/// Errors of quality measurement: unreadable or inconsistent inputs, named with their source.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A base-logits file is malformed (truncated, wrong magic, bad header).
    #[error("base-logits file {path}: {reason}")]
    BadBaseFile { path: PathBuf, reason: String },
    /// A base-logits file was made with different inputs or settings than this run.
    #[error("base-logits file {path} does not match this run: {what}")]
    BaseMismatch { path: PathBuf, what: String },
    /// Two rows that must have the same length do not.
    #[error("{what}: length {got}, expected {expected}")]
    Shape { what: &'static str, got: usize, expected: usize },
    /// The model failed on an input.
    #[error(transparent)]
    Model(#[from] dgemma_model::ModelError),
    /// The sampler failed.
    #[error(transparent)]
    Sampler(#[from] dgemma_sampler::SamplerError),
    /// A tensor of the model has no counterpart (or a different shape) in the source.
    #[error("tensor `{name}`: {reason}")]
    Tensor { name: String, reason: String },
}

/// Result with [`QualityError`].
pub type Result<T, E = QualityError> = std::result::Result<T, E>;
