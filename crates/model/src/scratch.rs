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
    /// Decoder: `[C, V]` logits and softmax probabilities; `[C, H]` soft embedding.
    pub(crate) logits: B::Buffer,
    pub(crate) probs: B::Buffer,
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
            logits: backend.alloc(cv),
            probs: backend.alloc(cv),
        }
    }
}
