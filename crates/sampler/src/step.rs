//! One denoising step as a pure function of the processed logits and the draws
//! (../shared/spec/sampler.md §2-§4, §7).

use rayon::prelude::*;

use crate::error::SamplerError;
use crate::row_stats::{blocks_per_row, inverse_cdf_sample, row_stats, RowStats};
use crate::stability::StabilityHistory;

/// Where each position's candidate token comes from.
#[derive(Clone, Copy, Debug)]
pub enum SampleDraws<'a> {
    /// One uniform float in `[0, 1)` per position, turned into a token by inverse CDF
    /// (llama.cpp's way).
    Uniform(&'a [f32]),
    /// Tokens already sampled elsewhere (e.g. recorded from the reference's `torch.multinomial`).
    Tokens(&'a [u32]),
}

/// Inputs of one step; all slices have one entry per canvas position except `z` (`C × V`).
#[derive(Clone, Copy, Debug)]
pub struct StepInput<'a> {
    /// Processed logits `z = raw / t`, row-major `[C, V]`.
    pub z: &'a [f32],
    /// Vocabulary size `V`.
    pub vocab: usize,
    /// The canvas the denoiser saw.
    pub canvas: &'a [u32],
    /// Candidate-token draws.
    pub draws: SampleDraws<'a>,
    /// Re-noise tokens for the positions that are not accepted.
    pub noise: &'a [u32],
    /// Entropy bound `B`.
    pub entropy_bound: f64,
    /// Mean-entropy threshold of the adaptive stop.
    pub confidence_threshold: f64,
}

/// Caller-owned buffers of a step, sized once per canvas length so steps never allocate.
#[derive(Clone, Debug)]
pub struct StepBuffers {
    /// Per-position statistics (`max`, `partition` form the self-conditioning softmax).
    pub stats: Vec<RowStats>,
    /// Per-position entropy as the reference holds it (f32), used for sorting and the stop.
    pub entropy: Vec<f32>,
    /// The candidate token of each position (sampled or supplied).
    pub sampled: Vec<u32>,
    /// Per-position argmax of `z`.
    pub argmax: Vec<u32>,
    /// Accepted positions.
    pub accept: Vec<bool>,
    /// The canvas for the next step: sample where accepted, noise elsewhere.
    pub next_canvas: Vec<u32>,
    /// Positions sorted by (entropy, position).
    order: Vec<u32>,
    /// Per-row partial sums for the inverse-CDF search (sized on first use for a vocabulary).
    block_sums: Vec<f64>,
}

/// Scalar results of a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// How many positions were accepted (at least 1).
    pub accepted: usize,
    /// Mean entropy over positions (f32 as in the reference).
    pub mean_entropy: f32,
    /// The argmax canvas equals the last `stability_threshold` ones.
    pub stable: bool,
    /// Stable and mean entropy below the confidence threshold: the block ends here.
    pub stop: bool,
}

impl StepBuffers {
    /// Buffers for a canvas of `canvas_length` positions.
    pub fn new(canvas_length: usize) -> Self {
        StepBuffers {
            stats: vec![RowStats::default(); canvas_length],
            entropy: vec![0.0; canvas_length],
            sampled: vec![0; canvas_length],
            argmax: vec![0; canvas_length],
            accept: vec![false; canvas_length],
            next_canvas: vec![0; canvas_length],
            order: (0..canvas_length as u32).collect(),
            block_sums: Vec::new(),
        }
    }

    /// Canvas length these buffers were made for.
    pub fn canvas_length(&self) -> usize {
        self.stats.len()
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), SamplerError> {
    if expected == got {
        Ok(())
    } else {
        Err(SamplerError::Shape { what, expected, got })
    }
}

fn check_tokens(what: &'static str, tokens: &[u32], vocab: usize) -> Result<(), SamplerError> {
    match tokens.iter().position(|&t| t as usize >= vocab) {
        None => Ok(()),
        Some(position) => Err(SamplerError::TokenOutOfRange { what, position, token: tokens[position], vocab }),
    }
}

/// The entropy-bound acceptance rule: sort by (H, position), accept rank `k` iff
/// `cum[k] − H[k] ≤ B`. Mirrors the reference's arithmetic: f32 entropies, a cumulative sum
/// accumulated in f64 and stored as f32 (torch's CPU cumsum), an f32 subtraction and an f32
/// comparison with `B` rounded to f32. Returns the number of accepted positions.
pub fn accept_by_entropy(entropy: &[f32], bound: f64, order: &mut [u32], accept: &mut [bool]) -> usize {
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u32;
    }
    order.sort_unstable_by(|&a, &b| {
        entropy[a as usize].total_cmp(&entropy[b as usize]).then(a.cmp(&b))
    });
    let bound = bound as f32;
    let mut cum = 0.0f64;
    let mut accepted = 0;
    for &p in order.iter() {
        let h = entropy[p as usize];
        cum += h as f64;
        let ok = (cum as f32) - h <= bound;
        accept[p as usize] = ok;
        accepted += ok as usize;
    }
    accepted
}

