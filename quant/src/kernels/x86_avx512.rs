//! AVX-512 VNNI dot kernels for the 32-value formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) on x86_64
//! ([`super::Isa::Avx512`]); the K formats are in [`super::x86_avx512_k`].
//!
//! Same decoding as [`super::x86_avx2`]; what changes:
//!
//! * `vpdpbusd` (u8 x i8, groups of 4 summed straight into i32) replaces `maddubs` + `madd`.
//!   Every format runs on unsigned codes with its offset folded into the activation sums
//!   (`d·(q - 8)·a = d·q·a - 8d·a` for Q4_0); Q8_0's signed bytes become `q + 128` (flip the top
//!   bit) with offset `-128 d`, so no per-token sign fix-up is needed. The offset is added in f32
//!   (`m * s` per block), which only changes the f32 rounding (tested against the scalar kernels).
//! * Batches run two weight rows against eight activation rows ([`dot8x2_q8_blocks`]): each
//!   activation load feeds both rows, and the per-block f32 work (weight scale x activation
//!   scale, the offset term) is one vector operation for the eight rows, from a transposed
//!   table of the activation scales built once per group of tokens (`table.rs`).
//! * Vectors stay 256 bits wide (the EVEX forms use the 32 registers); 512-bit forms were not
//!   tried (Zen 4 runs them as two 256-bit halves).
//!
//! Per (weight row, activation row) pair the 1 x 1, 1 x 4 and 2 x 8 kernels perform the same
//! operations in the same order, so batches give bit-identical results to single-token calls.
//!
//! Every function is `unsafe`: callers must have checked the features (see `table.rs`).
//! Each kernel asserts that the weight slices hold the blocks it reads, so a wrong caller
//! panics instead of reading out of bounds.

use std::arch::x86_64::*;

use super::activations::BlockQ8Act;
use super::x86_avx2::{bit_mask32, hsum_ps, load256, load_f16, nibbles32};

/// Where a 32-value format keeps its per-block weight offset `m` (`weight = d * code + m`,
/// summed against the activations as `m * s`).
#[derive(Clone, Copy)]
enum Offset {
    /// `m = k * d` (symmetric formats: Q8_0 `k = -128`, Q4_0 `-8`, Q5_0 `-16`).
    ScaledD(f32),
    /// `m` is the binary16 at this byte offset of the block (Q4_1, Q5_1).
    F16At(usize),
}

impl Offset {
    /// The offset of the block at `b`.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn of(self, b: *const u8) -> f32 {
        match self {
            Offset::ScaledD(k) => k * load_f16(b),
            Offset::F16At(at) => load_f16(b.add(at)),
        }
    }
}

/// Shared loop of the 32-value formats for `N` activation rows at once. `codes(ptr)` returns
/// the 32 weight codes of the block at `ptr` as unsigned bytes; its scale `d` is the
/// binary16 at byte 0.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dot_q8_blocks<const N: usize>(
    w: &[u8],
    a: [&[BlockQ8Act]; N],
    size: usize,
    offset_at: Offset,
    codes: impl Fn(*const u8) -> __m256i,
) -> [f32; N] {
    let nb = a[0].len();
    assert!(a.iter().all(|r| r.len() == nb), "activation rows of different lengths");
    assert!(w.len() >= nb * size, "weight row shorter than its activation row");
    let mut acc = [_mm256_setzero_ps(); N];
    let mut offset = [0.0f32; N];
    for i in 0..nb {
        let b = w.as_ptr().add(i * size);
        let (u, m) = (codes(b), offset_at.of(b));
        let dw = _mm256_set1_ps(load_f16(b));
        for t in 0..N {
            let ab = a[t].get_unchecked(i);
            let qa = _mm256_loadu_si256(ab.qs.as_ptr() as *const __m256i);
            let p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, qa);
            let d = _mm256_mul_ps(dw, _mm256_set1_ps(ab.d));
            acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[t]);
            // Fused, as the eight-row kernel's vector FMA: same rounding, same result.
            offset[t] = m.mul_add(ab.s, offset[t]);
        }
    }
    let mut out = [0.0f32; N];
    for t in 0..N {
        out[t] = hsum_ps(acc[t]) + offset[t];
    }
    out
}

