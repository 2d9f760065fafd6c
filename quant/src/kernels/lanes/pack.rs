//! Activation rows regrouped for the token-lane kernels: slabs of sixteen tokens, one token per
//! 32-bit lane.
//!
//! In slab `s`, dword `k` of the row (values `4k..4k + 4`) of its sixteen tokens is one 512-bit
//! vector (or two 256-bit ones of eight), so the kernel multiplies four broadcast weight bytes
//! by the same four positions of sixteen tokens in one `vpdpbusd`. Per slab it also keeps, with
//! the tokens in lanes, each activation block's scale `d`, each sub-block's integer sum `Σq`
//! (for the weight formats' zero code) and, as f32, each 32-value sub-block's `Σq` (for their
//! offsets). A slab short of sixteen tokens is padded with zero rows, whose results are
//! discarded.

use crate::blocks::QK_K;
use crate::kernels::activations::{ActKind, Activations};

/// Tokens per slab: the lanes of a 512-bit vector of i32.
pub(crate) const STRIDE: usize = 16;

/// A batch of activation rows in token-lane order (see the module docs). Reused between calls:
/// [`LaneActs::pack`] only grows the buffers.
#[derive(Default)]
pub(crate) struct LaneActs {
    /// Tokens packed (the valid lanes in all groups).
    pub(crate) n: usize,
    /// Dwords per row (`cols / 4`).
    pub(crate) dwords: usize,
    /// Values per sub-block of `isum`: 32 (Q8_0-style activations) or 16 (Q8_K).
    pub(crate) isum_span: usize,
    /// Values per activation block (one scale): 32 or 256.
    pub(crate) act_block: usize,
    /// `[slab][dword][lane]`: four quantized activations per i32.
    pub(crate) codes: Vec<i32>,
    /// `[slab][activation block][lane]`: the activation scale.
    pub(crate) d: Vec<f32>,
    /// `[slab][isum sub-block][lane]`: the sum of the quantized values.
    pub(crate) isum: Vec<i32>,
    /// `[slab][32-value sub-block][lane]`: the sum of the quantized values, as f32.
    pub(crate) qsum: Vec<f32>,
}

impl LaneActs {
    /// Tokens including the padding of the last slab.
    pub(crate) fn padded(&self) -> usize {
        self.n.div_ceil(STRIDE) * STRIDE
    }

    /// Packs the activation rows `token(0..n)` of `acts` (quantized, not F32), in that order.
    pub(crate) fn pack(&mut self, acts: &Activations, n: usize, token: impl Fn(usize) -> usize) {
        let cols = acts.cols();
        let (isum_span, act_block) = match acts.kind() {
            ActKind::Q8 => (32, 32),
            ActKind::Q8K => (16, QK_K),
            ActKind::F32 => unreachable!("token-lane kernels only take quantized activations"),
        };
        let groups = n.div_ceil(STRIDE);
        self.n = n;
        self.dwords = cols / 4;
        self.isum_span = isum_span;
        self.act_block = act_block;
        let resize_i = |v: &mut Vec<i32>, len: usize| {
            v.clear();
            v.resize(len, 0);
        };
        let resize_f = |v: &mut Vec<f32>, len: usize| {
            v.clear();
            v.resize(len, 0.0);
        };
        resize_i(&mut self.codes, groups * self.dwords * STRIDE);
        resize_f(&mut self.d, groups * (cols / act_block) * STRIDE);
        resize_i(&mut self.isum, groups * (cols / isum_span) * STRIDE);
        resize_f(&mut self.qsum, groups * (cols / 32) * STRIDE);
        for i in 0..n {
            let (g, lane) = (i / STRIDE, i % STRIDE);
            let t = token(i);
            let codes = &mut self.codes[g * self.dwords * STRIDE..][..self.dwords * STRIDE];
            let d = &mut self.d[g * (cols / act_block) * STRIDE..][..(cols / act_block) * STRIDE];
            let isum = &mut self.isum[g * (cols / isum_span) * STRIDE..][..(cols / isum_span) * STRIDE];
            let qsum = &mut self.qsum[g * (cols / 32) * STRIDE..][..(cols / 32) * STRIDE];
            match acts.kind() {
                ActKind::Q8 => {
                    for (b, blk) in acts.q8_row(t).iter().enumerate() {
                        for k in 0..8 {
                            codes[(8 * b + k) * STRIDE + lane] = dword(&blk.qs[4 * k..4 * k + 4]);
                        }
                        let sum: i32 = blk.qs.iter().map(|&q| q as i32).sum();
                        d[b * STRIDE + lane] = blk.d;
                        isum[b * STRIDE + lane] = sum;
                        qsum[b * STRIDE + lane] = sum as f32;
                    }
                }
                ActKind::Q8K => {
                    for (b, blk) in acts.q8k_row(t).iter().enumerate() {
                        for k in 0..64 {
                            codes[(64 * b + k) * STRIDE + lane] = dword(&blk.qs[4 * k..4 * k + 4]);
                        }
                        d[b * STRIDE + lane] = blk.d;
                        for (j, &s) in blk.bsums.iter().enumerate() {
                            isum[(16 * b + j) * STRIDE + lane] = s as i32;
                        }
                        for j in 0..8 {
                            let s = blk.bsums[2 * j] as i32 + blk.bsums[2 * j + 1] as i32;
                            qsum[(8 * b + j) * STRIDE + lane] = s as f32;
                        }
                    }
                }
                ActKind::F32 => unreachable!(),
            }
        }
    }
}

/// Four bytes as the little-endian i32 the kernels load.
#[inline]
fn dword(q: &[i8]) -> i32 {
    i32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8])
}
