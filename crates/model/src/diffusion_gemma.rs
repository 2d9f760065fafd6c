//! DiffusionGemma: the encoder (causal prefill that writes the K/V cache) and the denoiser
//! (bidirectional canvas pass that reads it), written once over the [`Backend`] trait.
//! Every step follows ../shared/spec/model.md; section numbers refer to it.

use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask, MoeRoute};
use dgemma_gguf::GgufFile;
use dgemma_sampler::{self_cond_probs_in_place, softmax_rows_in_place, RowStats};

use crate::config::Config;
use crate::error::{ModelError, Result};
use crate::kv_cache::KvCache;
use crate::routing::route_top_k;
use crate::scratch::Scratch;
use crate::weights::Weights;

/// Which pass a layer runs in: it picks the mask (5.3), the cache handling (5.4) and the
/// per-layer output scalar (5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Causal prefill of prompt / committed canvas rows.
    Encode,
    /// One denoising step over the canvas.
    Denoise,
}

/// Intermediate values captured for tests and dumps (rows of every chunk, concatenated).
#[derive(Debug, Default)]
pub struct Trace {
    /// `hidden[0]` is the input of layer 0, `hidden[l + 1]` the output of layer `l`; `[rows, H]`.
    pub hidden: Vec<Vec<f32>>,
    /// The routes chosen per layer.
    pub routes: Vec<Vec<MoeRoute>>,
    /// Encoder only: also compute the LM head on the encoder output (never needed to generate).
    pub want_logits: bool,
    /// `[rows, V]` encoder logits when `want_logits`.
    pub logits: Vec<f32>,
}

/// A loaded model on a backend.
pub struct Model<'a, B: Backend> {
    /// Hyper-parameters.
    pub cfg: Config,
    /// Weights, one field per tensor role.
    pub weights: Weights<'a, B>,
    backend: &'a B,
}

impl<'a, B: Backend> Model<'a, B> {
    /// Read the config and every weight of `file` onto `backend`.
    pub fn load(file: &'a GgufFile, backend: &'a B) -> Result<Self> {
        let cfg = Config::from_gguf(file)?;
        let weights = Weights::load(file, &cfg, backend)?;
        Ok(Self { cfg, weights, backend })
    }