/// Blocks per pass of the scale pre-computation in [`dot8x2_q8_blocks`]: their weight scales
/// take two `vcvtph2ps`, and the products with the eight activation scales (2 x 512 bytes on
/// the stack) are then broadcast from memory by the token loop.
const SCALE_CHUNK: usize = 16;

/// [`dot_q8_blocks`] for two weight rows against eight activation rows, with the activation
/// block scales and sums transposed: `da[i] = [[a[t][i].d; t in 0..8], [a[t][i].s; t in 0..8]]`.
///
/// Each activation load feeds both weight rows (half the activation traffic per product), and
/// the eight products `dw * d` and eight offset terms `m * s` of a block are one vector
/// operation each instead of one per activation row. Every lane computes the same f32
/// operations as the generic loop (`dw * d` rounded, `m * s` fused into the running offset),
/// so the results are identical to single-row calls.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn dot8x2_q8_blocks(
    w: [&[u8]; 2],
    a: [&[BlockQ8Act]; 8],
    da: &[[[f32; 8]; 2]],
    size: usize,
    offset_at: Offset,
    codes: impl Fn(*const u8) -> __m256i,
) -> [[f32; 8]; 2] {
    let nb = a[0].len();
    assert!(a.iter().all(|r| r.len() == nb), "activation rows of different lengths");
    assert!(da.len() == nb, "scale table length differs from the activation rows");
    assert!(w.iter().all(|r| r.len() >= nb * size), "weight row shorter than its activation row");
    let mut acc = [[_mm256_setzero_ps(); 8]; 2];
    let mut offset = [_mm256_setzero_ps(); 2];
    // Per chunk of blocks and weight row: the products `dw * d` for the eight activation rows
    // and the offsets `m`, converted 8 blocks per `vcvtph2ps` instead of one at a time.
    let mut scale = [[[0.0f32; 8]; SCALE_CHUNK]; 2];
    let mut m = [[0.0f32; SCALE_CHUNK]; 2];
    for c0 in (0..nb).step_by(SCALE_CHUNK) {
        let len = SCALE_CHUNK.min(nb - c0);
        for r in 0..2 {
            let (mut hd, mut hm) = ([0u16; SCALE_CHUNK], [0u16; SCALE_CHUNK]);
            for j in 0..len {
                let b = w[r].as_ptr().add((c0 + j) * size);
                hd[j] = (b as *const u16).read_unaligned();
                if let Offset::F16At(at) = offset_at {
                    hm[j] = (b.add(at) as *const u16).read_unaligned();
                }
            }
            let mut dw = [0.0f32; SCALE_CHUNK];
            for h in (0..SCALE_CHUNK).step_by(8) {
                let d = _mm256_cvtph_ps(_mm_loadu_si128(hd.as_ptr().add(h) as *const __m128i));
                let mv = match offset_at {
                    Offset::ScaledD(k) => _mm256_mul_ps(d, _mm256_set1_ps(k)),
                    Offset::F16At(_) => _mm256_cvtph_ps(_mm_loadu_si128(hm.as_ptr().add(h) as *const __m128i)),
                };
                _mm256_storeu_ps(dw.as_mut_ptr().add(h), d);
                _mm256_storeu_ps(m[r].as_mut_ptr().add(h), mv);
            }
            for j in 0..len {
                let d = _mm256_loadu_ps(da.get_unchecked(c0 + j)[0].as_ptr());
                _mm256_storeu_ps(scale[r][j].as_mut_ptr(), _mm256_mul_ps(_mm256_set1_ps(dw[j]), d));
            }
        }
        for j in 0..len {
            let i = c0 + j;
            let u0 = codes(w[0].as_ptr().add(i * size));
            let u1 = codes(w[1].as_ptr().add(i * size));
            let s = _mm256_loadu_ps(da.get_unchecked(i)[1].as_ptr());
            offset[0] = _mm256_fmadd_ps(_mm256_broadcast_ss(&m[0][j]), s, offset[0]);
            offset[1] = _mm256_fmadd_ps(_mm256_broadcast_ss(&m[1][j]), s, offset[1]);
            let (sc0, sc1) = (&scale[0][j], &scale[1][j]);
            for t in 0..8 {
                let qa = _mm256_loadu_si256(a[t].get_unchecked(i).qs.as_ptr() as *const __m256i);
                let p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u0, qa);
                let p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u1, qa);
                acc[0][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc0[t]), _mm256_cvtepi32_ps(p0), acc[0][t]);
                acc[1][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&sc1[t]), _mm256_cvtepi32_ps(p1), acc[1][t]);
            }
        }
    }
    let mut out = [[0.0f32; 8]; 2];
    for r in 0..2 {
        let mut offsets = [0.0f32; 8];
        _mm256_storeu_ps(offsets.as_mut_ptr(), offset[r]);
        for t in 0..8 {
            out[r][t] = hsum_ps(acc[r][t]) + offsets[t];
        }
    }
    out
}

