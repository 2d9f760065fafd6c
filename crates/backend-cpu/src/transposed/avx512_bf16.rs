//! The soft embedding's tile product with BF16 operands (`vdpbf16ps`), an opt-in: twice the
//! products per instruction of the f32 kernels, at bfloat16 precision for the probabilities and
//! the decoded embedding values (8 significant bits each; products summed in f32, runs in f64
//! as in the exact kernels).
//!
//! Per tile, pairs of weight rows are interleaved into bfloat16 pairs per column and each
//! activation row's probabilities into bfloat16 pairs, so one instruction adds
//! `p[r, 2i]·t[2i, c] + p[r, 2i+1]·t[2i+1, c]` to the accumulator of (r, c) for 16 columns.
//! Register blocks of [`ROWS`] activation rows × [`VECS`] vectors stay in registers across the
//! tile, as in [`super::register_block`]. The order of the sums does not depend on the thread
//! count, so results do not either.

use std::arch::x86_64::*;

use super::{Probs, Tile};

/// Activation rows per register block.
const ROWS: usize = 6;
/// 16-column vectors per register block (24 accumulators, 4 tile vectors, a broadcast).
const VECS: usize = 4;

/// Whether this CPU runs these kernels (AVX-512F/BW + BF16, with AVX2 and FMA for the rest of
/// the soft embedding).
pub(super) fn available() -> bool {
    use std::sync::OnceLock;
    static BF16: OnceLock<bool> = OnceLock::new();
    *BF16.get_or_init(|| {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512bf16")
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
    })
}

/// One task's bfloat16 copies of the current tile, reused between tiles.
#[derive(Default)]
pub(super) struct Bf16Tile {
    /// `[pair][column]`: rows `2i` (low half) and `2i + 1` (high half) of column `c`.
    weights: Vec<u32>,
    /// `[activation row][pair]`: probabilities `2i` (low half) and `2i + 1` (high half).
    probs: Vec<u32>,
}

/// `x` rounded to bfloat16 (nearest, ties to even), as its bits.
fn bf16_bits(x: f32) -> u32 {
    half::bf16::from_f32(x).to_bits() as u32
}

/// `x` rounded to bfloat16, as f32.
fn bf16_round(x: f32) -> f32 {
    half::bf16::from_f32(x).to_f32()
}

