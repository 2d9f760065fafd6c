//! The sampler's error type.

use thiserror::Error;

/// Boxed error returned by a [`crate::Denoiser`] implementation (the model's own error type).
pub type DenoiseError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the sampler.
#[derive(Debug, Error)]
pub enum SamplerError {
    /// A sampler parameter is outside the range the reference accepts.
    #[error("invalid sampler parameter {name} = {value}: {reason}")]
    InvalidParam {
        /// Parameter name as the reference spells it (e.g. `t_max`).
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// What the reference requires.
        reason: &'static str,
    },
    /// A buffer handed to the sampler has the wrong length.
    #[error("{what}: expected {expected} elements, got {got}")]
    Shape {
        /// Which buffer.
        what: &'static str,
        /// Expected element count.
        expected: usize,
        /// Actual element count.
        got: usize,
    },
    /// The logits of one canvas position contain NaN or infinities that leave no finite maximum.
    #[error("canvas position {position}: logits are not finite (NaN or +/-inf), cannot sample")]
    NonFinite {
        /// Canvas position (0-based).
        position: usize,
    },
    /// A token id is outside the vocabulary.
    #[error("{what}: token id {token} at position {position} is outside the vocabulary of {vocab}")]
    TokenOutOfRange {
        /// Which input held it.
        what: &'static str,
        /// Canvas position.
        position: usize,
        /// The id.
        token: u32,
        /// Vocabulary size.
        vocab: usize,
    },
    /// The model failed while denoising or committing a canvas.
    #[error("model failed during {stage}: {source}")]
    Denoiser {
        /// `denoise` or `commit`.
        stage: &'static str,
        /// The model's error.
        source: DenoiseError,
    },
}
