//! The token-lane micro-kernel: `R` decoded weight rows x `T` vectors of tokens, AVX-512 VNNI
//! on 512-bit vectors (16 tokens, [`Zmm`]) or, for a last group of eight, 256-bit ones ([`Ymm`]).
//!
//! Per sub-block `j` (32 or 16 values, one weight scale) and (row, vector) pair, the i32 lanes
//! start at `-K·Σq` (the zero code times the tokens' activation sums, which makes the integer
//! sum exact for the true weight values) and take one `vpdpbusd` per four values: the row's
//! four code bytes broadcast, times the same four positions of every token in the vector. The
//! sum then goes to f32 once: `block += f32(int) * scale[j]`, plus `offset[j] * Σq` for formats
//! with an offset, and each activation block adds `block * d` to the result. So the float work
//! is two or three operations per sub-block for a whole vector of tokens, where the row-lane
//! kernels ([`super::super::x86_avx512`]) need two per token.
//!
//! Per (row, token) the operations and their order depend only on that row and that token's
//! activations: not on the other tokens, the token's lane or vector width, `R`, `T` or the
//! thread count.

use std::arch::x86_64::*;

use super::pack::{LaneActs, STRIDE};

/// Decoded weight rows: row `r`'s codes at `codes[r * stride..][..cols]`, its sub-block scales
/// and offsets at `scale[r * subs..][..subs]`, `offset[..]` likewise.
pub(crate) struct Tile<'a> {
    pub(crate) codes: &'a [u8],
    pub(crate) stride: usize,
    pub(crate) scale: &'a [f32],
    pub(crate) offset: &'a [f32],
    pub(crate) subs: usize,
}

