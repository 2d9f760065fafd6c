//! The `Backend` trait: the dozen ops the DiffusionGemma graph needs, and nothing else.
//!
//! Written in the spirit of ggml's `ggml-backend-impl.h`: a backend owns its device, its thread
//! pool and its buffers; the model crate holds opaque [`Backend::Buffer`]s (f32 activations) and
//! [`Backend::Weight`]s (any [`GgmlType`]) and calls ops on them, and never names a device.
//!
//! Conventions shared by every op:
//! * Activations are row-major f32 `[rows, width]`; buffers may be larger than what an op uses
//!   (scratch is allocated once per run at its maximum size), so every op takes explicit counts.
//! * A weight is a linear layer `W [rows, cols]` (GGUF `ne = [cols, rows]`), optionally a stack of
//!   `experts` such matrices. `matmul` computes `y = x · Wᵀ`, i.e. `y[r] = W x[r]`.
//! * Ops panic only on caller bugs (buffer too small); everything derived from input files is
//!   checked by the model loader before it reaches a backend.

use dgemma_quant::GgmlType;

mod profile;
mod types;

pub use profile::{PhaseTime, Profiled, UNMARKED_PHASE};
pub use types::{AttnGeometry, KvSegment, Mask, MoeRoute, WeightShape, WeightSource};

/// Errors a backend reports while loading weights.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend has no kernel for this weight type.
    #[error("tensor {name}: type {ty:?} is not supported by the {backend} backend")]
    UnsupportedType { name: String, ty: GgmlType, backend: &'static str },
    /// The byte length of a weight does not match its type and shape.
    #[error("tensor {name}: {got} bytes, expected {want} for {ty:?} {shape}")]
    BadSize { name: String, ty: GgmlType, shape: WeightShape, got: usize, want: usize },
    /// The device refused the weight (out of memory, a buffer over its limits, a device error).
    /// `requested` and `uploaded` are bytes: this weight, and the weights already on the device.
    #[error("tensor {name}: device `{device}` cannot hold {requested} more bytes ({uploaded} bytes of weights already uploaded): {message}")]
    Device { name: String, device: String, requested: u64, uploaded: u64, message: String },
}

/// A compute device with its buffers and kernels.
pub trait Backend: Send + Sync {
    /// A device buffer of f32 activations.
    type Buffer: Send + Sync;
    /// An uploaded weight. The lifetime lets a host backend borrow the memory-mapped file
    /// instead of copying it; device backends own their copy and ignore it.
    type Weight<'a>: Send + Sync
    where
        Self: 'a;