/// Declares the one-, four- and eight-row kernels of a 32-value format.
macro_rules! q8_kernels {
    ($one:ident, $four:ident, $eight:ident, $size:expr, $offset:expr, $doc:literal, $codes:expr) => {
        #[doc = $doc]
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(crate) unsafe fn $one(w: &[u8], a: &[BlockQ8Act]) -> f32 {
            dot_q8_blocks::<1>(w, [a], $size, $offset, $codes)[0]
        }

        #[doc = $doc]
        #[doc = "Four activation rows."]
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(crate) unsafe fn $four(w: &[u8], a: [&[BlockQ8Act]; 4]) -> [f32; 4] {
            dot_q8_blocks::<4>(w, a, $size, $offset, $codes)
        }

        #[doc = $doc]
        #[doc = "Two weight rows, eight activation rows; `da[i]` holds their block `i` scales and sums."]
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
        pub(crate) unsafe fn $eight(w: [&[u8]; 2], a: [&[BlockQ8Act]; 8], da: &[[[f32; 8]; 2]]) -> [[f32; 8]; 2] {
            dot8x2_q8_blocks(w, a, da, $size, $offset, $codes)
        }
    };
}

// Every format runs on unsigned codes, its offset folded into the activation sum:
// `d·(q - 8)·a = d·q·a - 8d·a` (Q4_0); Q8_0's signed bytes become `q + 128` (flip the top bit).
q8_kernels!(dot_q8_0, dot4_q8_0, dot8_q8_0, 34, Offset::ScaledD(-128.0), "Q8_0 weights.", |b: *const u8| {
    _mm256_xor_si256(load256(b.add(2)), _mm256_set1_epi8(-128))
});
q8_kernels!(dot_q4_0, dot4_q4_0, dot8_q4_0, 18, Offset::ScaledD(-8.0), "Q4_0 weights.", |b: *const u8| {
    nibbles32(b.add(2))
});
q8_kernels!(dot_q4_1, dot4_q4_1, dot8_q4_1, 20, Offset::F16At(2), "Q4_1 weights.", |b: *const u8| {
    nibbles32(b.add(4))
});
q8_kernels!(dot_q5_0, dot4_q5_0, dot8_q5_0, 22, Offset::ScaledD(-16.0), "Q5_0 weights.", |b: *const u8| {
    let high = bit_mask32((b.add(2) as *const u32).read_unaligned());
    _mm256_or_si256(nibbles32(b.add(6)), _mm256_and_si256(high, _mm256_set1_epi8(0x10)))
});
q8_kernels!(dot_q5_1, dot4_q5_1, dot8_q5_1, 24, Offset::F16At(2), "Q5_1 weights.", |b: *const u8| {
    let high = bit_mask32((b.add(4) as *const u32).read_unaligned());
    _mm256_or_si256(nibbles32(b.add(8)), _mm256_and_si256(high, _mm256_set1_epi8(0x10)))
});
