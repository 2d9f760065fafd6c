//! Activation buffers, allocated once per run at their largest size (no allocation per step).

use dgemma_backend::{Backend, MoeRoute};

use crate::config::Config;

/// Scratch for one sequence: encoder chunks of up to `max_rows` rows and `canvas`-row denoiser
/// steps share the per-layer buffers; the `[C, V]` ones exist only for the decoder.
pub struct Scratch<B: Backend> {
    /// Rows per encoder chunk.
    pub(crate) chunk: usize,
    /// Residual stream `[rows, H]`.
    pub(crate) h: B::Buffer,
    /// Normed copy of `h` fed to a projection `[rows, H]`.
    pub(crate) a: B::Buffer,
    pub(crate) q: B::Buffer,
    pub(crate) k: B::Buffer,
    pub(crate) v: B::Buffer,
    pub(crate) attn: B::Buffer,
    /// Branch output `[rows, H]`.
    pub(crate) o: B::Buffer,
    pub(crate) gate: B::Buffer,
    pub(crate) up: B::Buffer,
    pub(crate) dense: B::Buffer,
    pub(crate) moe: B::Buffer,
    pub(crate) router_logits: B::Buffer,
    pub(crate) router_host: Vec<f32>,
    pub(crate) route: MoeRoute,
    /// Decoder: `[C, V]`, first the self-conditioning probabilities (read by the soft
    /// embedding at the start of a step), then the LM head's logits (written at its end). One
    /// buffer serves both because their lifetimes do not overlap.
    pub(crate) vocab_rows: B::Buffer,
    /// Self-conditioning probabilities under this fraction of their row's largest are dropped
    /// before the soft embedding (0 = exact; see [`Scratch::set_soft_embed_cutoff`]).
    pub(crate) soft_embed_cutoff: f32,
}

impl<B: Backend> Scratch<B> {
    /// Buffers for encoder chunks of `max_rows` rows; with `decoder`, also for denoising steps.
    pub fn new(backend: &B, cfg: &Config, max_rows: usize, decoder: bool) -> Self {
        let rows = if decoder { max_rows.max(cfg.canvas) } else { max_rows };
        let (h, e) = (cfg.hidden, cfg.experts);
        let cv = if decoder { cfg.canvas * cfg.vocab } else { 0 };
        Self {
            chunk: max_rows.max(1),
            h: backend.alloc(rows * h),
            a: backend.alloc(rows * h),
            q: backend.alloc(rows * cfg.max_q_width()),
            k: backend.alloc(rows * cfg.max_kv_width()),
            v: backend.alloc(rows * cfg.max_kv_width()),
            attn: backend.alloc(rows * cfg.max_q_width()),
            o: backend.alloc(rows * h),
            gate: backend.alloc(rows * cfg.ffn),
            up: backend.alloc(rows * cfg.ffn),
            dense: backend.alloc(rows * h),
            moe: backend.alloc(rows * h),
            router_logits: backend.alloc(rows * e),
            router_host: vec![0.0; rows * e],
            route: MoeRoute {
                rows: 0,
                k: cfg.top_k,
                n_experts: e,
                experts: vec![0; rows * cfg.top_k],
                weights: vec![0.0; rows * cfg.top_k],
            },
            vocab_rows: backend.alloc(cv),
            soft_embed_cutoff: 0.0,
        }
    }

    /// Opt-in approximation of the self-conditioning soft embedding `softmax(z) · Emb`: every
    /// probability below `cutoff ·` its row's largest is set to 0 (not renormalised), so the
    /// backend can skip vocabulary rows nobody weighs. 0 (the default) is exact; values outside
    /// `[0, 1]` or NaN are clamped into it (NaN → 0).
    pub fn set_soft_embed_cutoff(&mut self, cutoff: f32) {
        self.soft_embed_cutoff = if cutoff > 0.0 { cutoff.min(1.0) } else { 0.0 };
    }

    /// The cut set by [`Scratch::set_soft_embed_cutoff`].
    pub fn soft_embed_cutoff(&self) -> f32 {
        self.soft_embed_cutoff
    }
}
