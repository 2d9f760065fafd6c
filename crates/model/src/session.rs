//! A generation session: one model, one K/V cache, one set of scratch buffers, and the
//! [`dgemma_sampler::Denoiser`] the sampler drives.

use std::time::{Duration, Instant};

use dgemma_backend::Backend;
use dgemma_sampler::{DenoiseError, Denoiser, SelfCond};

use crate::diffusion_gemma::Model;
use crate::error::Result;
use crate::kv_cache::KvCache;
use crate::scratch::Scratch;

/// Time spent in each pass, for the timing summary.
#[derive(Clone, Debug, Default)]
pub struct PassTimes {
    /// Prompt tokens encoded and the time it took.
    pub prefill_tokens: usize,
    pub prefill: Duration,
    /// Decoder steps and their total time.
    pub denoise_steps: usize,
    pub denoise: Duration,
    /// Committed canvas tokens re-encoded and the time it took.
    pub commit_tokens: usize,
    pub commit: Duration,
}

/// A sequence being generated.
pub struct Session<'m, 'a, B: Backend> {
    model: &'m Model<'a, B>,
    cache: KvCache<B>,
    scratch: Scratch<B>,
    /// Accumulated pass timings.
    pub times: PassTimes,
}

impl<'m, 'a, B: Backend> Session<'m, 'a, B> {
    /// A session holding up to `ctx` positions, encoding at most `batch` rows per chunk.
    pub fn new(model: &'m Model<'a, B>, ctx: usize, batch: usize) -> Self {
        let backend = model.backend();
        Self {
            model,
            cache: KvCache::new(backend, &model.cfg, ctx),
            scratch: Scratch::new(backend, &model.cfg, batch.max(1), true),
            times: PassTimes::default(),
        }
    }

    /// Encode the prompt (or any tokens) at the next positions.
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<()> {
        let t0 = Instant::now();
        self.model.encode(tokens, &mut self.cache, &mut self.scratch, None)?;
        self.times.prefill += t0.elapsed();
        self.times.prefill_tokens += tokens.len();
        Ok(())
    }

    /// Opt-in: drop self-conditioning probabilities under `cutoff ·` their row's largest
    /// (see [`Scratch::set_soft_embed_cutoff`]; 0 = exact, the default).
    pub fn set_soft_embed_cutoff(&mut self, cutoff: f32) {
        self.scratch.set_soft_embed_cutoff(cutoff);
    }

    /// The cache (read-only).
    pub fn cache(&self) -> &KvCache<B> {
        &self.cache
    }
}

impl<B: Backend> Denoiser for Session<'_, '_, B> {
    fn denoise(&mut self, canvas: &[u32], self_cond: Option<SelfCond<'_>>, logits: &mut [f32]) -> Result<(), DenoiseError> {
        let t0 = Instant::now();
        let stats = self_cond.map(|s| s.stats);
        self.model.denoise_in_place(canvas, &self.cache, stats, &mut self.scratch, logits, None)?;
        self.times.denoise += t0.elapsed();
        self.times.denoise_steps += 1;
        Ok(())
    }

    fn commit(&mut self, tokens: &[u32]) -> Result<(), DenoiseError> {
        let t0 = Instant::now();
        self.model.encode(tokens, &mut self.cache, &mut self.scratch, None)?;
        self.times.commit += t0.elapsed();
        self.times.commit_tokens += tokens.len();
        Ok(())
    }
}
