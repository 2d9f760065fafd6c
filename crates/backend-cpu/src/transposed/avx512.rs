//! The AVX-512F parts of the soft embedding: the shared [`register_block`] tile kernel with
//! 16-float zmm vectors, 4 per register block, and the AVX-512 zero mask and Q8_0 / Q6_K tile
//! decoders.

use std::arch::x86_64::*;

use super::register_block::{self, F32Vec};
use super::{Probs, Tile};

/// 16-float vectors per register block.
const VECS: usize = 4;

/// Whether this CPU has AVX-512F (plus the AVX2/FMA the column tail uses), checked once.
pub(super) fn available() -> bool {
    use std::sync::OnceLock;
    static AVX512: OnceLock<bool> = OnceLock::new();
    *AVX512.get_or_init(|| {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    })
}

// SAFETY (every method): AVX-512F is enabled wherever the kernel runs these (the trait's
// contract; `accumulate` below enables it).
impl F32Vec for __m512 {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm512_storeu_ps(p, self) }
    }
    /// One sequential pass of 16-wide conversions and adds (prefetch-friendly), then the tail.
    #[inline(always)]
    unsafe fn flush(acc: &[f32], total: &mut [f64]) {
        let len = acc.len().min(total.len());
        let whole = len / 16 * 16;
        let (a, t) = (acc.as_ptr(), total.as_mut_ptr());
        for i in (0..whole).step_by(16) {
            // SAFETY: i + 16 ≤ len; f32 → f64 is exact, so this adds what a scalar flush adds.
            unsafe {
                let v = _mm512_loadu_ps(a.add(i));
                let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
                let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v))));
                let t = t.add(i);
                _mm512_storeu_pd(t, _mm512_add_pd(_mm512_loadu_pd(t), lo));
                _mm512_storeu_pd(t.add(8), _mm512_add_pd(_mm512_loadu_pd(t.add(8)), hi));
            }
        }
        for (t, a) in total[whole..len].iter_mut().zip(&acc[whole..len]) {
            *t += *a as f64;
        }
    }
}

/// [`register_block::accumulate`] with zmm vectors.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn accumulate(
    p: &Probs<'_>, live: &[bool], tile: &Tile<'_>, acc: &mut [f32], width: usize, first: bool,
    total: Option<&mut [f64]>,
) {
    // SAFETY: AVX-512F, AVX2 and FMA are enabled here and present (caller).
    unsafe { register_block::accumulate::<__m512, VECS>(p, live, tile, acc, width, first, total) }
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
