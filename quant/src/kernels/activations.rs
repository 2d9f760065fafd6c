//! Activation rows prepared for the dot kernels: quantized to 8 bits once per call so that the
//! inner loops are integer dot products (ggml's Q8_0 / Q8_1 / Q8_K scheme).

use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;

use super::KernelError;
use crate::blocks::{BlockQ8K, QK8_0, QK_K};
use crate::types::GgmlType;

/// 32 activations as `d * qs[j]`, with `s = d * sum(qs)` for the offset term of Q4_1 / Q5_1.
///
/// ggml keeps `d` (and `s`, in its Q8_1) as f16; this keeps f32, which is free here (the
/// activations never leave memory in this form) and removes one rounding from every block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ8Act {
    /// Scale: `amax / 127`.
    pub d: f32,
    /// `d * sum(qs)`.
    pub s: f32,
    /// Quantized values in `-127..=127`.
    pub qs: [i8; QK8_0],
}

/// Which activation format a weight type is dotted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActKind {
    F32,
    Q8,
    Q8K,
}

impl ActKind {
    pub(crate) fn for_weight(ty: GgmlType) -> Result<ActKind, KernelError> {
        use GgmlType::*;
        match ty {
            F32 | F16 | BF16 => Ok(ActKind::F32),
            Q8_0 | Q4_0 | Q4_1 | Q5_0 | Q5_1 => Ok(ActKind::Q8),
            Q4_K | Q5_K | Q6_K => Ok(ActKind::Q8K),
            other => Err(KernelError::UnsupportedType(other)),
        }
    }
}

/// `n` activation rows of `cols` values, prepared for weights of one type.
///
/// Prepare once and reuse for several weight matrices of the same type and width (e.g. every
/// expert a token is routed to). [`Activations::prepare`] reuses the buffers, so a long-lived
/// `Activations` does not allocate once it has grown to the largest batch.
#[derive(Clone, Debug)]
pub struct Activations {
    ty: GgmlType,
    kind: ActKind,
    n: usize,
    cols: usize,
    f32s: Vec<f32>,
    q8: Vec<BlockQ8Act>,
    q8k: Vec<BlockQ8K>,
}

impl Default for Activations {
    fn default() -> Self {
        Self::new()
    }
}

impl Activations {
    /// An empty set (zero rows), ready for [`Activations::prepare`].
    pub fn new() -> Self {
        Activations {
            ty: GgmlType::F32,
            kind: ActKind::F32,
            n: 0,
            cols: 0,
            f32s: Vec::new(),
            q8: Vec::new(),
            q8k: Vec::new(),
        }
    }

    /// Prepare `x` (`n` rows of `cols`, row-major) for weights of type `ty`.
    pub fn quantize(ty: GgmlType, x: &[f32], n: usize, cols: usize) -> Result<Self, KernelError> {
        let mut acts = Self::new();
        acts.prepare(ty, x, n, cols)?;
        Ok(acts)
    }

    /// As [`Activations::quantize`], reusing this value's buffers.
    pub fn prepare(
        &mut self,
        ty: GgmlType,
        x: &[f32],
        n: usize,
        cols: usize,
    ) -> Result<(), KernelError> {
        let kind = ActKind::for_weight(ty)?;
        super::driver::check_width(ty, cols)?;
        let total = n.checked_mul(cols).ok_or(KernelError::Overflow { what: "activations" })?;
        if x.len() != total {
            return Err(KernelError::Length { what: "activations (n * cols)", expected: total, got: x.len() });
        }
        // Mark empty first so an early return never leaves stale rows labelled as valid.
        self.n = 0;
        match kind {
            ActKind::F32 => {
                self.f32s.clear();
                self.f32s.extend_from_slice(x);
            }
            ActKind::Q8 => {
                self.q8.resize(total / QK8_0, BlockQ8Act::default());
                fill_rows(&mut self.q8, x, cols / QK8_0, cols, quantize_q8_act);
            }
            ActKind::Q8K => {
                self.q8k.resize(total / QK_K, BlockQ8K::zeroed());
                fill_rows(&mut self.q8k, x, cols / QK_K, cols, quantize_q8_k);
            }
        }
        self.ty = ty;
        self.kind = kind;
        self.n = n;
        self.cols = cols;
        Ok(())
    }

    /// Number of rows (tokens).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Values per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The weight type these activations were prepared for.
    pub fn weight_type(&self) -> GgmlType {
        self.ty
    }

    pub(crate) fn kind(&self) -> ActKind {
        self.kind
    }

    pub(crate) fn f32_row(&self, t: usize) -> &[f32] {
        &self.f32s[t * self.cols..(t + 1) * self.cols]
    }

    pub(crate) fn q8_row(&self, t: usize) -> &[BlockQ8Act] {
        let nb = self.cols / QK8_0;
        &self.q8[t * nb..(t + 1) * nb]
    }

    pub(crate) fn q8k_row(&self, t: usize) -> &[BlockQ8K] {
        let nb = self.cols / QK_K;
        &self.q8k[t * nb..(t + 1) * nb]
    }
}

/// Quantize every row of `x` into `out`, rows in parallel when there are several.
fn fill_rows<B: Send>(
    out: &mut [B],
    x: &[f32],
    blocks_per_row: usize,
    cols: usize,
    quantize_row: fn(&[f32], &mut [B]),
) {
    if blocks_per_row == 0 {
        return;
    }
    out.par_chunks_mut(blocks_per_row)
        .zip(x.par_chunks(cols))
        .with_min_len(4)
        .for_each(|(o, xr)| quantize_row(xr, o));
}

/// `v` rounded to the nearest integer, ties to even, for |v| <= 2^22 (here |v| <= 127).
///
/// Adding and subtracting 1.5 * 2^23 leaves no fraction bits, so the FPU rounds; unlike
/// `f32::round` (a libm call on baseline x86_64) this vectorizes.
#[inline]
fn round_small(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// Symmetric 8-bit quantization of 32-value blocks (ggml `quantize_row_q8_0`, f32 scale).
pub(crate) fn quantize_q8_act(x: &[f32], out: &mut [BlockQ8Act]) {
    for (xb, ob) in x.chunks_exact(QK8_0).zip(out.iter_mut()) {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (q, &v) in ob.qs.iter_mut().zip(xb) {
            // `as` saturates and maps NaN to 0, so hostile inputs cannot wrap.
            *q = round_small(v * id) as i8;
            sum += *q as i32;
        }
        ob.d = d;
        ob.s = d * sum as f32;
    }
}

/// Symmetric 8-bit quantization of 256-value blocks with sums of each 16 (ggml
/// `quantize_row_q8_K`; this one uses `amax / 127` so values stay in `-127..=127`).
pub(crate) fn quantize_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    for (xb, ob) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        for (q, &v) in ob.qs.iter_mut().zip(xb) {
            *q = round_small(v * id) as i8;
        }
        for (s, qs) in ob.bsums.iter_mut().zip(ob.qs.chunks_exact(16)) {
            *s = qs.iter().map(|&q| q as i16).sum();
        }
        ob.d = d;
    }
}
