//! The model-agnostic block/chain driver (../shared/spec/sampler.md §2, §5).

use crate::error::{DenoiseError, SamplerError};
use crate::params::SamplerParams;
use crate::repetition::repetition_loop_start;
use crate::rng::{draw_initial_canvas, draw_step, Rng};
use crate::row_stats::RowStats;
use crate::schedule::apply_temperature;
use crate::stability::StabilityHistory;
use crate::step::{step, SampleDraws, StepBuffers, StepInput};

/// Self-conditioning on the previous step. Its processed logits `z_prev = raw_prev / t_prev`
/// (`[C, V]`) are not here: they are in the logits buffer handed to [`Denoiser::denoise`], which
/// reads them before overwriting the buffer with the new logits, so a generation holds one
/// `[C, V]` host buffer instead of two.
#[derive(Clone, Copy, Debug)]
pub struct SelfCond<'a> {
    /// Per-position max and partition sum of `z_prev`: `softmax(z_prev)[c][v] =
    /// exp(z_prev[c][v] − stats[c].max) / stats[c].partition`, so the model need not
    /// recompute them ([`crate::self_cond_probs_in_place`] forms it in place).
    pub stats: &'a [RowStats],
}

/// The model as the sampler sees it: a denoiser over one canvas and an encoder that commits a
/// finished canvas to the KV cache.
///
/// The caller encodes the prompt before [`generate`]; each block's canvas sits at the positions
/// right after everything committed so far (prompt, then earlier blocks), so the model tracks
/// positions itself.
pub trait Denoiser {
    /// Raw logits `[C, V]` (before temperature) of the decoder for `canvas` against the cache,
    /// written to `logits`. `self_cond` is `None` on the first step of a block; when it is
    /// `Some`, `logits` holds `z_prev` on entry (see [`SelfCond`]).
    fn denoise(
        &mut self,
        canvas: &[u32],
        self_cond: Option<SelfCond<'_>>,
        logits: &mut [f32],
    ) -> Result<(), DenoiseError>;

    /// Encodes `tokens` (a finished block) and appends their K/V to the cache.
    fn commit(&mut self, tokens: &[u32]) -> Result<(), DenoiseError>;
}

/// Model facts and options of a generation (everything that is not a [`SamplerParams`]).
#[derive(Clone, Debug)]
pub struct GenerateConfig {
    /// Vocabulary size `V` (rows of the logits).
    pub vocab: usize,
    /// Canvas length `C`.
    pub canvas_length: usize,
    /// End-of-generation token ids: the answer ends at the first one.
    pub end_of_generation: Vec<u32>,
    /// Padding id: tokens equal to it do not count in tokens-per-forward (reference metric).
    pub pad_id: u32,
    /// llama.cpp's repetition-loop cut (off to reproduce the reference).
    pub repetition_cut: bool,
}

/// What the step callback sees (e.g. to draw the canvas live).
#[derive(Debug)]
pub struct StepEvent<'a> {
    /// Block index from 0.
    pub block: usize,
    /// Step within the block, from 1.
    pub step: u32,
    /// Temperature of this step.
    pub temperature: f32,
    /// The canvas the denoiser saw.
    pub canvas: &'a [u32],
    /// Accepted positions.
    pub accept: &'a [bool],
    /// Argmax canvas (the block's output if it stops now).
    pub argmax: &'a [u32],
    /// The canvas for the next step.
    pub next_canvas: &'a [u32],
    /// Mean entropy (nats) over the canvas.
    pub mean_entropy: f32,
    /// Number of accepted positions.
    pub accepted: usize,
    /// Whether the adaptive stop fired.
    pub stop: bool,
}

/// What the block callback sees once a block is final.
#[derive(Debug)]
pub struct BlockEvent<'a> {
    /// Block index from 0.
    pub block: usize,
    /// Denoising steps the block ran.
    pub steps: u32,
    /// The block's tokens kept in the answer (cut at an end-of-generation token or loop).
    pub tokens: &'a [u32],
    /// Whether the answer ends with this block.
    pub last: bool,
}

/// Why the generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// An end-of-generation token (its id) appeared.
    EndOfGeneration(u32),
    /// A repetition loop was cut (only with `repetition_cut`).
    RepetitionLoop,
    /// `max_new_tokens` worth of blocks were generated.
    Length,
}

/// Result of [`generate`].
#[derive(Clone, Debug)]
pub struct Generation {
    /// The answer: without the end-of-generation token, at most `max_new_tokens` long.
    pub tokens: Vec<u32>,
    /// Tokens the generated canvases held before truncation to `max_new_tokens` (the reference
    /// returns whole canvases).
    pub canvas_tokens: usize,
    /// Decoder forward passes.
    pub decoder_passes: usize,
    /// Steps per block.
    pub steps_per_block: Vec<u32>,
    /// Why it ended.
    pub end: EndReason,
    /// The reference's secondary metric: generated non-pad tokens (up to and including the
    /// end-of-generation token) ÷ decoder passes.
    pub tokens_per_forward: f64,
}

