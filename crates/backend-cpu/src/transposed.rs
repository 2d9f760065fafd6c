//! `y = x · W` over a long shared dimension (the soft embedding `softmax(z) · Emb`, model.md §7,
//! 262,144 vocabulary rows): each weight row segment is decoded once per call for all `n` rows.
//!
//! Tasks are (column segment × fixed range of weight rows). The number of row ranges depends only
//! on the shape, never on the thread count, and the ranges' partial sums are added in a fixed
//! order, so results are identical at any thread count.
//!
//! Within a task, tiles of [`VB`] weight rows are decoded once and multiplied by the fastest
//! [`Kernel`] the CPU runs: a register-blocked kernel ([`register_block`]) with AVX-512 vectors
//! ([`avx512`]), else with AVX2+FMA ones ([`avx2`]), else plain Rust. All of them sum each output
//! over the weight rows in the same order, in f32 runs of [`SUM_RUN`] rows added into f64.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avx512_bf16;
#[cfg(target_arch = "x86_64")]
mod register_block;

#[cfg(target_arch = "x86_64")]
use crate::math::has_fma;
use dgemma_quant::GgmlType;

use crate::weight::{decode, CpuWeight};

#[cfg(target_arch = "x86_64")]
use avx512_bf16::Bf16Tile;
/// No bfloat16 kernel off x86_64: nothing to keep per task.
#[cfg(not(target_arch = "x86_64"))]
type Bf16Tile = ();

/// Weight rows decoded into one tile; each register block of accumulators is loaded and stored
/// once per tile, not once per weight row. At most 64 (the used rows are a `u64` mask) and a
/// divisor of [`SUM_RUN`].
const VB: usize = 64;
const _: () = assert!(VB <= 64 && SUM_RUN.is_multiple_of(VB));
/// Floats of padding after each tile row: with rows exactly `SEG` floats (1 KiB) apart, a
/// column chunk of 64 tile rows maps to a quarter of the L1 sets and keeps missing; a 64-byte
/// pad spreads the rows over all of them.
const TILE_PAD: usize = 16;
/// Rows summed in f32 before the run is added to the f64 total: the rounding error does not grow
/// with the vocabulary (262k-vocab self-conditioning error 1.3e-4 -> 1.4e-5).
const SUM_RUN: usize = 512;
/// Aim for at least this many tasks so both few- and many-core machines stay busy.
const MIN_TASKS: usize = 32;
/// Output columns per segment, rounded up to whole blocks of the weight type.
const SEG: usize = 256;

