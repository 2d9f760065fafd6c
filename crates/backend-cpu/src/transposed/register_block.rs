//! The register-blocked tile kernel of the soft embedding, written once over an f32 vector type
//! ([`F32Vec`]) and instantiated by [`super::avx512`] (16-float zmm vectors) and [`super::avx2`]
//! (8-float ymm vectors, for CPUs without AVX-512).
//!
//! A register block of [`ROWS`] activation rows × `VECS` vectors of accumulators stays in
//! registers across all the weight rows of a tile; each tile vector is loaded once per block and
//! each probability is broadcast once. Every accumulator is updated by one FMA per weight row in
//! ascending row order, exactly as in the portable FMA kernel, so every vector width gives the
//! same bits.

use super::{Probs, Tile};

/// Activation rows per register block. With AVX-512 (4 vectors) 24 accumulators + 4 tile
/// vectors fit the 32 zmm registers with room for the broadcasts; with AVX2 (2 vectors) 12
/// accumulators, 2 tile vectors and a broadcast fit the 16 ymm registers.
const ROWS: usize = 6;

/// The f32 vector operations the tile kernel needs, one implementation per instruction set.
///
/// The methods are `#[inline(always)]` wrappers of that instruction set's intrinsics: they may
/// only run inside a function whose `#[target_feature]` enables it (where they are inlined and
/// compiled with it), which is what makes them `unsafe`.
pub(super) trait F32Vec: Copy {
    /// Floats per vector.
    const LANES: usize;
    /// All lanes 0.
    unsafe fn zero() -> Self;
    /// `LANES` floats from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self;
    /// `x` in every lane.
    unsafe fn splat(x: f32) -> Self;
    /// `a · b + c` with one rounding per lane.
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self;
    /// The lanes to `LANES` floats at `p` (unaligned).
    unsafe fn store(self, p: *mut f32);
    /// `total[i] += acc[i] as f64` over the common length (exact conversion, one f64 add each,
    /// so a vector version gives these bits).
    #[inline(always)]
    unsafe fn flush(acc: &[f32], total: &mut [f64]) {
        for (t, a) in total.iter_mut().zip(acc) {
            *t += *a as f64;
        }
    }
}

/// `acc[r, c] += Σ_j p[r, j] · tile[j, c]`: `tile` has `p.vb` rows of `width`, `acc` and `total`
/// `[n, width]`, with register blocks of [`ROWS`] × `VECS` vectors of `V`. On the first tile of a
/// run `acc` counts as zero (its contents are not read); on the last, `total += acc` in f64
/// follows (`acc` is left holding the run's sums; the next run's first tile ignores them).
/// Register blocks without a `live` row do no FMAs (exact: their probabilities are all zero).
///
/// # Safety
/// The calling function's `#[target_feature]` enables `V`'s instruction set and FMA, and the CPU
/// has them.
#[inline(always)]
pub(super) unsafe fn accumulate<V: F32Vec, const VECS: usize>(
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
    let nv = width / V::LANES;
    // Column chunks outside, register blocks inside: the chunk's slice of the tile
    // (vb × VECS·LANES floats: 16 KiB with AVX-512, 4 KiB with AVX2) stays in L1 while every row
    // block streams past it.
    let mut v0 = 0;
    while v0 < nv {
        let vecs = VECS.min(nv - v0);
        let mut r0 = 0;
        while r0 < n {
            let rows = ROWS.min(n - r0);
            let any = live[r0..r0 + rows].iter().any(|&l| l);
            if any || first || last {
                let off = r0 * width + v0 * V::LANES;
                // SAFETY: `rows` ≤ ROWS rows of probabilities (stride ps, vb each, from
                // r0·ps + v0) and of `acc`/`total` (from r0·width), and vecs·LANES columns from
                // v0·LANES ≤ width, lie inside the slices (asserted above); the instruction set is
                // enabled (caller).
                unsafe {
                    let b = Block {
                        p: p.x.as_ptr().add(r0 * ps + p.v0),
                        ps,
                        vb: if any { vb } else { 0 },
                        t: tile.data.as_ptr().add(v0 * V::LANES),
                        ts: tile.stride,
                        a: acc.as_mut_ptr().add(off),
                        width,
                        first,
                    };
                    match (rows == ROWS, vecs == VECS) {
                        (true, true) => block::<V, ROWS, VECS>(b),
                        (false, true) => dispatch_rows::<V, VECS>(rows, b),
                        (_, false) => dispatch_rows::<V, 1>(rows, b),
                    }
                }
            }
            r0 += rows;
        }
        // A narrower remainder runs one vector at a time.
        v0 += if vecs == VECS { VECS } else { 1 };
    }
    for c in nv * V::LANES..width {
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
        // SAFETY: the instruction set is enabled (caller).
        unsafe { V::flush(acc, total) };
    }
}

/// One register block's operands: `p` → `R` rows (stride `ps`) of `vb` probabilities; `t` →
/// `vb` tile rows (stride `ts`), `a` → `R` accumulator rows (stride `width`), both of at least
/// `V·LANES` columns.
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
unsafe fn dispatch_rows<V: F32Vec, const W: usize>(rows: usize, b: Block) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match rows {
            1 => block::<V, 1, W>(b),
            2 => block::<V, 2, W>(b),
            3 => block::<V, 3, W>(b),
            4 => block::<V, 4, W>(b),
            5 => block::<V, 5, W>(b),
            _ => block::<V, ROWS, W>(b),
        }
    }
}

/// One register block: `R` rows × `W` vectors of accumulators, loaded once (or zero), updated
/// by every weight row of the tile, stored once.
///
/// # Safety
/// The pointers of `b` cover what [`Block`] says; `V`'s instruction set is enabled (caller).
#[inline(always)]
// Index loops over const-sized register arrays: the compiler unrolls them and keeps every
// element in a register.
#[allow(clippy::needless_range_loop)]
unsafe fn block<V: F32Vec, const R: usize, const W: usize>(b: Block) {
    let Block { p, ps, vb, t, ts, a, width, first } = b;
    // SAFETY: all offsets stay inside the ranges the caller guarantees.
    unsafe {
        let mut acc = [[V::zero(); W]; R];
        for r in 0..R {
            for v in 0..W {
                if !first {
                    acc[r][v] = V::load(a.add(r * width + v * V::LANES));
                }
            }
        }
        for j in 0..vb {
            let tj = t.add(j * ts);
            let mut tv = [V::zero(); W];
            for v in 0..W {
                tv[v] = V::load(tj.add(v * V::LANES));
            }
            for r in 0..R {
                let q = V::splat(*p.add(r * ps + j));
                for v in 0..W {
                    acc[r][v] = V::fmadd(q, tv[v], acc[r][v]);
                }
            }
        }
        for r in 0..R {
            for v in 0..W {
                acc[r][v].store(a.add(r * width + v * V::LANES));
            }
        }
    }
}
