//! The AVX-512F tile kernel of the soft embedding: a block of [`ROWS`] activation rows ×
//! [`VECS`]·16 columns of accumulators stays in zmm registers across all the weight rows of a
//! tile; each tile vector is loaded once per block and each probability is broadcast once.
//!
//! Every accumulator is updated by one FMA per weight row in ascending row order, exactly as in
//! the AVX2 and portable kernels, so all three give bit-identical results.

use std::arch::x86_64::*;

use super::{Probs, Tile};

/// Activation rows per register block.
pub(super) const ROWS: usize = 6;
/// 16-float vectors per register block: ROWS × VECS = 24 accumulators + VECS tile vectors fit
/// the 32 zmm registers with room for the broadcast probabilities.
pub(super) const VECS: usize = 4;

/// Whether this CPU has AVX-512F (plus the AVX2/FMA the column tail uses), checked once.
pub(super) fn available() -> bool {
    use std::sync::OnceLock;
    static AVX512: OnceLock<bool> = OnceLock::new();
    *AVX512.get_or_init(|| {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    })
}

/// `acc[r, c] += Σ_j p[r, j] · tile[j, c]`: `tile` has `p.vb` rows of `width`, `acc` and `total`
/// `[n, width]`. On the first tile of a run `acc` counts as zero (its contents are not read);
/// on the last, `total += acc` in f64 follows (`acc` is left holding the run's sums; the next
/// run's first tile ignores them). Register blocks without a `live` row do no FMAs (exact:
/// their probabilities are all zero).
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn accumulate(
    p: &Probs<'_>, live: &[bool], tile: &Tile<'_>, acc: &mut [f32], width: usize, first: bool,
    total: Option<&mut [f64]>,
) {
    let n = live.len();
    let (vb, ps) = (p.vb, p.stride);
    assert!(
        n > 0
            && acc.len() == n * width
            && total.as_ref().is_none_or(|t| t.len() == n * width)
            && tile.covers(vb, width)
            && p.x.len() >= (n - 1) * ps + p.v0 + vb,
        "tile kernel: bad buffers"
    );
    let last = total.is_some();
    let nv = width / 16;
    // Column chunks outside, register blocks inside: the chunk's slice of the tile
    // (vb × 64 floats, 16 KiB) stays in L1 while every row block streams past it.
    let mut v0 = 0;
    while v0 < nv {
        let vecs = VECS.min(nv - v0);
        let mut r0 = 0;
        while r0 < n {
            let rows = ROWS.min(n - r0);
            let any = live[r0..r0 + rows].iter().any(|&l| l);
            if any || first || last {
                let off = r0 * width + v0 * 16;
                // SAFETY: `rows` ≤ ROWS rows of probabilities (stride ps, vb each, from
                // r0·ps + v0) and of `acc`/`total` (from r0·width), and vecs·16 columns from
                // v0·16 ≤ width, lie inside the slices (asserted above); the CPU has AVX-512F
                // (caller).
                unsafe {
                    let b = Block {
                        p: p.x.as_ptr().add(r0 * ps + p.v0),
                        ps,
                        vb: if any { vb } else { 0 },
                        t: tile.data.as_ptr().add(v0 * 16),
                        ts: tile.stride,
                        a: acc.as_mut_ptr().add(off),
                        width,
                        first,
                    };
                    match (rows, vecs) {
                        (ROWS, VECS) => block::<ROWS, VECS>(b),
                        (r, VECS) => dispatch_rows::<VECS>(r, b),
                        (r, _) => dispatch_rows::<1>(r, b),
                    }
                }
            }
            r0 += rows;
        }
        // A narrower remainder runs one vector at a time.
        v0 += if vecs == VECS { VECS } else { 1 };
    }
    for c in nv * 16..width {
        for (r, &l) in live.iter().enumerate() {
            let i = r * width + c;
            let mut a = if first { 0.0 } else { acc[i] };
            if l {
                for (j, &q) in p.row(r).iter().enumerate() {
                    a = q.mul_add(tile.data[j * tile.stride + c], a);
                }
            }
            acc[i] = a;
        }
    }
    if let Some(total) = total {
        // A sequential pass (prefetch-friendly) rather than one per register block.
        // SAFETY: both hold n·width values (asserted above), a multiple of 16 plus a tail.
        let whole = acc.len() / 16 * 16;
        unsafe { flush_row(acc.as_ptr(), total.as_mut_ptr(), whole) };
        for (t, a) in total[whole..].iter_mut().zip(&acc[whole..]) {
            *t += *a as f64;
        }
    }
}