/// `y [n, cols] = x [n, rows] · W [rows, cols]`. With `bf16` (an opt-in) the products take
/// bfloat16 operands where the CPU has AVX-512 BF16 ([`avx512_bf16`]); elsewhere, and by
/// default, they are exact f32.
pub(crate) fn matmul_transposed(w: &CpuWeight<'_>, x: &[f32], n: usize, y: &mut [f32], bf16: bool) {
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    assert!(x.len() >= n * rows && y.len() >= n * cols, "matmul_transposed: buffers too small");
    if n == 0 || cols == 0 {
        return;
    }
    let bs = w.ty.block_size();
    let seg = (SEG.div_ceil(bs) * bs).min(cols);
    let n_seg = cols.div_ceil(seg);
    // Row ranges of whole sum runs; how many depends on the shape alone.
    let runs = rows.div_ceil(SUM_RUN).max(1);
    let n_chunk = MIN_TASKS.div_ceil(n_seg).min(runs);
    let chunk_rows = runs.div_ceil(n_chunk) * SUM_RUN;
    let n_chunk = rows.div_ceil(chunk_rows).max(1);
    let region = n * seg;
    let kernel = if bf16 && Kernel::Avx512Bf16.available() { Kernel::Avx512Bf16 } else { Kernel::best() };
    let mut partial = vec![0f64; n_chunk * n_seg * region];
    partial.par_chunks_mut(region).enumerate().for_each_init(
        || (vec![0f32; VB * (seg + TILE_PAD)], vec![0f32; n * seg], vec![false; n], Bf16Tile::default()),
        |(tile, acc, live, bf), (task, total)| {
            let (k, s) = (task / n_seg, task % n_seg);
            let c0 = s * seg;
            let width = seg.min(cols - c0);
            let v_end = ((k + 1) * chunk_rows).min(rows);
            let (b0, b1) = (c0 / bs * w.ty.type_size(), (c0 + width) / bs * w.ty.type_size());
            let acc = &mut acc[..n * width];
            let ts = width + TILE_PAD;
            let mut v0 = k * chunk_rows;
            while v0 < v_end {
                let vb = VB.min(v_end - v0);
                let probs = Probs { x, stride: rows, v0, vb };
                // Which weight rows any activation row uses, and which activation rows use any.
                let used = probs.nonzero(kernel, live);
                for j in 0..vb {
                    let t = &mut tile[j * ts..j * ts + width];
                    if used >> j & 1 == 1 {
                        decode_segment(kernel, w.ty, &w.row(0, v0 + j)[b0..b1], t);
                    } else {
                        t.fill(0.0); // exact: an all-zero column of x adds nothing
                    }
                }
                // The next tile's probabilities and weight row segments are strided reads
                // (rows of 1 MiB and of row_bytes): start them now, while this tile's FMAs run.
                let next = (v0 + vb)..(v0 + vb + VB).min(v_end);
                for r in 0..n {
                    prefetch(&x[r * rows + next.start..r * rows + next.end]);
                }
                for v in next {
                    prefetch(&w.row(0, v)[b0..b1]);
                }
                let first = (v0 - k * chunk_rows).is_multiple_of(SUM_RUN);
                v0 += vb;
                let last = (v0 - k * chunk_rows).is_multiple_of(SUM_RUN) || v0 == v_end;
                let total = last.then_some(&mut total[..n * width]);
                let tile = Tile { data: &tile[..vb * ts], stride: ts };
                #[cfg(target_arch = "x86_64")]
                if kernel == Kernel::Avx512Bf16 {
                    // SAFETY: the CPU has what the kernel needs (Kernel::available).
                    unsafe { avx512_bf16::accumulate(&probs, live, &tile, acc, width, first, total, bf) };
                    continue;
                }
                let _ = &bf;
                accumulate(kernel, &probs, live, &tile, acc, width, first, total);
            }
        },
    );
    // Fixed-order reduction of the row ranges.
    y[..n * cols].par_chunks_mut(cols).enumerate().for_each(|(r, yr)| {
        for s in 0..n_seg {
            let c0 = s * seg;
            let width = seg.min(cols - c0);
            for c in 0..width {
                let mut sum = 0f64;
                for k in 0..n_chunk {
                    sum += partial[(k * n_seg + s) * region + r * width + c];
                }
                yr[c0 + c] = sum as f32;
            }
        }
    });
}

/// Whether this CPU runs the bfloat16 soft-embedding kernel.
pub(crate) fn bf16_available() -> bool {
    Kernel::Avx512Bf16.available()
}

/// Decoded weight rows: row `j` is `data[j · stride..][..width]`.
pub(crate) struct Tile<'a> {
    data: &'a [f32],
    stride: usize,
}

impl Tile<'_> {
    /// Whether `rows` rows of `width` floats lie inside `data`.
    fn covers(&self, rows: usize, width: usize) -> bool {
        width <= self.stride && (rows == 0 || (rows - 1) * self.stride + width <= self.data.len())
    }
}

/// The probabilities of one tile: `p[r, j] = x[r · stride + v0 + j]` for `j < vb`, read in place.
pub(crate) struct Probs<'a> {
    x: &'a [f32],
    stride: usize,
    v0: usize,
    vb: usize,
}

impl Probs<'_> {
    /// Row `r` of the tile's probabilities.
    #[inline]
    fn row(&self, r: usize) -> &[f32] {
        let s = r * self.stride + self.v0;
        &self.x[s..s + self.vb]
    }

    /// Bit `j` set when some activation row has a non-zero (or NaN) probability for weight row
    /// `v0 + j`; `live[r]` when activation row `r` has one in this tile. With AVX-512 compares
    /// when `kernel` is the AVX-512 one.
    fn nonzero(&self, kernel: Kernel, live: &mut [bool]) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if matches!(kernel, Kernel::Avx512 | Kernel::Avx512Bf16) {
            // SAFETY: the CPU supports AVX-512F (Kernel::available).
            return unsafe { avx512::nonzero(self, live) };
        }
        self.nonzero_portable(live)
    }

    /// [`Probs::nonzero`] in plain Rust.
    fn nonzero_portable(&self, live: &mut [bool]) -> u64 {
        let mut used = 0u64;
        for (r, l) in live.iter_mut().enumerate() {
            let m = self.row(r).iter().enumerate().fold(0u64, |m, (j, &q)| m | ((q != 0.0) as u64) << j);
            *l = m != 0;
            used |= m;
        }
        used
    }
}

