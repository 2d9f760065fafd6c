//! Quantization quality against a base model (issue 8, docs/quality.md).
//!
//! * [`logprobs`]: per-position comparison of a base and a quantized distribution (KL(base‖quant),
//!   top-1 agreement, Δp of the reference token, negative log-likelihoods), from full logits or
//!   from a compact base row (top-K log-probs + logsumexp).
//! * [`summary`]: percentiles and the per-section accumulator that turns rows into a report.
//! * [`base_file`]: the `--save-base` / `--base-logits` file format.
//! * [`probe`]: the inputs (encoder chunks, noised canvases, sampler prompts) from text tokens.
//! * [`runner`]: runs one model on those inputs (encoder logits, denoiser logits, one block).
//! * [`tensor_error`]: per-tensor RMSE / SNR of quantized weights, grouped by role.

pub mod base_file;
mod error;
pub mod logprobs;
pub mod probe;
pub mod runner;
pub mod summary;
pub mod tensor_error;

pub use error::{QualityError, Result};