/// One register block's operands: `p` → `R` rows (stride `ps`) of `vb` probabilities; `t` →
/// `vb` tile rows (stride `ts`), `a` → `R` accumulator rows (stride `width`), both of at least
/// `16·V` columns.
#[derive(Clone, Copy)]
struct Block {
    p: *const f32,
    ps: usize,
    vb: usize,
    t: *const f32,
    ts: usize,
    a: *mut f32,
    width: usize,
    /// Start from zero instead of loading `a`.
    first: bool,
}

/// [`block`] for a row count known only at run time (the last, partial register block).
#[inline(always)]
unsafe fn dispatch_rows<const V: usize>(rows: usize, b: Block) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match rows {
            1 => block::<1, V>(b),
            2 => block::<2, V>(b),
            3 => block::<3, V>(b),
            4 => block::<4, V>(b),
            5 => block::<5, V>(b),
            _ => block::<ROWS, V>(b),
        }
    }
}

/// One register block: `R` rows × `V` vectors of accumulators, loaded once (or zero), updated
/// by every weight row of the tile, stored once.
///
/// # Safety
/// The pointers of `b` cover what [`Block`] says; the CPU has AVX-512F.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
// Index loops over const-sized register arrays: the compiler unrolls them and keeps every
// element in a register.
#[allow(clippy::needless_range_loop)]
unsafe fn block<const R: usize, const V: usize>(b: Block) {
    let Block { p, ps, vb, t, ts, a, width, first } = b;
    // SAFETY: all offsets stay inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for r in 0..R {
            for v in 0..V {
                if !first {
                    acc[r][v] = _mm512_loadu_ps(a.add(r * width + v * 16));
                }
            }
        }
        for j in 0..vb {
            let tj = t.add(j * ts);
            let mut tv = [_mm512_setzero_ps(); V];
            for v in 0..V {
                tv[v] = _mm512_loadu_ps(tj.add(v * 16));
            }
            for r in 0..R {
                let q = _mm512_set1_ps(*p.add(r * ps + j));
                for v in 0..V {
                    acc[r][v] = _mm512_fmadd_ps(q, tv[v], acc[r][v]);
                }
            }
        }
        for r in 0..R {
            for v in 0..V {
                _mm512_storeu_ps(a.add(r * width + v * 16), acc[r][v]);
            }
        }
    }
}

/// `total[i] += a[i] as f64` for `len` (a multiple of 16) values.
///
/// # Safety
/// Both pointers cover `len` values; the CPU has AVX-512F.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn flush_row(a: *const f32, total: *mut f64, len: usize) {
    for i in (0..len).step_by(16) {
        // SAFETY: i + 16 ≤ len; f32 → f64 is exact, so this adds what a scalar flush adds.
        unsafe {
            let v = _mm512_loadu_ps(a.add(i));
            let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
            let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v))));
            let t = total.add(i);
            _mm512_storeu_pd(t, _mm512_add_pd(_mm512_loadu_pd(t), lo));
            _mm512_storeu_pd(t.add(8), _mm512_add_pd(_mm512_loadu_pd(t.add(8)), hi));
        }
    }
}

/// [`Probs::nonzero`] with 16 comparisons per instruction (the tile is [`super::VB`] ≤ 64 wide).
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn nonzero(p: &Probs<'_>, live: &mut [bool]) -> u64 {
    let mut used = 0u64;
    for (r, l) in live.iter_mut().enumerate() {
        let row = p.row(r);
        let mut m = 0u64;
        for (i, c) in row.chunks(16).enumerate() {
            let lanes = (1u32 << c.len()) - 1;
            // SAFETY: the masked load reads only the c.len() ≤ 16 floats of `c`.
            let v = unsafe { _mm512_maskz_loadu_ps(lanes as __mmask16, c.as_ptr()) };
            // Unordered: NaN counts as non-zero, as `q != 0.0` does.
            m |= (_mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, _mm512_setzero_ps()) as u64) << (16 * i);
        }
        *l = m != 0;
        used |= m;
    }
    used
}