/// Decode one row segment (whole blocks) into the tile; Q8_0 and Q6_K (the usual token_embd
/// types) directly with AVX-512 when `kernel` is the AVX-512 one (same values as [`decode`]).
#[inline]
fn decode_segment(kernel: Kernel, ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if matches!(kernel, Kernel::Avx512 | Kernel::Avx512Bf16) {
        match ty {
            // SAFETY: the CPU supports AVX-512F (Kernel::available).
            GgmlType::Q8_0 => return unsafe { avx512::decode_q8_0(src, dst) },
            // SAFETY: as above.
            GgmlType::Q6_K => return unsafe { avx512::decode_q6_k(src, dst) },
            _ => {}
        }
    }
    decode(ty, src, dst)
}

/// Ask for the cache lines of `data` ahead of use, into L2: one tile's lines (~86 KiB) would not
/// stay in L1 until used. A hint: no effect on results.
#[inline]
fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        let bytes = std::mem::size_of_val(data);
        for off in (0..bytes).step_by(64) {
            // SAFETY: prefetching is a hint that never faults; the address lies inside `data`.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(data.as_ptr().cast::<i8>().add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data; // the hardware prefetcher has to do
}

/// End an f32 run: `total += acc` in f64, `acc = 0`.
fn flush(total: &mut [f64], acc: &mut [f32]) {
    for (t, a) in total.iter_mut().zip(acc.iter_mut()) {
        *t += *a as f64;
        *a = 0.0;
    }
}

/// The tile kernels, fastest first. All three sum each output in the same order; the two FMA
/// kernels give identical bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// Register-blocked AVX-512F ([`avx512`]).
    Avx512,
    /// bfloat16 operands, AVX-512 BF16 ([`avx512_bf16`]): only when asked for, and not
    /// bit-identical to the others.
    Avx512Bf16,
    /// Register-blocked AVX2 + FMA ([`avx2`]).
    Fma,
    /// Plain Rust (`a * b + c`), one activation row at a time.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU runs, capped by the instruction set the quant kernels use
    /// (`DGEMMA_ISA=avx2` / `scalar` select the AVX2 / portable kernel, so instruction sets can
    /// be compared end to end).
    fn best() -> Self {
        use dgemma_quant::kernels::Isa;
        let allowed: &[Kernel] = match Isa::detected() {
            Isa::Avx512 => &[Kernel::Avx512, Kernel::Fma],
            Isa::Avx2 => &[Kernel::Fma],
            Isa::Scalar | Isa::Neon => &[],
        };
        allowed.iter().copied().find(|k| k.available()).unwrap_or(Kernel::Portable)
    }

    /// Whether this CPU can run the kernel.
    fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512::available(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Bf16 => avx512_bf16::available(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Fma => has_fma(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512 | Kernel::Avx512Bf16 | Kernel::Fma => false,
            Kernel::Portable => true,
        }
    }
}

/// `acc[r, c] += Σ_j p[r, j] · tile[j, c]` for the rows with `live[r]`, with `kernel` (which the
/// CPU must run). `first`: the tile starts an f32 run (`acc` counts as zero); `total`: the tile
/// ends one (`total += acc` in f64). The sum over `j` runs in the same order for every column,
/// thread and kernel.
#[inline]
#[allow(clippy::too_many_arguments)] // the kernel's operands; a struct would only rename them
fn accumulate(
    kernel: Kernel, p: &Probs<'_>, live: &[bool], tile: &Tile<'_>, acc: &mut [f32], width: usize, first: bool,
    total: Option<&mut [f64]>,
) {
    debug_assert!(kernel.available() && kernel != Kernel::Avx512Bf16, "the bfloat16 kernel has its own entry");
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx512 {
        // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (Kernel::available).
        return unsafe { avx512::accumulate(p, live, tile, acc, width, first, total) };
    }
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Fma {
        // SAFETY: the CPU supports AVX2 and FMA (Kernel::available).
        return unsafe { avx2::accumulate(p, live, tile, acc, width, first, total) };
    }
    if first {
        acc.fill(0.0);
    }
    accumulate_body::<false>(p, live, tile, acc, width);
    if let Some(total) = total {
        flush(total, acc);
    }
}

/// Columns held in registers per step: eight 8-wide vectors, enough independent FMA chains to
/// hide their latency.
const CW: usize = 64;

