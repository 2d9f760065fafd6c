//! The AVX-512F tile kernel of the soft embedding: a block of [`ROWS`] activation rows ×
//! [`VECS`]·16 columns of accumulators stays in zmm registers across all the weight rows of a
//! tile; each tile vector is loaded once per block and each probability is broadcast once.
//!
//! Every accumulator is updated by one FMA per weight row in ascending row order, exactly as in
//! the AVX2 and portable kernels, so all three give bit-identical results.

use std::arch::x86_64::*;

use super::Probs;

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

/// `acc[r, c] += Σ_j p[r, j] · tile[j, c]`: `tile` is `[p.vb, width]`, `acc` `[n, width]`.
/// Register blocks without a `live` row are skipped (exact: their probabilities are all zero).
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn accumulate(p: &Probs<'_>, live: &[bool], tile: &[f32], acc: &mut [f32], width: usize) {
    let n = live.len();
    let (vb, ps) = (p.vb, p.stride);
    assert!(
        n > 0 && acc.len() == n * width && tile.len() >= vb * width && p.x.len() >= (n - 1) * ps + p.v0 + vb,
        "tile kernel: bad buffers"
    );
    let nv = width / 16;
    let mut r0 = 0;
    while r0 < n {
        let rows = ROWS.min(n - r0);
        if !live[r0..r0 + rows].iter().any(|&l| l) {
            r0 += rows;
            continue;
        }
        let ab = &mut acc[r0 * width..(r0 + rows) * width];
        let pb = &p.x[r0 * ps + p.v0..];
        let mut v0 = 0;
        while v0 < nv {
            let vecs = VECS.min(nv - v0);
            // SAFETY: `rows` ≤ ROWS rows of probabilities (stride ps, vb each) and of `ab`, and
            // vecs·16 columns from v0·16 ≤ width, lie inside the slices (asserted above); the
            // CPU has AVX-512F (caller).
            unsafe {
                let (pp, tp, ap) = (pb.as_ptr(), tile.as_ptr().add(v0 * 16), ab.as_mut_ptr().add(v0 * 16));
                match (rows, vecs) {
                    (ROWS, VECS) => block::<ROWS, VECS>(pp, ps, vb, tp, ap, width),
                    (r, VECS) => dispatch_rows::<VECS>(r, pp, ps, vb, tp, ap, width),
                    (r, _) => dispatch_rows::<1>(r, pp, ps, vb, tp, ap, width),
                }
            }
            // A narrower remainder runs one vector at a time.
            v0 += if vecs == VECS { VECS } else { 1 };
        }
        for c in nv * 16..width {
            for r in 0..rows {
                let mut a = ab[r * width + c];
                for (j, &q) in p.row(r0 + r).iter().enumerate() {
                    a = q.mul_add(tile[j * width + c], a);
                }
                ab[r * width + c] = a;
            }
        }
        r0 += rows;
    }
}

/// [`block`] for a row count known only at run time (the last, partial register block).
#[inline(always)]
unsafe fn dispatch_rows<const V: usize>(rows: usize, p: *const f32, ps: usize, vb: usize, t: *const f32, a: *mut f32, width: usize) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match rows {
            1 => block::<1, V>(p, ps, vb, t, a, width),
            2 => block::<2, V>(p, ps, vb, t, a, width),
            3 => block::<3, V>(p, ps, vb, t, a, width),
            4 => block::<4, V>(p, ps, vb, t, a, width),
            5 => block::<5, V>(p, ps, vb, t, a, width),
            _ => block::<ROWS, V>(p, ps, vb, t, a, width),
        }
    }
}

/// One register block: `R` rows × `V` vectors of accumulators, loaded once, updated by every
/// weight row of the tile, stored once.
///
/// # Safety
/// `p` points to `R` rows (stride `ps`) of `vb` floats; `t` to `vb` rows and `a` to `R` rows (both with row
/// stride `width`) of at least `16·V` floats; the CPU has AVX-512F.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn block<const R: usize, const V: usize>(p: *const f32, ps: usize, vb: usize, t: *const f32, a: *mut f32, width: usize) {
    // SAFETY: all offsets stay inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for r in 0..R {
            for v in 0..V {
                acc[r][v] = _mm512_loadu_ps(a.add(r * width + v * 16));
            }
        }
        for j in 0..vb {
            let tj = t.add(j * width);
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

/// `total[i] += acc[i] as f64; acc[i] = 0` (the end of an f32 run), 16 lanes at a time.
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn flush(total: &mut [f64], acc: &mut [f32]) {
    for (t, a) in total.iter_mut().zip(acc.iter_mut()) {
        *t += *a as f64;
        *a = 0.0;
    }
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