/// The integer and f32 vector operations of the kernel, on one vector width.
///
/// The methods are `#[inline(always)]` wrappers of intrinsics: they may only run inside a
/// function whose `#[target_feature]` enables AVX-512 F/BW/VL and VNNI, which is what makes
/// them `unsafe`. Per lane both widths perform the same operations, so they give the same bits.
pub(crate) trait LaneVec {
    /// Tokens per vector.
    const LANES: usize;
    type I: Copy;
    type F: Copy;
    unsafe fn zero_i() -> Self::I;
    unsafe fn zero_f() -> Self::F;
    unsafe fn load_i(p: *const i32) -> Self::I;
    unsafe fn load_f(p: *const f32) -> Self::F;
    unsafe fn splat_i(x: i32) -> Self::I;
    unsafe fn splat_f(x: f32) -> Self::F;
    /// `acc` plus, per i32 lane, the four products of `u`'s unsigned and `s`'s signed bytes.
    unsafe fn dpbusd(acc: Self::I, u: Self::I, s: Self::I) -> Self::I;
    unsafe fn mullo(a: Self::I, b: Self::I) -> Self::I;
    unsafe fn to_f(a: Self::I) -> Self::F;
    /// `a · b + c` with one rounding.
    unsafe fn fmadd(a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    unsafe fn store_f(v: Self::F, p: *mut f32);
}

/// 16 tokens per 512-bit vector.
pub(crate) struct Zmm;
/// 8 tokens per 256-bit vector.
pub(crate) struct Ymm;

impl LaneVec for Zmm {
    const LANES: usize = 16;
    type I = __m512i;
    type F = __m512;
    #[inline(always)]
    unsafe fn zero_i() -> __m512i {
        unsafe { _mm512_setzero_si512() }
    }
    #[inline(always)]
    unsafe fn zero_f() -> __m512 {
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load_i(p: *const i32) -> __m512i {
        unsafe { _mm512_loadu_si512(p as *const __m512i) }
    }
    #[inline(always)]
    unsafe fn load_f(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn splat_i(x: i32) -> __m512i {
        unsafe { _mm512_set1_epi32(x) }
    }
    #[inline(always)]
    unsafe fn splat_f(x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn dpbusd(acc: __m512i, u: __m512i, s: __m512i) -> __m512i {
        unsafe { _mm512_dpbusd_epi32(acc, u, s) }
    }
    #[inline(always)]
    unsafe fn mullo(a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_mullo_epi32(a, b) }
    }
    #[inline(always)]
    unsafe fn to_f(a: __m512i) -> __m512 {
        unsafe { _mm512_cvtepi32_ps(a) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn store_f(v: __m512, p: *mut f32) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
}

impl LaneVec for Ymm {
    const LANES: usize = 8;
    type I = __m256i;
    type F = __m256;
    #[inline(always)]
    unsafe fn zero_i() -> __m256i {
        unsafe { _mm256_setzero_si256() }
    }
    #[inline(always)]
    unsafe fn zero_f() -> __m256 {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load_i(p: *const i32) -> __m256i {
        unsafe { _mm256_loadu_si256(p as *const __m256i) }
    }
    #[inline(always)]
    unsafe fn load_f(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn splat_i(x: i32) -> __m256i {
        unsafe { _mm256_set1_epi32(x) }
    }
    #[inline(always)]
    unsafe fn splat_f(x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        unsafe { _mm256_dpbusd_epi32(acc, u, s) }
    }
    #[inline(always)]
    unsafe fn mullo(a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_mullo_epi32(a, b) }
    }
    #[inline(always)]
    unsafe fn to_f(a: __m256i) -> __m256 {
        unsafe { _mm256_cvtepi32_ps(a) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn store_f(v: __m256, p: *mut f32) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
}

/// `R` tile rows against `T` vectors of `V::LANES` tokens starting at packed token `t0` (a
/// multiple of `V::LANES`); returns `out[r][t * V::LANES + lane]`.
///
/// `S4`: dwords per sub-block (8 for 32 values, 4 for 16); `ZERO`: the format has a zero code
/// (`K != 0`, applied through the activation sums); `OFF`: it has per-sub-block offsets.
///
/// # Safety
/// The CPU has AVX2, FMA, AVX-512 F/BW/VL and VNNI. (The shapes are checked: a `tile` or `acts`
/// too small for the call panics.)
#[inline]
#[allow(clippy::needless_range_loop)] // (row, vector) indices address several arrays at once
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn panel<V: LaneVec, const R: usize, const T: usize, const S4: usize, const ZERO: bool, const OFF: bool>(
    tile: &Tile<'_>,
    acts: &LaneActs,
    zero_code: i32,
    subs_per_act_block: usize,
    t0: usize,
    out: &mut [[f32; 32]; R],
) {
    let subs = tile.subs;
    let cols = subs * 4 * S4;
    assert!(T * V::LANES <= 32 && t0.is_multiple_of(V::LANES), "token vectors out of shape");
    assert!(tile.codes.len() >= (R - 1) * tile.stride + cols && tile.scale.len() >= R * subs, "tile too small");
    assert!(!OFF || tile.offset.len() >= R * subs, "tile offsets missing");
    assert!(acts.dwords * 4 == cols && t0 + T * V::LANES <= acts.padded(), "activation tokens out of range");
    assert!(!ZERO || acts.isum_span == 4 * S4, "activation sums of another span");
    assert!(!OFF || S4 == 8, "offsets come per 32 values");
    unsafe {
        // Token vector t: its lanes within the packed STRIDE-token slabs.
        let at = |t: usize, per_slab: usize| {
            let tok = t0 + t * V::LANES;
            (tok / STRIDE) * per_slab * STRIDE + tok % STRIDE
        };
        let codes: [*const i32; T] = std::array::from_fn(|t| acts.codes.as_ptr().add(at(t, acts.dwords)));
        let d: [*const f32; T] = std::array::from_fn(|t| acts.d.as_ptr().add(at(t, cols / acts.act_block)));
        let isum: [*const i32; T] = std::array::from_fn(|t| acts.isum.as_ptr().add(at(t, cols / acts.isum_span)));
        let qsum: [*const f32; T] = std::array::from_fn(|t| acts.qsum.as_ptr().add(at(t, cols / 32)));
        let w: [*const u8; R] = std::array::from_fn(|r| tile.codes.as_ptr().add(r * tile.stride));
        let neg_k = V::splat_i(-zero_code);
        let mut acc = [[V::zero_f(); T]; R];
        for ab in 0..cols / acts.act_block {
            // The activation block's sum before its scale `d`: one multiply per block, not one
            // per sub-block (Q8_K blocks hold 8 or 16 sub-blocks).
            let mut block = [[V::zero_f(); T]; R];
            for j in ab * subs_per_act_block..(ab + 1) * subs_per_act_block {
                let init: [V::I; T] = std::array::from_fn(|t| {
                    if ZERO {
                        V::mullo(V::load_i(isum[t].add(j * STRIDE)), neg_k)
                    } else {
                        V::zero_i()
                    }
                });
                let mut int = [init; R];
                for g in 0..S4 {
                    let k = j * S4 + g;
                    let a: [V::I; T] = std::array::from_fn(|t| V::load_i(codes[t].add(k * STRIDE)));
                    for r in 0..R {
                        let wb = V::splat_i((w[r].add(4 * k) as *const i32).read_unaligned());
                        for t in 0..T {
                            int[r][t] = V::dpbusd(int[r][t], wb, a[t]);
                        }
                    }
                }
                for r in 0..R {
                    let sc = V::splat_f(*tile.scale.get_unchecked(r * subs + j));
                    for t in 0..T {
                        block[r][t] = V::fmadd(V::to_f(int[r][t]), sc, block[r][t]);
                    }
                }
                if OFF {
                    for r in 0..R {
                        let off = V::splat_f(*tile.offset.get_unchecked(r * subs + j));
                        for t in 0..T {
                            block[r][t] = V::fmadd(off, V::load_f(qsum[t].add(j * STRIDE)), block[r][t]);
                        }
                    }
                }
            }
            let dv: [V::F; T] = std::array::from_fn(|t| V::load_f(d[t].add(ab * STRIDE)));
            for r in 0..R {
                for t in 0..T {
                    acc[r][t] = V::fmadd(block[r][t], dv[t], acc[r][t]);
                }
            }
        }
        for r in 0..R {
            for t in 0..T {
                V::store_f(acc[r][t], out[r].as_mut_ptr().add(t * V::LANES));
            }
        }
    }
}