/// Buffers of one generation, allocated once.
struct Workspace {
    canvas: Vec<u32>,
    /// `z_prev` in, raw logits out, then `z` (one `[C, V]` buffer, see [`SelfCond`]).
    logits: Vec<f32>,
    prev_stats: Vec<RowStats>,
    uniforms: Vec<f32>,
    noise: Vec<u32>,
    bufs: StepBuffers,
    history: StabilityHistory,
}

fn denoise_err(stage: &'static str) -> impl FnOnce(DenoiseError) -> SamplerError {
    move |source| SamplerError::Denoiser { stage, source }
}

/// Generates up to `params.max_new_tokens` tokens after an already-encoded prompt.
///
/// Random draws follow llama.cpp's order: per block the `C` initial tokens, then per step
/// for each position a float and a token (../shared/spec/sampler.md §8).
pub fn generate<D: Denoiser, R: Rng>(
    denoiser: &mut D,
    params: &SamplerParams,
    config: &GenerateConfig,
    rng: &mut R,
    mut on_step: impl FnMut(&StepEvent<'_>),
    mut on_block: impl FnMut(&BlockEvent<'_>),
) -> Result<Generation, SamplerError> {
    params.validate()?;
    let (c, v) = (config.canvas_length, config.vocab);
    if c == 0 || v == 0 || v > u32::MAX as usize {
        return Err(SamplerError::Shape { what: "canvas length x vocabulary", expected: 1, got: c * v });
    }
    let mut ws = Workspace {
        canvas: vec![0; c],
        logits: vec![0.0; c * v],
        prev_stats: vec![RowStats::default(); c],
        uniforms: vec![0.0; c],
        noise: vec![0; c],
        bufs: StepBuffers::new(c),
        history: StabilityHistory::new(params.stability_threshold, c),
    };
    let blocks = params.max_new_tokens.div_ceil(c);
    let mut answer = Vec::with_capacity(blocks * c);
    let mut counted = 0usize;
    let mut decoder_passes = 0usize;
    let mut steps_per_block = Vec::with_capacity(blocks);
    let mut end = EndReason::Length;

    for block in 0..blocks {
        draw_initial_canvas(rng, v as u32, &mut ws.canvas);
        ws.history.reset();
        let mut steps = 0u32;
        for remaining in (1..=params.max_steps).rev() {
            steps += 1;
            let t = params.temperature(remaining);
            let self_cond = (steps > 1).then(|| SelfCond { stats: &ws.prev_stats });
            denoiser.denoise(&ws.canvas, self_cond, &mut ws.logits).map_err(denoise_err("denoise"))?;
            decoder_passes += 1;
            apply_temperature(&mut ws.logits, t);
            draw_step(rng, v as u32, &mut ws.uniforms, &mut ws.noise);
            let input = StepInput {
                z: &ws.logits,
                vocab: v,
                canvas: &ws.canvas,
                draws: SampleDraws::Uniform(&ws.uniforms),
                noise: &ws.noise,
                entropy_bound: params.entropy_bound,
                confidence_threshold: params.confidence_threshold,
            };
            let outcome = step(&input, &mut ws.history, &mut ws.bufs)?;
            on_step(&StepEvent {
                block,
                step: steps,
                temperature: t,
                canvas: &ws.canvas,
                accept: &ws.bufs.accept,
                argmax: &ws.bufs.argmax,
                next_canvas: &ws.bufs.next_canvas,
                mean_entropy: outcome.mean_entropy,
                accepted: outcome.accepted,
                stop: outcome.stop,
            });
            ws.prev_stats.copy_from_slice(&ws.bufs.stats);
            ws.canvas.copy_from_slice(&ws.bufs.next_canvas);
            if outcome.stop {
                break;
            }
        }
        steps_per_block.push(steps);

        let out = &ws.bufs.argmax;
        let eog = out.iter().position(|t| config.end_of_generation.contains(t));
        let loop_cut = if config.repetition_cut { repetition_loop_start(out) } else { None };
        let keep = match (eog, loop_cut) {
            (Some(e), Some(l)) if l < e => {
                end = EndReason::RepetitionLoop;
                l
            }
            (Some(e), _) => {
                end = EndReason::EndOfGeneration(out[e]);
                e
            }
            (None, Some(l)) if l < c => {
                end = EndReason::RepetitionLoop;
                l
            }
            _ => c,
        };
        // Reference metric: the canvas up to and including the end-of-generation token, pad
        // tokens excluded.
        let counted_len = match end {
            EndReason::EndOfGeneration(_) => keep + 1,
            _ => keep,
        };
        counted += out[..counted_len].iter().filter(|&&t| t != config.pad_id).count();
        answer.extend_from_slice(&out[..keep]);
        let last = keep < c || block + 1 == blocks;
        on_block(&BlockEvent { block, steps, tokens: &out[..keep], last });
        if last {
            break;
        }
        denoiser.commit(out).map_err(denoise_err("commit"))?;
    }

    let canvas_tokens = answer.len();
    answer.truncate(params.max_new_tokens);
    Ok(Generation {
        tokens: answer,
        canvas_tokens,
        decoder_passes,
        steps_per_block,
        end,
        tokens_per_forward: counted as f64 / decoder_passes.max(1) as f64,
    })
}
