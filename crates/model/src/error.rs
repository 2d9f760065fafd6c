//! The model crate's one error type: every message names the key, tensor or value at fault.

use dgemma_backend::BackendError;
use dgemma_quant::GgmlType;

/// Errors loading or running a DiffusionGemma model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is not a `diffusion-gemma` model.
    #[error("general.architecture is '{found}', expected 'diffusion-gemma'")]
    WrongArch { found: String },
    /// A required metadata key is absent.
    #[error("metadata key '{key}' is missing")]
    MissingKey { key: String },
    /// A metadata key has the wrong type or an unusable value.
    #[error("metadata key '{key}': {reason}")]
    BadKey { key: String, reason: String },
    /// A tensor the model needs is absent.
    #[error("tensor '{name}' is missing")]
    MissingTensor { name: String },
    /// A tensor that must not be there (llama.cpp also refuses unconsumed tensors).
    #[error("tensor '{name}' is not expected: {reason}")]
    UnexpectedTensor { name: String, reason: &'static str },
    /// A tensor has a shape other than the config implies.
    #[error("tensor '{name}': shape {found:?} (ne), expected {expected:?}")]
    BadShape { name: String, found: Vec<u64>, expected: Vec<u64> },
    /// A tensor has a storage type the model cannot use there.
    #[error("tensor '{name}': type {ty:?} is not supported here ({reason})")]
    UnsupportedType { name: String, ty: GgmlType, reason: &'static str },
    /// The backend rejected a weight.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A token id outside the vocabulary.
    #[error("token id {id} at index {index} is outside the vocabulary (size {vocab})")]
    TokenOutOfRange { id: u32, index: usize, vocab: usize },
    /// The sequence would exceed the context the run was sized for.
    #[error("{what}: {needed} positions needed, context holds {ctx}")]
    ContextFull { what: &'static str, needed: usize, ctx: usize },
    /// Input of the wrong size handed to a pass.
    #[error("{what}: got {got} values, expected {expected}")]
    BadInput { what: &'static str, got: usize, expected: usize },
    /// The self-conditioning logits could not be turned into probabilities (a non-finite row).
    #[error("self-conditioning input: {0}")]
    SelfCond(#[from] dgemma_sampler::SamplerError),
    /// Reading the GGUF file failed.
    #[error(transparent)]
    Gguf(#[from] dgemma_gguf::GgufError),
}

/// Shorthand for this crate's results.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