/// Bytes of one Q8_0 block: an f16 scale and 32 signed bytes.
const Q8_0_BYTES: usize = 34;

/// Q8_0 blocks to f32 (`q · d`, the same products as the quant crate's `dequantize`), 16 at a
/// time.
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn decode_q8_0(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(Q8_0_BYTES).zip(dst.chunks_exact_mut(32)) {
        let d = _mm512_set1_ps(half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32());
        let q = &b[2..Q8_0_BYTES];
        for h in 0..2 {
            // SAFETY: 16 bytes at q[16h..] and 16 floats at y[16h..] lie inside the 32-wide
            // block and its output.
            unsafe {
                let bytes = _mm_loadu_si128(q.as_ptr().add(16 * h).cast());
                let v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes));
                _mm512_storeu_ps(y.as_mut_ptr().add(16 * h), _mm512_mul_ps(v, d));
            }
        }
    }
}

/// Bytes of one Q6_K block: 128 low-nibble bytes, 64 high-bit bytes, 16 i8 scales, f16 scale.
const Q6_K_BYTES: usize = 210;

/// Q6_K blocks to f32, 16 at a time, with the quant crate's arithmetic (`(d · scale) · q`, in
/// that order, all in f32), so the values are bit-identical.
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn decode_q6_k(src: &[u8], dst: &mut [f32]) {
    let (low4, low2, bias) = (_mm512_set1_epi32(0xF), _mm512_set1_epi32(3), _mm512_set1_epi32(32));
    for (b, y) in src.chunks_exact(Q6_K_BYTES).zip(dst.chunks_exact_mut(256)) {
        let d = half::f16::from_bits(u16::from_le_bytes([b[208], b[209]])).to_f32();
        for h in 0..2 {
            let (ql, qh, sc) = (&b[64 * h..64 * h + 64], &b[128 + 32 * h..160 + 32 * h], &b[192 + 8 * h..200 + 8 * h]);
            let out = &mut y[128 * h..128 * h + 128];
            for g in 0..2 {
                // SAFETY: 16-byte loads at ql[16g], ql[32 + 16g], qh[16g] and 16-float stores at
                // out[16g + 32m] stay inside the 64-, 32- and 128-element slices.
                unsafe {
                    let widen = |s: &[u8], at: usize| _mm512_cvtepu8_epi32(_mm_loadu_si128(s.as_ptr().add(at).cast()));
                    let (lo, hi, top) = (widen(ql, 16 * g), widen(ql, 32 + 16 * g), widen(qh, 16 * g));
                    let q = [
                        _mm512_or_si512(_mm512_and_si512(lo, low4), _mm512_slli_epi32::<4>(_mm512_and_si512(top, low2))),
                        _mm512_or_si512(
                            _mm512_and_si512(hi, low4),
                            _mm512_slli_epi32::<4>(_mm512_and_si512(_mm512_srli_epi32::<2>(top), low2)),
                        ),
                        _mm512_or_si512(
                            _mm512_srli_epi32::<4>(lo),
                            _mm512_slli_epi32::<4>(_mm512_and_si512(_mm512_srli_epi32::<4>(top), low2)),
                        ),
                        _mm512_or_si512(
                            _mm512_srli_epi32::<4>(hi),
                            _mm512_slli_epi32::<4>(_mm512_and_si512(_mm512_srli_epi32::<6>(top), low2)),
                        ),
                    ];
                    for (m, qm) in q.into_iter().enumerate() {
                        let s = _mm512_set1_ps(d * (sc[g + 2 * m] as i8) as f32);
                        let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(qm, bias));
                        _mm512_storeu_ps(out.as_mut_ptr().add(16 * g + 32 * m), _mm512_mul_ps(s, v));
                    }
                }
            }
        }
    }
}
