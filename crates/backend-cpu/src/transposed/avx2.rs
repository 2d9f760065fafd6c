//! The AVX2+FMA soft-embedding tile kernel, for CPUs without AVX-512: the shared
//! [`register_block`] kernel with 8-float ymm vectors, 2 per register block (the 16 ymm
//! registers hold 12 accumulators, 2 tile vectors and a broadcast).

use std::arch::x86_64::*;

use super::register_block::{self, F32Vec};
use super::{Probs, Tile};

/// 8-float vectors per register block.
const VECS: usize = 2;

// SAFETY (every method): AVX2 and FMA are enabled wherever the kernel runs these (the trait's
// contract; `accumulate` below enables them).
impl F32Vec for __m256 {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm256_storeu_ps(p, self) }
    }
}

/// [`register_block::accumulate`] with ymm vectors.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn accumulate(
    p: &Probs<'_>, live: &[bool], tile: &Tile<'_>, acc: &mut [f32], width: usize, first: bool,
    total: Option<&mut [f64]>,
) {
    // SAFETY: AVX2 and FMA are enabled here and present (caller).
    unsafe { register_block::accumulate::<__m256, VECS>(p, live, tile, acc, width, first, total) }
}
