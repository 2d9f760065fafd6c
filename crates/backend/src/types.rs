//! Plain data passed to backend ops: weight descriptions, attention geometry, masks, routes.

use std::fmt;

use dgemma_quant::GgmlType;

/// Shape of a linear weight: `experts` stacked matrices of `[rows, cols]` (`cols` is GGUF ne0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightShape {
    /// Output features (GGUF ne1).
    pub rows: usize,
    /// Input features (GGUF ne0), the contiguous dimension.
    pub cols: usize,
    /// Number of stacked matrices (GGUF ne2; 1 for plain weights).
    pub experts: usize,
}

impl fmt::Display for WeightShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.experts == 1 {
            write!(f, "[{}, {}]", self.rows, self.cols)
        } else {
            write!(f, "[{}, {}, {}]", self.experts, self.rows, self.cols)
        }
    }
}

/// Raw tensor bytes handed to [`crate::Backend::upload_weight`].
#[derive(Clone, Copy, Debug)]
pub struct WeightSource<'a> {
    /// Tensor name, for error messages.
    pub name: &'a str,
    /// Storage type.
    pub ty: GgmlType,
    /// Logical shape.
    pub shape: WeightShape,
    /// The tensor's data exactly as stored in the file.
    pub data: &'a [u8],
}

/// Head layout of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnGeometry {
    /// Query rows (tokens) in this call.
    pub rows: usize,
    /// Query heads.
    pub heads: usize,
    /// K/V heads; query head `h` reads KV head `h / (heads / kv_heads)`.
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Position of query row 0 (row `r` is at `q_pos0 + r`).
    pub q_pos0: usize,
}

/// A contiguous run of K/V rows `[len, kv_heads, head_dim]` at positions `pos0 ..`.
pub struct KvSegment<'b, B> {
    /// Keys (post-norm, post-RoPE).
    pub k: &'b B,
    /// Values (post-norm).
    pub v: &'b B,
    /// Rows used.
    pub len: usize,
    /// Position of row 0.
    pub pos0: usize,
}

impl<B> Clone for KvSegment<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B> Copy for KvSegment<'_, B> {}

/// Which keys a query may see, by position (model.md 5.3). Query at `i`, key at `j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// `j ≤ i` (encoder, full layers).
    Causal,
    /// `i − w < j ≤ i` (encoder, sliding layers).
    CausalWindow(usize),
    /// Every key (decoder; the sliding cut comes from what the cache retains).
    Bidirectional,
}

impl Mask {
    /// Whether the query at position `i` sees the key at position `j`.
    #[inline]
    pub fn allows(self, i: usize, j: usize) -> bool {
        match self {
            Mask::Causal => j <= i,
            Mask::CausalWindow(w) => j <= i && j + w > i,
            Mask::Bidirectional => true,
        }
    }
}

/// Top-k expert choice per row: `k` (expert id, weight) pairs per row, the weight already
/// including the renormalisation and the per-expert scale.
#[derive(Clone, Debug, Default)]
pub struct MoeRoute {
    /// Rows routed.
    pub rows: usize,
    /// Experts per row.
    pub k: usize,
    /// Experts in the layer.
    pub n_experts: usize,
    /// `[rows, k]` expert ids.
    pub experts: Vec<u32>,
    /// `[rows, k]` weights.
    pub weights: Vec<f32>,
}

impl MoeRoute {
    /// Expert of row `r`, pick `j`.
    #[inline]
    pub fn expert(&self, r: usize, j: usize) -> usize {
        self.experts[r * self.k + j] as usize
    }
    /// Weight of row `r`, pick `j`.
    #[inline]
    pub fn weight(&self, r: usize, j: usize) -> f32 {
        self.weights[r * self.k + j]
    }
}
