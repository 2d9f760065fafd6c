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

/// Implements [`LaneVec`] for a width from its intrinsics (the same operations, in the order
/// of the trait's methods).
macro_rules! lane_vec {
    ($name:ty, $lanes:expr, $i:ty, $f:ty, $zero_i:ident, $zero_f:ident, $load_i:ident, $load_f:ident,
     $splat_i:ident, $splat_f:ident, $dpbusd:ident, $mullo:ident, $to_f:ident, $fmadd:ident, $store_f:ident) => {
        impl LaneVec for $name {
            const LANES: usize = $lanes;
            type I = $i;
            type F = $f;
            #[inline(always)]
            unsafe fn zero_i() -> $i {
                unsafe { $zero_i() }
            }
            #[inline(always)]
            unsafe fn zero_f() -> $f {
                unsafe { $zero_f() }
            }
            #[inline(always)]
            unsafe fn load_i(p: *const i32) -> $i {
                unsafe { $load_i(p as *const $i) }
            }
            #[inline(always)]
            unsafe fn load_f(p: *const f32) -> $f {
                unsafe { $load_f(p) }
            }
            #[inline(always)]
            unsafe fn splat_i(x: i32) -> $i {
                unsafe { $splat_i(x) }
            }
            #[inline(always)]
            unsafe fn splat_f(x: f32) -> $f {
                unsafe { $splat_f(x) }
            }
            #[inline(always)]
            unsafe fn dpbusd(acc: $i, u: $i, s: $i) -> $i {
                unsafe { $dpbusd(acc, u, s) }
            }
            #[inline(always)]
            unsafe fn mullo(a: $i, b: $i) -> $i {
                unsafe { $mullo(a, b) }
            }
            #[inline(always)]
            unsafe fn to_f(a: $i) -> $f {
                unsafe { $to_f(a) }
            }
            #[inline(always)]
            unsafe fn fmadd(a: $f, b: $f, c: $f) -> $f {
                unsafe { $fmadd(a, b, c) }
            }
            #[inline(always)]
            unsafe fn store_f(v: $f, p: *mut f32) {
                unsafe { $store_f(p, v) }
            }
        }
    };
}

lane_vec!(Zmm, 16, __m512i, __m512, _mm512_setzero_si512, _mm512_setzero_ps, _mm512_loadu_si512, _mm512_loadu_ps,
    _mm512_set1_epi32, _mm512_set1_ps, _mm512_dpbusd_epi32, _mm512_mullo_epi32, _mm512_cvtepi32_ps, _mm512_fmadd_ps,
    _mm512_storeu_ps);
lane_vec!(Ymm, 8, __m256i, __m256, _mm256_setzero_si256, _mm256_setzero_ps, _mm256_loadu_si256, _mm256_loadu_ps,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_dpbusd_epi32, _mm256_mullo_epi32, _mm256_cvtepi32_ps, _mm256_fmadd_ps,
    _mm256_storeu_ps);

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