#[inline(always)]
fn accumulate_body<const FMA: bool>(p: &Probs<'_>, live: &[bool], tile: &Tile<'_>, acc: &mut [f32], width: usize) {
    assert!(tile.covers(p.vb, width), "tile kernel: bad tile");
    let ts = tile.stride;
    let fma = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    // Column chunks outside, rows inside: the chunk's slice of the tile (VB × CW floats,
    // 16 KiB) stays in L1 while every activation row passes over it.
    let whole = width / CW * CW;
    for c0 in (0..whole).step_by(CW) {
        for (r, ar) in acc.chunks_exact_mut(width).enumerate() {
            if !live[r] {
                continue;
            }
            let mut a = [0f32; CW];
            a.copy_from_slice(&ar[c0..c0 + CW]);
            for (j, &q) in p.row(r).iter().enumerate() {
                let t = &tile.data[j * ts + c0..j * ts + c0 + CW];
                for l in 0..CW {
                    a[l] = fma(q, t[l], a[l]);
                }
            }
            ar[c0..c0 + CW].copy_from_slice(&a);
        }
    }
    for (r, ar) in acc.chunks_exact_mut(width).enumerate() {
        if !live[r] {
            continue;
        }
        for (c, out) in ar.iter_mut().enumerate().skip(whole) {
            let mut a = *out;
            for (j, &q) in p.row(r).iter().enumerate() {
                a = fma(q, tile.data[j * ts + c], a);
            }
            *out = a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dgemma_test_support::values;

    /// Every kernel this CPU runs (AVX-512 with the run start fused in, AVX2+FMA, portable)
    /// against the portable kernel with separate reset/flush (fused multiply-adds for the FMA
    /// kernels): same bits, over partial register blocks, column tails, short tiles, skipped
    /// rows and every position of a tile in its f32 run; and the SIMD zero mask against the
    /// portable one.
    #[test]
    fn every_tile_kernel_matches_the_portable_kernel_bit_for_bit() {
        let kernels: Vec<Kernel> =
            [Kernel::Avx512, Kernel::Fma, Kernel::Portable].into_iter().filter(|k| k.available()).collect();
        for (n, width, vb) in [(1, 16, 64), (7, 37, 5), (13, 256, 64), (6, 80, 33), (12, 117, 64), (256, 64, 64)] {
            let (stride, v0) = (vb + 9, 3);
            let mut x = values(n * stride, 1);
            x.iter_mut().step_by(5).for_each(|q| *q = 0.0);
            if n > 2 {
                x[stride..2 * stride].fill(0.0); // activation row 1 uses no weight row
            }
            // Padded rows, as the tile buffer has; the pad must not be read.
            let ts = width + TILE_PAD;
            let tile_data = values(vb * ts, 2);
            let tile = Tile { data: &tile_data, stride: ts };
            let acc0 = values(n * width, 3);
            let total0: Vec<f64> = values(n * width, 4).iter().map(|&v| v as f64 * 3.0).collect();
            let p = Probs { x: &x, stride, v0, vb };
            let (mut live, mut live_portable) = (vec![false; n], vec![false; n]);
            let used = p.nonzero(Kernel::best(), &mut live);
            assert_eq!(used, p.nonzero_portable(&mut live_portable));
            assert_eq!(live, live_portable);
            assert!(n <= 2 || !live[1], "n={n}");
            for j in 0..vb {
                assert_eq!(used >> j & 1 == 1, (0..n).any(|r| x[r * stride + v0 + j] != 0.0), "used row {j}");
            }
            for &kernel in &kernels {
                for (first, last) in [(false, false), (true, false), (false, true), (true, true)] {
                    let at = format!("{kernel:?} n={n} width={width} vb={vb} first={first} last={last}");
                    let (mut got, mut want) = (acc0.clone(), acc0.clone());
                    let (mut got_t, mut want_t) = (total0.clone(), total0.clone());
                    accumulate(kernel, &p, &live, &tile, &mut got, width, first, last.then_some(&mut got_t[..]));
                    if first {
                        want.fill(0.0);
                    }
                    match kernel {
                        Kernel::Portable => accumulate_body::<false>(&p, &live, &tile, &mut want, width),
                        _ => accumulate_body::<true>(&p, &live, &tile, &mut want, width),
                    }
                    let sums = want.clone();
                    if last {
                        flush(&mut want_t, &mut want);
                    } else {
                        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                            assert_eq!(g.to_bits(), w.to_bits(), "{at}: acc[{i}]");
                        }
                    }
                    for (i, (g, w)) in got_t.iter().zip(&want_t).enumerate() {
                        assert_eq!(g.to_bits(), w.to_bits(), "{at}: total[{i}]");
                    }
                    for r in 0..n {
                        for c in 0..width {
                            let start = if first { 0.0 } else { acc0[r * width + c] as f64 };
                            let terms = (0..vb).map(|j| p.row(r)[j] as f64 * tile_data[j * ts + c] as f64);
                            let exact = start + terms.sum::<f64>();
                            assert!((sums[r * width + c] as f64 - exact).abs() < 1e-4, "{at}: acc[{r},{c}]");
                        }
                    }
                }
            }
        }
    }

    /// The bfloat16 tile kernel (where the CPU has AVX-512 BF16) against an f64 sum of the
    /// bfloat16-rounded operands (only the f32 accumulation differs), and against the exact sum
    /// within bfloat16 precision (two roundings of `2^-9` per product: `2^-7` of `Σ|p·t|` with
    /// room), over the same shapes as above.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn bf16_tile_kernel_matches_the_rounded_operands() {
        if !Kernel::Avx512Bf16.available() {
            eprintln!("no AVX-512 BF16 on this CPU: the bfloat16 kernel cannot run here");
            return;
        }
        let round = |v: f32| half::bf16::from_f32(v).to_f32() as f64;
        let mut bf = avx512_bf16::Bf16Tile::default();
        for (n, width, vb) in [(1, 16, 64), (7, 37, 5), (13, 256, 64), (6, 80, 33), (12, 117, 64), (256, 64, 64)] {
            let (stride, v0) = (vb + 9, 3);
            let mut x = values(n * stride, 1);
            x.iter_mut().step_by(5).for_each(|q| *q = 0.0);
            let ts = width + TILE_PAD;
            let tile_data = values(vb * ts, 2);
            let tile = Tile { data: &tile_data, stride: ts };
            let acc0 = values(n * width, 3);
            let p = Probs { x: &x, stride, v0, vb };
            let mut live = vec![false; n];
            p.nonzero(Kernel::Avx512Bf16, &mut live);
            for first in [false, true] {
                let mut got = acc0.clone();
                // SAFETY: checked above that the CPU runs it.
                unsafe { avx512_bf16::accumulate(&p, &live, &tile, &mut got, width, first, None, &mut bf) };
                for r in 0..n {
                    for c in 0..width {
                        let start = if first { 0.0 } else { acc0[r * width + c] as f64 };
                        let terms = (0..vb).map(|j| (p.row(r)[j], tile_data[j * ts + c]));
                        let rounded = start + terms.clone().map(|(q, t)| round(q) * round(t)).sum::<f64>();
                        let exact = start + terms.clone().map(|(q, t)| q as f64 * t as f64).sum::<f64>();
                        let size = start.abs() + terms.map(|(q, t)| (q as f64 * t as f64).abs()).sum::<f64>();
                        let g = got[r * width + c] as f64;
                        let at = format!("n={n} width={width} vb={vb} first={first} [{r},{c}]");
                        assert!((g - rounded).abs() <= 1e-6 * size + 1e-30, "{at}: {g} vs rounded operands {rounded}");
                        assert!((g - exact).abs() <= size / 128.0, "{at}: {g} vs exact {exact}");
                    }
                }
            }
        }
    }

    /// The tile decoder (AVX-512 for Q8_0 and Q6_K where the CPU has it) gives the quant crate's
    /// values.
    #[test]
    fn segment_decode_matches_dequantize_bit_for_bit() {
        for ty in [GgmlType::Q8_0, GgmlType::Q6_K, GgmlType::BF16, GgmlType::F32] {
            // Rows of different magnitudes so every scale and code is exercised.
            let w: Vec<f32> = values(8192, 7).iter().enumerate().map(|(i, v)| v * (1 + i % 97) as f32).collect();
            let mut data = vec![0u8; ty.row_bytes(w.len()).unwrap()];
            dgemma_quant::quantize(ty, &w, &mut data).unwrap();
            let (mut got, mut want) = (vec![0f32; w.len()], vec![0f32; w.len()]);
            decode_segment(Kernel::best(), ty, &data, &mut got);
            dgemma_quant::dequantize(ty, &data, &mut want).unwrap();
            assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "{ty:?}");
        }
    }
}
