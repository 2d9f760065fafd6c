//! Runs one model on the probes: encoder next-token logits, denoiser logits, and one sampled
//! block. Each call owns its cache and scratch, so the base and the quantized model can be run
//! side by side on the same inputs.

use dgemma_backend::Backend;
use dgemma_model::{KvCache, Model, Scratch, Session, Trace};
use dgemma_sampler::{generate, GenerateConfig, LlamaRng, SamplerParams};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What the sampler did on one canvas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockOutcome {
    /// Denoising steps until the block stopped.
    pub steps: u32,
    /// Positions accepted at each step.
    pub accepted: Vec<usize>,
    /// The final (argmax) canvas.
    pub canvas: Vec<u32>,
}

/// A model plus the encoder chunk size.
pub struct Runner<'m, 'a, B: Backend> {
    model: &'m Model<'a, B>,
    batch: usize,
}

impl<'m, 'a, B: Backend> Runner<'m, 'a, B> {
    /// A runner encoding at most `batch` rows per chunk.
    pub fn new(model: &'m Model<'a, B>, batch: usize) -> Self {
        Self { model, batch: batch.max(1) }
    }

    /// The model's configuration.
    pub fn model(&self) -> &Model<'a, B> {
        self.model
    }

    /// Encoder logits `[n, V]` of `tokens` from position 0 (row `i` predicts token `i + 1`).
    pub fn encoder_logits(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        let (b, cfg) = (self.model.backend(), &self.model.cfg);
        let mut cache = KvCache::new(b, cfg, tokens.len());
        let mut scratch = Scratch::new(b, cfg, self.batch, false);
        let mut trace = Trace { want_logits: true, ..Trace::default() };
        self.model.encode(tokens, &mut cache, &mut scratch, Some(&mut trace))?;
        Ok(trace.logits)
    }

    /// Denoiser logits `[C, V]` of each canvas after `prompt` (first step: no self-conditioning).
    pub fn denoise_logits(&self, prompt: &[u32], canvases: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let (b, cfg) = (self.model.backend(), &self.model.cfg);
        let c = canvases.iter().map(|c| c.len()).max().unwrap_or(0);
        let mut cache = KvCache::new(b, cfg, prompt.len() + c);
        let mut scratch = Scratch::new(b, cfg, self.batch, true);
        self.model.encode(prompt, &mut cache, &mut scratch, None)?;
        canvases
            .iter()
            .map(|canvas| {
                let mut out = vec![0f32; canvas.len() * cfg.vocab];
                self.model.denoise(canvas, &cache, None, &mut scratch, &mut out, None)?;
                Ok(out)
            })
            .collect()
    }

    /// Sample one block after `prompt` with llama.cpp's random stream for `seed`: the initial
    /// canvas and every step's draws are the same for any model as long as the step counts
    /// agree (the stream does not depend on the logits).
    pub fn generate_block(&self, prompt: &[u32], params: &SamplerParams, seed: u32) -> Result<BlockOutcome> {
        let cfg = &self.model.cfg;
        let params = SamplerParams { max_new_tokens: cfg.canvas, ..params.clone() };
        let mut session = Session::new(self.model, prompt.len() + cfg.canvas, self.batch);
        session.prefill(prompt)?;
        // No end-of-generation cut: the whole final canvas is compared.
        let gen_cfg = GenerateConfig { vocab: cfg.vocab, canvas_length: cfg.canvas, end_of_generation: Vec::new(), pad_id: 0, repetition_cut: false };
        let mut out = BlockOutcome { steps: 0, accepted: Vec::new(), canvas: Vec::new() };
        let mut rng = LlamaRng::new(seed);
        generate(
            &mut session,
            &params,
            &gen_cfg,
            &mut rng,
            |ev| {
                out.accepted.push(ev.accepted);
                out.canvas.clear();
                out.canvas.extend_from_slice(ev.argmax);
            },
            |ev| out.steps = ev.steps,
        )?;
        Ok(out)
    }
}
