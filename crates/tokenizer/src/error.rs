//! The tokenizer's error type.

use thiserror::Error;

/// Everything that can go wrong building or using the tokenizer.
#[derive(Debug, Error)]
pub enum TokenizerError {
    /// A GGUF metadata key is missing or has the wrong type.
    #[error("GGUF tokenizer metadata: {0}")]
    Gguf(#[from] dgemma_gguf::GgufError),
    /// `tokenizer.ggml.model` names a tokenizer dgemma does not implement.
    #[error("tokenizer.ggml.model = {0:?}: only \"gemma4\" (BPE over ▁-escaped UTF-8 with merges) is supported")]
    UnsupportedModel(String),
    /// Metadata arrays disagree or ids point outside the vocabulary.
    #[error("tokenizer metadata is inconsistent: {0}")]
    Inconsistent(String),
    /// A Hugging Face tokenizer file could not be read or parsed.
    #[error("{path}: {reason}")]
    HfFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The BPE model could not be built or failed on a piece of text.
    #[error("BPE: {0}")]
    Bpe(String),
    /// A token id outside the vocabulary was given to the decoder.
    #[error("token id {id} is outside the vocabulary of {vocab}")]
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// Vocabulary size.
        vocab: usize,
    },
    /// The chat template failed to compile or render.
    #[error("chat template: {0}")]
    Template(String),
}