    /// Short name used in messages (`cpu`, `cuda`, ...).
    fn name(&self) -> &'static str;
    /// Number of worker threads (CPU) or 0 when not meaningful.
    fn threads(&self) -> usize;
    /// The model is entering phase `name` (attention, experts, LM head, ...): a hint for
    /// profilers such as [`Profiled`], which charge the following ops to it. Backends that do not
    /// profile ignore it (the default), so marks cost nothing.
    fn phase(&self, _name: &'static str) {}

    // ---- buffers -------------------------------------------------------------------------
    /// A zero-filled buffer of `len` f32.
    fn alloc(&self, len: usize) -> Self::Buffer;
    /// Copy host data into `buf[offset..offset + data.len()]`.
    fn write(&self, buf: &mut Self::Buffer, offset: usize, data: &[f32]);
    /// Copy `buf[offset..offset + out.len()]` to the host.
    fn read(&self, buf: &Self::Buffer, offset: usize, out: &mut [f32]);
    /// Copy `n` elements from `src[src_off..]` to `dst[dst_off..]`.
    fn copy(&self, src: &Self::Buffer, src_off: usize, dst: &mut Self::Buffer, dst_off: usize, n: usize);
    /// Move `n` elements inside one buffer from `src_off` to `dst_off` (ranges may overlap).
    fn copy_within(&self, buf: &mut Self::Buffer, src_off: usize, dst_off: usize, n: usize);

    // ---- weights -------------------------------------------------------------------------
    /// Whether `matmul` and `get_rows` accept weights of this type.
    fn supports(&self, ty: GgmlType) -> bool;
    /// Make a weight usable by the ops (the CPU backend keeps the slice it is given).
    fn upload_weight<'a>(&self, src: WeightSource<'a>) -> Result<Self::Weight<'a>, BackendError>;
    /// A weight's shape.
    fn weight_shape(&self, w: &Self::Weight<'_>) -> WeightShape;

    // ---- ops -----------------------------------------------------------------------------
    /// Embedding lookup: `out[i] = W[ids[i]] · scale` (`W` is `[vocab, width]`).
    fn get_rows(&self, w: &Self::Weight<'_>, ids: &[u32], scale: f32, out: &mut Self::Buffer);
    /// `y[r] = W x[r]` for `n` rows: `x [n, cols]`, `y [n, rows]`; f32 accumulation.
    fn matmul(&self, w: &Self::Weight<'_>, x: &Self::Buffer, n: usize, y: &mut Self::Buffer);
    /// `y = x · W` for `n` rows: `x [n, rows]`, `y [n, cols]` (the soft embedding `p · Emb`).
    fn matmul_transposed(&self, w: &Self::Weight<'_>, x: &Self::Buffer, n: usize, y: &mut Self::Buffer);
    /// RMSNorm in place over `groups` consecutive groups of `width` values:
    /// `x · (mean(x²) + eps)^(-1/2) · w` (no weight: no multiply). Per-head norms pass
    /// `groups = rows · heads`, `width = head_dim`.
    fn rms_norm(&self, x: &mut Self::Buffer, groups: usize, width: usize, weight: Option<&Self::Buffer>, eps: f32);
    /// NEOX rotary embedding in place on `x [rows, heads, head_dim]`; row `r` is at position
    /// `pos0 + r`, pair `i` rotates by `pos · freqs[i]` (`freqs [head_dim / 2]`, 0 = unrotated).
    fn rope(&self, x: &mut Self::Buffer, rows: usize, heads: usize, head_dim: usize, pos0: usize, freqs: &Self::Buffer);
    /// Scaled-by-1 dot-product attention of `q [rows, heads, d]` over the keys of `cache` followed
    /// by the keys of `new` (GQA), with `mask`; writes `out [rows, heads, d]`. Softmax in f32.
    fn attention(
        &self,
        q: &Self::Buffer,
        geo: AttnGeometry,
        cache: KvSegment<'_, Self::Buffer>,
        new: KvSegment<'_, Self::Buffer>,
        mask: Mask,
        out: &mut Self::Buffer,
    );
    /// `gate[i] = gelu_tanh(gate[i]) · up[i]` for `n` elements.
    fn gelu_mul(&self, gate: &mut Self::Buffer, up: &Self::Buffer, n: usize);
    /// Mixture of experts: `out[r] = Σ_j route.weight(r, j) · down_e(gelu(gate_e x[r]) ⊙ up_e x[r])`
    /// with `e = route.expert(r, j)`. `gate_up` is `[experts, 2I, H]` (gate rows first), `down`
    /// `[experts, H, I]`. Each expert's weights are streamed once for all rows routed to it.
    fn moe(
        &self,
        gate_up: &Self::Weight<'_>,
        down: &Self::Weight<'_>,
        x: &Self::Buffer,
        route: &MoeRoute,
        out: &mut Self::Buffer,
    );
    /// `dst[i] += src[i]` for `n` elements.
    fn add(&self, dst: &mut Self::Buffer, src: &Self::Buffer, n: usize);
    /// `x[i] *= s` for `n` elements.
    fn scale(&self, x: &mut Self::Buffer, s: f32, n: usize);
    /// `x[i] = cap · tanh(x[i] / cap)` for `n` elements.
    fn softcap(&self, x: &mut Self::Buffer, cap: f32, n: usize);
    /// Row softmax in f32: `out[r] = softmax(x[r])` for `rows` rows of `width`.
    fn softmax(&self, x: &Self::Buffer, out: &mut Self::Buffer, rows: usize, width: usize);
}
