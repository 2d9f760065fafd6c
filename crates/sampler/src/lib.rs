//! The entropy-bounded block-diffusion sampler of DiffusionGemma and llama.cpp's random
//! stream (../shared/spec/sampler.md).
//!
//! * [`step`] is the pure per-step function: processed logits, canvas and draws in; accept
//!   mask, next canvas, argmax, entropies and the stop decision out.
//! * [`Mt19937`] / [`LlamaRng`] reproduce llama.cpp's draws for a seed, draw for draw.
//! * [`generate`] drives blocks and steps over any [`Denoiser`] (the model).

mod error;
mod fast_exp;
mod generate;
mod params;
mod repetition;
mod rng;
mod row_stats;
mod schedule;
mod self_cond;
mod stability;
mod step;

pub use error::{DenoiseError, SamplerError};
pub use generate::{generate, BlockEvent, Denoiser, EndReason, GenerateConfig, Generation, SelfCond, StepEvent};
pub use params::{SamplerOverrides, SamplerParams};
pub use repetition::repetition_loop_start;
pub use rng::{draw_initial_canvas, draw_step, LlamaRng, Mt19937, Rng};
pub use row_stats::{blocks_per_row, inverse_cdf_sample, row_stats, weight, RowStats, BLOCK};
pub use schedule::{apply_temperature, temperature};
pub use self_cond::{self_cond_probs_in_place, softmax_rows_in_place};
pub use stability::StabilityHistory;
pub use step::{accept_by_entropy, decide, step, SampleDraws, StepBuffers, StepInput, StepOutcome};