/// `acc[r, c] += Σ_j p[r, j] · tile[j, c]` at bfloat16 operand precision, with the contract of
/// [`super::register_block::accumulate`]: on the `first` tile of a run `acc` counts as zero;
/// with `total`, `total += acc` in f64 follows; rows without a `live` probability do no work.
///
/// # Safety
/// The CPU supports what [`available`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16,avx2,fma")]
#[allow(clippy::too_many_arguments)] // the kernel's operands, as the other tile kernels
pub(super) unsafe fn accumulate(
    p: &Probs<'_>, live: &[bool], tile: &Tile<'_>, acc: &mut [f32], width: usize, first: bool,
    total: Option<&mut [f64]>, bf: &mut Bf16Tile,
) {
    let n = live.len();
    let vb = p.vb;
    assert!(n > 0 && acc.len() == n * width && tile.covers(vb, width), "bf16 tile kernel: bad buffers");
    if first {
        acc.fill(0.0);
    }
    let pairs = vb.div_ceil(2);
    let nv = width / 16;
    // Interleave the tile's row pairs: one conversion of 2 × 16 floats and one 16-bit
    // permutation per 16 columns (a missing odd row is zero).
    bf.weights.clear();
    bf.weights.resize(pairs * width, 0);
    // Element k of the result takes bf16 `k / 2` of the even row (the low 16) or of the odd
    // row (the high 16): [0, 16, 1, 17, ..].
    let interleave = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0,
    );
    for i in 0..pairs {
        let even = &tile.data[2 * i * tile.stride..][..width];
        let odd = (2 * i + 1 < vb).then(|| &tile.data[(2 * i + 1) * tile.stride..][..width]);
        let out = &mut bf.weights[i * width..][..width];
        for v in 0..nv {
            // SAFETY: 16 floats at 16v lie inside the `width`-long rows, 16 u32 inside `out`.
            unsafe {
                let x0 = _mm512_loadu_ps(even.as_ptr().add(16 * v));
                let x1 = odd.map_or(_mm512_setzero_ps(), |o| _mm512_loadu_ps(o.as_ptr().add(16 * v)));
                let packed: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(x1, x0));
                _mm512_storeu_si512(out.as_mut_ptr().add(16 * v).cast(), _mm512_permutexvar_epi16(interleave, packed));
            }
        }
        for c in 16 * nv..width {
            out[c] = bf16_bits(even[c]) | odd.map_or(0, |o| bf16_bits(o[c]) << 16);
        }
    }
    bf.probs.clear();
    bf.probs.resize(n * pairs, 0);
    // Probabilities in memory order are already pairs: 32 at a time, one conversion each.
    for (r, _) in live.iter().enumerate().filter(|(_, &l)| l) {
        let row = p.row(r);
        let out = &mut bf.probs[r * pairs..][..pairs];
        for i in (0..vb).step_by(32) {
            let len = (vb - i).min(32);
            let mask = |from: usize| (((1u32 << len.saturating_sub(from).min(16)) - 1) & 0xFFFF) as __mmask16;
            // SAFETY: the masked loads read only row[i..i + len], the masked store writes only
            // out[i / 2..(i + len).div_ceil(2)] (a missing odd value converts a masked-off zero).
            unsafe {
                let lo = _mm512_maskz_loadu_ps(mask(0), row.as_ptr().add(i));
                let hi = _mm512_maskz_loadu_ps(mask(16), row.as_ptr().add(i + 16.min(len)));
                let packed: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
                let words = ((1u32 << len.div_ceil(2)) - 1) as __mmask16;
                _mm512_mask_storeu_epi32(out.as_mut_ptr().add(i / 2).cast(), words, packed);
            }
        }
    }
    let mut v0 = 0;
    while v0 < nv {
        let vecs = if v0 + VECS <= nv { VECS } else { 1 };
        let mut r0 = 0;
        while r0 < n {
            let rows = if r0 + ROWS <= n { ROWS } else { 1 };
            if live[r0..r0 + rows].iter().any(|&l| l) {
                let b = Block { pairs, width, r0, c0: 16 * v0 };
                // SAFETY: rows r0..r0 + rows < n and columns c0..c0 + 16·vecs ≤ 16·nv ≤ width
                // lie inside `acc`, `bf.weights` (pairs × width) and `bf.probs` (n × pairs).
                unsafe {
                    match (rows, vecs) {
                        (ROWS, VECS) => block::<ROWS, VECS>(b, bf, acc),
                        (ROWS, _) => block::<ROWS, 1>(b, bf, acc),
                        (_, VECS) => block::<1, VECS>(b, bf, acc),
                        _ => block::<1, 1>(b, bf, acc),
                    }
                }
            }
            r0 += rows;
        }
        v0 += vecs;
    }
    // Columns past the last whole vector: the same bfloat16 operands, summed in f32.
    for c in 16 * nv..width {
        for (r, _) in live.iter().enumerate().filter(|(_, &l)| l) {
            let row = p.row(r);
            let mut a = acc[r * width + c];
            for (j, &q) in row.iter().enumerate() {
                a += bf16_round(q) * bf16_round(tile.data[j * tile.stride + c]);
            }
            acc[r * width + c] = a;
        }
    }
    if let Some(total) = total {
        super::flush(total, acc);
    }
}

/// Where one register block lies: activation rows from `r0`, columns from `c0`.
#[derive(Clone, Copy)]
struct Block {
    pairs: usize,
    width: usize,
    r0: usize,
    c0: usize,
}

/// `R` activation rows × `V` vectors of accumulators over every pair of the tile.
///
/// # Safety
/// As [`accumulate`]; the block lies inside the buffers.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16,avx2,fma")]
unsafe fn block<const R: usize, const V: usize>(b: Block, bf: &Bf16Tile, acc: &mut [f32]) {
    unsafe {
        let a_ptr = |r: usize, v: usize| acc.as_ptr().add((b.r0 + r) * b.width + b.c0 + 16 * v);
        let mut a: [[__m512; V]; R] = std::array::from_fn(|r| std::array::from_fn(|v| _mm512_loadu_ps(a_ptr(r, v))));
        let w = bf.weights.as_ptr().add(b.c0);
        let p = bf.probs.as_ptr().add(b.r0 * b.pairs);
        for i in 0..b.pairs {
            let t: [__m512bh; V] =
                std::array::from_fn(|v| std::mem::transmute(_mm512_loadu_si512(w.add(i * b.width + 16 * v).cast())));
            for (r, ar) in a.iter_mut().enumerate() {
                let q: __m512bh = std::mem::transmute(_mm512_set1_epi32(*p.add(r * b.pairs + i) as i32));
                for (v, av) in ar.iter_mut().enumerate() {
                    *av = _mm512_dpbf16_ps(*av, q, t[v]);
                }
            }
        }
        let out = acc.as_mut_ptr();
        for (r, ar) in a.iter().enumerate() {
            for (v, av) in ar.iter().enumerate() {
                _mm512_storeu_ps(out.add((b.r0 + r) * b.width + b.c0 + 16 * v), *av);
            }
        }
    }
}