    /// The backend the model runs on.
    pub fn backend(&self) -> &'a B {
        self.backend
    }

    /// Encoder pass (6): append `tokens` at the next positions of `cache`, in chunks of at most
    /// the scratch's row count. Only the K/V it leaves behind matter for generation.
    pub fn encode(&self, tokens: &[u32], cache: &mut KvCache<B>, s: &mut Scratch<B>, mut trace: Option<&mut Trace>) -> Result<()> {
        self.check_tokens(tokens)?;
        cache.check_room("encoding", tokens.len())?;
        let h = self.cfg.hidden;
        for chunk in tokens.chunks(s.chunk) {
            let (n, pos0) = (chunk.len(), cache.next_pos());
            self.backend.phase("embed");
            self.backend.get_rows(&self.weights.token_embd, chunk, (h as f32).sqrt(), &mut s.h);
            record(self.backend, &mut trace, 0, &s.h, n * h);
            let last = self.cfg.n_layers() - 1;
            for l in 0..self.cfg.n_layers() {
                // Only the K/V the encoder leaves behind are used (6): the last layer's attention
                // output and feed-forward are dead work unless a trace wants the hidden states.
                let kv_only = l == last && trace.is_none();
                self.layer_forward(l, Pass::Encode, n, pos0, cache, s, kv_only);
                cache.append(self.backend, l, &s.k, &s.v, n, pos0);
                record(self.backend, &mut trace, l + 1, &s.h, n * h);
                record_route(&mut trace, l, &s.route);
            }
            cache.advance(n);
            if let Some(t) = trace.as_deref_mut().filter(|t| t.want_logits) {
                let mut out = self.backend.alloc(n * self.cfg.vocab);
                self.lm_head(n, s, &mut out);
                let start = t.logits.len();
                t.logits.resize(start + n * self.cfg.vocab, 0.0);
                self.backend.read(&out, 0, &mut t.logits[start..]);
            }
        }
        Ok(())
    }

    /// Decoder pass (7): logits `[C, V]` for `canvas` placed at the cache's next positions.
    /// `self_cond` is the previous step's temperature-scaled logits `[C, V]` (none on the first
    /// step of a block). The cache is read, never written. `logits_out` also holds the
    /// self-conditioning probabilities while the step runs (no other `[C, V]` host buffer).
    pub fn denoise(
        &self,
        canvas: &[u32],
        cache: &KvCache<B>,
        self_cond: Option<&[f32]>,
        s: &mut Scratch<B>,
        logits_out: &mut [f32],
        trace: Option<&mut Trace>,
    ) -> Result<()> {
        self.check_denoise(canvas, cache, logits_out.len())?;
        if let Some(z) = self_cond {
            if z.len() != logits_out.len() {
                return Err(ModelError::BadInput { what: "self-conditioning logits", got: z.len(), expected: logits_out.len() });
            }
            self.backend.phase("self_cond.softmax");
            logits_out.copy_from_slice(z);
            softmax_rows_in_place(logits_out, self.cfg.vocab, s.soft_embed_cutoff)?;
        }
        self.denoise_from_probs(canvas, cache, self_cond.is_some(), s, logits_out, trace);
        Ok(())
    }

    /// [`Model::denoise`] for a caller that holds `z_prev` and its row statistics (the sampler):
    /// with `self_cond`, `logits` holds `z_prev` on entry and becomes `softmax(z_prev)` in place,
    /// then the step's logits. One `[C, V]` host buffer for the whole step.
    pub fn denoise_in_place(
        &self,
        canvas: &[u32],
        cache: &KvCache<B>,
        self_cond: Option<&[RowStats]>,
        s: &mut Scratch<B>,
        logits: &mut [f32],
        trace: Option<&mut Trace>,
    ) -> Result<()> {
        self.check_denoise(canvas, cache, logits.len())?;
        if let Some(stats) = self_cond {
            if stats.len() != canvas.len() {
                return Err(ModelError::BadInput { what: "self-conditioning row statistics", got: stats.len(), expected: canvas.len() });
            }
            self.backend.phase("self_cond.softmax");
            self_cond_probs_in_place(logits, self.cfg.vocab, stats, s.soft_embed_cutoff)?;
        }
        self.denoise_from_probs(canvas, cache, self_cond.is_some(), s, logits, trace);
        Ok(())
    }

    fn check_denoise(&self, canvas: &[u32], cache: &KvCache<B>, logits_len: usize) -> Result<()> {
        let (c, v) = (canvas.len(), self.cfg.vocab);
        if c == 0 || c > self.cfg.canvas {
            return Err(ModelError::BadInput { what: "canvas tokens", got: c, expected: self.cfg.canvas });
        }
        if logits_len != c * v {
            return Err(ModelError::BadInput { what: "logits buffer", got: logits_len, expected: c * v });
        }
        self.check_tokens(canvas)?;
        cache.check_room("denoising", c)
    }

    /// The checked decoder pass: `logits` holds `softmax(z_prev)` when `self_cond`, and receives
    /// the logits.
    fn denoise_from_probs(
        &self,
        canvas: &[u32],
        cache: &KvCache<B>,
        self_cond: bool,
        s: &mut Scratch<B>,
        logits: &mut [f32],
        mut trace: Option<&mut Trace>,
    ) {
        let (c, h) = (canvas.len(), self.cfg.hidden);
        let pos0 = cache.next_pos();
        self.backend.phase("embed");
        self.backend.get_rows(&self.weights.token_embd, canvas, (h as f32).sqrt(), &mut s.h);
        if self_cond {
            self.self_condition(logits, c, s);
        }
        self.backend.phase("embed");
        self.backend.rms_norm(&mut s.h, c, h, None, self.cfg.eps); // canvas rows only
        record(self.backend, &mut trace, 0, &s.h, c * h);
        for l in 0..self.cfg.n_layers() {
            self.layer_forward(l, Pass::Denoise, c, pos0, cache, s, false);
            record(self.backend, &mut trace, l + 1, &s.h, c * h);
            record_route(&mut trace, l, &s.route);
        }
        let mut out = std::mem::replace(&mut s.vocab_rows, self.backend.alloc(0));
        self.lm_head(c, s, &mut out);
        self.backend.phase("logits.read");
        self.backend.read(&out, 0, logits);
        s.vocab_rows = out;
    }

    /// One transformer layer (5) on the `n` rows in `s.h`, at positions `pos0 ..`; leaves this
    /// layer's new K/V in `s.k`/`s.v` for the encoder to append. With `kv_only` it stops there
    /// (`s.h` is then left unchanged).
    #[allow(clippy::too_many_arguments)]
    fn layer_forward(&self, l: usize, pass: Pass, n: usize, pos0: usize, cache: &KvCache<B>, s: &mut Scratch<B>, kv_only: bool) {
        let (b, w, spec, eps) = (self.backend, &self.weights.layers[l], &self.cfg.layers[l], self.cfg.eps);
        let (h, d, nh, nkv) = (self.cfg.hidden, spec.head_dim, self.cfg.heads, spec.kv_heads);
        let rope = if spec.sliding { &self.weights.rope_sliding } else { &self.weights.rope_full };

        // 5.1 attention
        b.phase("attn.qkv");
        b.copy(&s.h, 0, &mut s.a, 0, n * h);
        b.rms_norm(&mut s.a, n, h, Some(&w.attn_norm), eps);
        b.matmul(&w.attn_q, &s.a, n, &mut s.q);
        b.rms_norm(&mut s.q, n * nh, d, Some(&w.attn_q_norm), eps);
        b.rope(&mut s.q, n, nh, d, pos0, rope);
        b.matmul(&w.attn_k, &s.a, n, &mut s.k);
        match &w.attn_v {
            Some(wv) => b.matmul(wv, &s.a, n, &mut s.v),
            None => b.copy(&s.k, 0, &mut s.v, 0, n * nkv * d), // full layers: V is the raw K
        }
        b.rms_norm(&mut s.v, n * nkv, d, None, eps);
        b.rms_norm(&mut s.k, n * nkv, d, Some(&w.attn_k_norm), eps);
        b.rope(&mut s.k, n, nkv, d, pos0, rope);
        if kv_only {
            return;
        }
        let mask = match (pass, spec.sliding) {
            (Pass::Encode, true) => Mask::CausalWindow(self.cfg.window),
            (Pass::Encode, false) => Mask::Causal,
            // The sliding cut is the cache's: it holds only the last W − 1 positions.
            (Pass::Denoise, _) => Mask::Bidirectional,
        };
        let geo = AttnGeometry { rows: n, heads: nh, kv_heads: nkv, head_dim: d, q_pos0: pos0 };
        let new = KvSegment { k: &s.k, v: &s.v, len: n, pos0 };
        b.phase("attn.core");
        b.attention(&s.q, geo, cache.segment(l), new, mask, &mut s.attn);
        b.phase("attn.out");
        b.matmul(&w.attn_output, &s.attn, n, &mut s.o);
        b.rms_norm(&mut s.o, n, h, Some(&w.post_attention_norm), eps);
        b.add(&mut s.h, &s.o, n * h); // h1

        // 5.2 dense MLP
        b.phase("mlp.dense");
        b.copy(&s.h, 0, &mut s.a, 0, n * h);
        b.rms_norm(&mut s.a, n, h, Some(&w.ffn_norm), eps);
        b.matmul(&w.ffn_gate, &s.a, n, &mut s.gate);
        b.matmul(&w.ffn_up, &s.a, n, &mut s.up);
        b.gelu_mul(&mut s.gate, &s.up, n * self.cfg.ffn);
        b.matmul(&w.ffn_down, &s.gate, n, &mut s.dense);
        b.rms_norm(&mut s.dense, n, h, Some(&w.post_ffw_norm_1), eps);

        // 5.2 router (reads the raw h1) and experts (read pre_ffw_norm_2(h1))
        b.phase("moe.router");
        b.copy(&s.h, 0, &mut s.a, 0, n * h);
        b.rms_norm(&mut s.a, n, h, Some(&w.router_scale), eps);
        b.matmul(&w.router, &s.a, n, &mut s.router_logits);
        let e = self.cfg.experts;
        b.read(&s.router_logits, 0, &mut s.router_host[..n * e]);
        route_top_k(&s.router_host[..n * e], n, e, self.cfg.top_k, &w.expert_scale, &mut s.route);
        b.phase("moe.experts");
        b.copy(&s.h, 0, &mut s.a, 0, n * h);
        b.rms_norm(&mut s.a, n, h, Some(&w.pre_ffw_norm_2), eps);
        b.moe(&w.gate_up_exps, &w.down_exps, &s.a, &s.route, &mut s.moe);
        b.rms_norm(&mut s.moe, n, h, Some(&w.post_ffw_norm_2), eps);

        // h2 = (h1 + post_ffw_norm(dense + moe)) · layer_scalar
        b.phase("ffn.residual");
        b.add(&mut s.dense, &s.moe, n * h);
        b.rms_norm(&mut s.dense, n, h, Some(&w.post_ffw_norm), eps);
        b.add(&mut s.h, &s.dense, n * h);
        let scalar = match pass {
            Pass::Encode => w.encoder_scalar,
            Pass::Denoise => w.decoder_scalar,
        };
        b.scale(&mut s.h, scalar, n * h);
    }

    /// Self-conditioning (7): `h += MLP(pre_norm(p · Emb · √H))` on the canvas rows, with
    /// `p = softmax(z)` `[C, V]` formed on the host (see [`Model::denoise_in_place`]).
    fn self_condition(&self, p: &[f32], c: usize, s: &mut Scratch<B>) {
        let (b, w, cfg) = (self.backend, &self.weights, &self.cfg);
        b.phase("self_cond.soft_embed");
        b.write(&mut s.vocab_rows, 0, p);
        b.matmul_transposed(&w.token_embd, &s.vocab_rows, c, &mut s.a);
        b.scale(&mut s.a, (cfg.hidden as f32).sqrt(), c * cfg.hidden);
        b.phase("self_cond.mlp");
        b.rms_norm(&mut s.a, c, cfg.hidden, Some(&w.self_cond_pre_norm), cfg.eps);
        b.matmul(&w.self_cond_gate, &s.a, c, &mut s.gate);
        b.matmul(&w.self_cond_up, &s.a, c, &mut s.up);
        b.gelu_mul(&mut s.gate, &s.up, c * cfg.ffn);
        b.matmul(&w.self_cond_down, &s.gate, c, &mut s.o);
        b.add(&mut s.h, &s.o, c * cfg.hidden);
    }

    /// LM head (3): `softcap(Emb · output_norm(h))` for `n` rows into `out [n, V]`.
    fn lm_head(&self, n: usize, s: &mut Scratch<B>, out: &mut B::Buffer) {
        let (b, h) = (self.backend, self.cfg.hidden);
        b.phase("lm_head.matmul");
        b.copy(&s.h, 0, &mut s.a, 0, n * h);
        b.rms_norm(&mut s.a, n, h, Some(&self.weights.output_norm), self.cfg.eps);
        b.matmul(&self.weights.token_embd, &s.a, n, out);
        if let Some(cap) = self.cfg.softcap {
            b.phase("lm_head.softcap");
            b.softcap(out, cap, n * self.cfg.vocab);
        }
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<()> {
        match tokens.iter().position(|&t| t as usize >= self.cfg.vocab) {
            Some(index) => Err(ModelError::TokenOutOfRange { id: tokens[index], index, vocab: self.cfg.vocab }),
            None => Ok(()),
        }
    }
}

/// Append `n` values of `buf` to `trace.hidden[slot]`.
fn record<B: Backend>(backend: &B, trace: &mut Option<&mut Trace>, slot: usize, buf: &B::Buffer, n: usize) {
    if let Some(t) = trace.as_deref_mut() {
        if t.hidden.len() <= slot {
            t.hidden.resize_with(slot + 1, Vec::new);
        }
        let start = t.hidden[slot].len();
        t.hidden[slot].resize(start + n, 0.0);
        backend.read(buf, 0, &mut t.hidden[slot][start..]);
    }
}

fn record_route(trace: &mut Option<&mut Trace>, layer: usize, route: &MoeRoute) {
    if let Some(t) = trace.as_deref_mut() {
        if t.routes.len() <= layer {
            t.routes.resize_with(layer + 1, Vec::new);
        }
        t.routes[layer].push(route.clone());
    }
}