/// Runs one step: statistics of every row (in parallel), candidate tokens, acceptance,
/// next canvas, and the stopping rule (which also pushes the argmax into `history`).
pub fn step(
    input: &StepInput<'_>,
    history: &mut StabilityHistory,
    bufs: &mut StepBuffers,
) -> Result<StepOutcome, SamplerError> {
    let c = bufs.canvas_length();
    let v = input.vocab;
    check_len("logits (C x V)", c * v, input.z.len())?;
    check_len("canvas", c, input.canvas.len())?;
    check_len("noise tokens", c, input.noise.len())?;
    check_tokens("noise tokens", input.noise, v)?;
    match input.draws {
        SampleDraws::Uniform(u) => check_len("uniform draws", c, u.len())?,
        SampleDraws::Tokens(t) => {
            check_len("sampled tokens", c, t.len())?;
            check_tokens("sampled tokens", t, v)?;
        }
    }
    if v == 0 {
        return Err(SamplerError::Shape { what: "vocabulary", expected: 1, got: 0 });
    }

    let nb = blocks_per_row(v);
    // Allocates only on the first step for a vocabulary size.
    bufs.block_sums.resize(c * nb, 0.0);
    let draws = input.draws;
    bufs.stats
        .par_iter_mut()
        .zip(bufs.sampled.par_iter_mut())
        .zip(bufs.block_sums.par_chunks_mut(nb))
        .zip(input.z.par_chunks_exact(v))
        .enumerate()
        .try_for_each(|(pos, (((stats, sampled), sums), row))| {
            *stats = row_stats(row, pos, sums)?;
            *sampled = match draws {
                SampleDraws::Uniform(u) => inverse_cdf_sample(row, stats, sums, u[pos]),
                SampleDraws::Tokens(t) => t[pos],
            };
            Ok::<(), SamplerError>(())
        })?;

    decide(bufs, input.noise, input.entropy_bound, input.confidence_threshold, history)
}

/// The second half of a step, for callers that computed the per-row statistics and candidate
/// tokens themselves (e.g. on a GPU, where only `C` (max, argmax, Z, H, sample) tuples come back):
/// given `bufs.stats` and `bufs.sampled`, fills entropies, argmax, the accept mask and the next
/// canvas, and applies the stopping rule.
pub fn decide(
    bufs: &mut StepBuffers,
    noise: &[u32],
    entropy_bound: f64,
    confidence_threshold: f64,
    history: &mut StabilityHistory,
) -> Result<StepOutcome, SamplerError> {
    let c = bufs.canvas_length();
    check_len("noise tokens", c, noise.len())?;
    let mut sum = 0.0f64;
    for ((h, a), s) in bufs.entropy.iter_mut().zip(bufs.argmax.iter_mut()).zip(&bufs.stats) {
        *h = s.entropy as f32;
        *a = s.argmax;
        sum += *h as f64;
    }
    let mean_entropy = (sum / c as f64) as f32;

    let accepted = accept_by_entropy(&bufs.entropy, entropy_bound, &mut bufs.order, &mut bufs.accept);
    for (((next, &ok), &sample), &fresh) in bufs.next_canvas.iter_mut().zip(&bufs.accept).zip(&bufs.sampled).zip(noise) {
        *next = if ok { sample } else { fresh };
    }

    let stable = history.check_and_push(&bufs.argmax);
    let confident = mean_entropy < confidence_threshold as f32;
    Ok(StepOutcome { accepted, mean_entropy, stable, stop: stable && confident })
}
