//! The per-layer K/V cache written by the encoder and read by both passes (model.md 5.4).
//!
//! Sliding layers keep only the last `W − 1` positions (exactly what a canvas row may see on
//! those layers), full layers keep everything up to the context size the cache was made for.

use dgemma_backend::{Backend, KvSegment};

use crate::config::Config;
use crate::error::{ModelError, Result};

/// Cached K/V of one layer: `[len, kv_heads · head_dim]` rows at positions `pos0 ..`.
struct LayerKv<B: Backend> {
    k: B::Buffer,
    v: B::Buffer,
    len: usize,
    pos0: usize,
    /// Most rows retained.
    keep: usize,
    /// Values per row.
    width: usize,
}

/// The K/V cache of one sequence.
pub struct KvCache<B: Backend> {
    layers: Vec<LayerKv<B>>,
    next_pos: usize,
    ctx: usize,
}

impl<B: Backend> KvCache<B> {
    /// A cache for sequences of up to `ctx` positions.
    pub fn new(backend: &B, cfg: &Config, ctx: usize) -> Self {
        let layers = cfg
            .layers
            .iter()
            .map(|l| {
                let keep = if l.sliding { cfg.sliding_keep().min(ctx) } else { ctx };
                let width = l.kv_heads * l.head_dim;
                LayerKv { k: backend.alloc(keep * width), v: backend.alloc(keep * width), len: 0, pos0: 0, keep, width }
            })
            .collect();
        Self { layers, next_pos: 0, ctx }
    }

    /// The position the next encoded (or denoised) row takes.
    pub fn next_pos(&self) -> usize {
        self.next_pos
    }

    /// Positions the cache was sized for.
    pub fn ctx(&self) -> usize {
        self.ctx
    }

    /// Forget everything (a new sequence).
    pub fn clear(&mut self) {
        self.next_pos = 0;
        for l in &mut self.layers {
            l.len = 0;
            l.pos0 = 0;
        }
    }

    /// Fail unless `n` more positions fit.
    pub(crate) fn check_room(&self, what: &'static str, n: usize) -> Result<()> {
        let needed = self.next_pos + n;
        if needed > self.ctx {
            return Err(ModelError::ContextFull { what, needed, ctx: self.ctx });
        }
        Ok(())
    }

    /// The cached rows of layer `l` as an attention segment.
    pub(crate) fn segment(&self, l: usize) -> KvSegment<'_, B::Buffer> {
        let c = &self.layers[l];
        KvSegment { k: &c.k, v: &c.v, len: c.len, pos0: c.pos0 }
    }

    /// Append `n` rows at positions `pos0 ..` to layer `l`, dropping the oldest rows beyond
    /// what the layer keeps.
    pub(crate) fn append(&mut self, backend: &B, l: usize, k: &B::Buffer, v: &B::Buffer, n: usize, pos0: usize) {
        let c = &mut self.layers[l];
        let w = c.width;
        let total = c.len + n;
        let drop = total - total.min(c.keep);
        if drop >= c.len {
            let skip = drop - c.len;
            backend.copy(k, skip * w, &mut c.k, 0, (n - skip) * w);
            backend.copy(v, skip * w, &mut c.v, 0, (n - skip) * w);
            c.pos0 = pos0 + skip;
            c.len = n - skip;
        } else {
            let kept = c.len - drop;
            backend.copy_within(&mut c.k, drop * w, 0, kept * w);
            backend.copy_within(&mut c.v, drop * w, 0, kept * w);
            backend.copy(k, 0, &mut c.k, kept * w, n * w);
            backend.copy(v, 0, &mut c.v, kept * w, n * w);
            c.pos0 += drop;
            c.len = kept + n;
        }
    }

    /// Mark `n` positions as encoded (after every layer has appended them).
    pub(crate) fn advance(&mut self, n: usize) {
        self.next_pos += n;
    }

    /// Copy layer `l`'s cached K and V (rows in position order) to the host, with the position
    /// of the first row (for tests and dumps).
    pub fn read_layer(&self, backend: &B, l: usize) -> (Vec<f32>, Vec<f32>, usize) {
        let c = &self.layers[l];
        let mut k = vec![0.0; c.len * c.width];
        let mut v = vec![0.0; c.len * c.width];
        backend.read(&c.k, 0, &mut k);
        backend.read(&c.v, 0, &mut v);
        (k, v, c.pos0)
    }
}
