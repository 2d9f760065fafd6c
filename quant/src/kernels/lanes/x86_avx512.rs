//! The token-lane micro-kernel: `R` decoded weight rows x `T` groups of eight tokens, AVX-512VL
//! VNNI on 256-bit vectors.
//!
//! Per sub-block `j` (32 or 16 values, one weight scale) and (row, group) pair, eight lanes of
//! i32 start at `-K·Σq` (the zero code times the tokens' activation sums, which makes the
//! integer sum exact for the true weight values) and take one `vpdpbusd` per four values: the
//! row's four code bytes broadcast, times the same four positions of the group's eight tokens.
//! The sum then goes to f32 once: `acc += f32(int) * (scale[j] * d)`, plus `offset[j] * d·Σq`
//! for formats with an offset. So the float work is three operations per sub-block for eight
//! tokens, where the row-lane kernels ([`super::super::x86_avx512`]) need two per token.
//!
//! Per (row, token) the operations and their order depend only on that row and that token's
//! activations: not on the other tokens of the group, the group's position, `R`, `T` or the
//! thread count.

use std::arch::x86_64::*;

use super::pack::{LaneActs, LANES};

/// Decoded weight rows: row `r`'s codes at `codes[r * stride..][..cols]`, its sub-block scales
/// and offsets at `scale[r * subs..][..subs]`, `offset[..]` likewise.
pub(crate) struct Tile<'a> {
    pub(crate) codes: &'a [u8],
    pub(crate) stride: usize,
    pub(crate) scale: &'a [f32],
    pub(crate) offset: &'a [f32],
    pub(crate) subs: usize,
}

/// What the kernel needs to know of the weight format, as compile-time choices.
///
/// `S4`: dwords per sub-block (8 for 32 values, 4 for 16); `ZERO`: the format has a zero code
/// (`K != 0`, applied through the activation sums); `OFF`: it has per-sub-block offsets.
///
/// # Safety
/// AVX2, FMA, AVX-512F/VL and VNNI are available. `tile` holds `R` rows of `subs * 4 * S4`
/// codes and `R * subs` scales (and offsets if `OFF`); `acts` holds groups `g0..g0 + T` of rows
/// of that width; for `ZERO`, `acts.isum_span == 4 * S4`; for `OFF`, `S4 == 8`.
#[inline]
#[allow(clippy::needless_range_loop)] // (row, group) indices address several arrays at once
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(crate) unsafe fn panel<const R: usize, const T: usize, const S4: usize, const ZERO: bool, const OFF: bool>(
    tile: &Tile<'_>,
    acts: &LaneActs,
    zero_code: i32,
    subs_per_act_block: usize,
    g0: usize,
) -> [[[f32; LANES]; T]; R] {
    let subs = tile.subs;
    let cols = subs * 4 * S4;
    assert!(tile.codes.len() >= (R - 1) * tile.stride + cols && tile.scale.len() >= R * subs, "tile too small");
    assert!(!OFF || tile.offset.len() >= R * subs, "tile offsets missing");
    assert!(acts.dwords * 4 == cols && (g0 + T) * LANES <= acts.groups() * LANES, "activation groups out of range");
    let n_act = cols / acts.act_block;
    let n_isum = cols / acts.isum_span;
    unsafe {
        let codes: [*const i32; T] = std::array::from_fn(|t| acts.codes.as_ptr().add((g0 + t) * acts.dwords * LANES));
        let d: [*const f32; T] = std::array::from_fn(|t| acts.d.as_ptr().add((g0 + t) * n_act * LANES));
        let isum: [*const i32; T] = std::array::from_fn(|t| acts.isum.as_ptr().add((g0 + t) * n_isum * LANES));
        let dsum: [*const f32; T] = std::array::from_fn(|t| acts.dsum.as_ptr().add((g0 + t) * (cols / 32) * LANES));
        let w: [*const u8; R] = std::array::from_fn(|r| tile.codes.as_ptr().add(r * tile.stride));
        let neg_k = _mm256_set1_epi32(-zero_code);
        let mut acc = [[_mm256_setzero_ps(); T]; R];
        for j in 0..subs {
            let ab = j / subs_per_act_block;
            let init: [__m256i; T] = std::array::from_fn(|t| {
                if ZERO {
                    _mm256_mullo_epi32(_mm256_loadu_si256(isum[t].add(j * LANES) as *const __m256i), neg_k)
                } else {
                    _mm256_setzero_si256()
                }
            });
            let mut int = [init; R];
            for g in 0..S4 {
                let k = j * S4 + g;
                let a: [__m256i; T] = std::array::from_fn(|t| _mm256_loadu_si256(codes[t].add(k * LANES) as *const __m256i));
                for r in 0..R {
                    let wb = _mm256_set1_epi32((w[r].add(4 * k) as *const i32).read_unaligned());
                    for t in 0..T {
                        int[r][t] = _mm256_dpbusd_epi32(int[r][t], wb, a[t]);
                    }
                }
            }
            let dv: [__m256; T] = std::array::from_fn(|t| _mm256_loadu_ps(d[t].add(ab * LANES)));
            for r in 0..R {
                let sc = _mm256_set1_ps(*tile.scale.get_unchecked(r * subs + j));
                for t in 0..T {
                    acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(int[r][t]), _mm256_mul_ps(sc, dv[t]), acc[r][t]);
                }
            }
            if OFF {
                for r in 0..R {
                    let off = _mm256_set1_ps(*tile.offset.get_unchecked(r * subs + j));
                    for t in 0..T {
                        acc[r][t] = _mm256_fmadd_ps(off, _mm256_loadu_ps(dsum[t].add(j * LANES)), acc[r][t]);
                    }
                }
            }
        }
        let mut out = [[[0.0f32; LANES]; T]; R];
        for r in 0..R {
            for t in 0..T {
                _mm256_storeu_ps(out[r][t].as_mut_ptr(), acc[r][t]);
            }
        }
        out
    }
}
