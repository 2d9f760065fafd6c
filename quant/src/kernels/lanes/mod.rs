//! Batched products with the tokens in the vector lanes, for batches of at least
//! [`MIN_TOKENS`] tokens on AVX-512 VNNI CPUs.
//!
//! The row-lane kernels ([`super::x86_avx512`], [`super::x86_avx512_k`]) put a block's 32
//! values in the lanes and, per (weight row, token), convert every block's integer sum to f32
//! and scale it: two float operations per 32 products. Here a task decodes a panel of weight
//! rows once into bytes and scales ([`decode`]), the activations are regrouped 16 tokens per
//! vector once per call ([`pack`]), and the micro-kernel ([`x86_avx512`]) broadcasts four
//! weight bytes against 16 (or 8) tokens per `vpdpbusd`, converting once per sub-block for all
//! of them. The integer work is the same; the float work per product drops by about ten.
//!
//! Results differ from the row-lane kernels by f32 rounding only (the integer sums are exact
//! in both); per (row, token) they do not depend on the other tokens of the call, the token
//! order, the row blocks or the thread count (tested).

mod decode;
mod pack;
#[cfg(test)]
mod tests;
mod x86_avx512;

pub(crate) use decode::Format;
pub(crate) use pack::LaneActs;

use super::Isa;
use crate::types::GgmlType;
use x86_avx512::{panel, LaneVec, Tile, Ymm, Zmm};

/// Tokens from which a batch takes the token-lane kernels: below a full 8-token vector the
/// padding lanes cost more than the row-lane kernels' float work.
pub(crate) const MIN_TOKENS: usize = 8;
/// Weight rows per micro-kernel call (with two 16-token vectors: 8 integer and 8 float
/// accumulators).
const ROWS: usize = 4;

/// Environment variable that turns the token-lane kernels off (`0`), for comparing them with
/// the row-lane kernels end to end. Read once per process.
pub const LANES_ENV: &str = "DGEMMA_LANE_KERNELS";

/// The decoding of `ty` if a batch of `n` tokens on `isa` takes the token-lane kernels.
pub(crate) fn format(isa: Isa, ty: GgmlType, n: usize) -> Option<Format> {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let enabled = *ENABLED.get_or_init(|| std::env::var(LANES_ENV).map_or(true, |v| v.trim() != "0"));
    if !enabled || isa != Isa::Avx512 || !isa.is_available() || n < MIN_TOKENS {
        return None;
    }
    Format::of(ty)
}

/// Decoded rows of one panel, reused between panels and calls on a thread.
#[derive(Default)]
struct TileBuf {
    codes: Vec<u8>,
    scale: Vec<f32>,
    offset: Vec<f32>,
}

thread_local! {
    static TILE: std::cell::RefCell<TileBuf> = std::cell::RefCell::new(TileBuf::default());
}

/// Every packed token against the weight rows `wc` (whole rows of `row_bytes`, width `cols`),
/// on the calling thread: `write(i, r, v)` receives the result for packed token `i` and row `r`
/// of `wc`, once per pair.
///
/// # Safety
/// `fmt` came from [`format`] (so the CPU has AVX-512 VNNI) for the weight type of `wc`, and
/// `acts` was packed from activations of width `cols` prepared for that type.
pub(crate) unsafe fn run_block(
    fmt: &Format,
    wc: &[u8],
    row_bytes: usize,
    cols: usize,
    acts: &LaneActs,
    mut write: impl FnMut(usize, usize, f32),
) {
    let rows = wc.len() / row_bytes;
    if rows == 0 || acts.n == 0 {
        return;
    }
    let subs = cols / fmt.sub;
    TILE.with_borrow_mut(|buf| {
        buf.codes.resize(ROWS * cols, 0);
        buf.scale.resize(ROWS * subs, 0.0);
        buf.offset.resize(ROWS * subs, 0.0);
        for p in (0..rows).step_by(ROWS) {
            for r in 0..ROWS {
                // A short last panel repeats its last row; only real rows are written.
                let src = (p + r).min(rows - 1);
                // SAFETY: `format` checked the CPU; `src` is a whole row of `wc`.
                unsafe {
                    fmt.decode_row(
                        &wc[src * row_bytes..][..row_bytes],
                        cols,
                        &mut buf.codes[r * cols..],
                        &mut buf.scale[r * subs..],
                        &mut buf.offset[r * subs..],
                    )
                };
            }
            let tile = Tile { codes: &buf.codes, stride: cols, scale: &buf.scale, offset: &buf.offset, subs };
            let valid_rows = ROWS.min(rows - p);
            let mut out = [[0f32; 32]; ROWS];
            let mut t0 = 0;
            while t0 < acts.n {
                let left = acts.n - t0;
                // Two 16-token vectors where 32 tokens are left, else two or one of eight (each
                // lane costs the same, so a short tail takes the narrow form; per lane both
                // widths give the same bits).
                // SAFETY: the tile holds ROWS decoded rows of `cols`; tokens t0.. are packed.
                let width = unsafe {
                    if left >= 32 {
                        dispatch::<Zmm, 2>(fmt, &tile, acts, t0, &mut out)
                    } else if left > 8 {
                        dispatch::<Ymm, 2>(fmt, &tile, acts, t0, &mut out)
                    } else {
                        dispatch::<Ymm, 1>(fmt, &tile, acts, t0, &mut out)
                    }
                };
                for (r, row) in out.iter().enumerate().take(valid_rows) {
                    for (k, &v) in row.iter().enumerate().take(width.min(left)) {
                        write(t0 + k, p + r, v);
                    }
                }
                t0 += width;
            }
        }
    });
}

/// The micro-kernel instance for the format's sub-block size, zero code and offsets; returns
/// the tokens it covered (`T * V::LANES`).
///
/// # Safety
/// As [`panel`].
#[inline]
unsafe fn dispatch<V: LaneVec, const T: usize>(fmt: &Format, tile: &Tile<'_>, acts: &LaneActs, t0: usize, out: &mut [[f32; 32]; ROWS]) -> usize {
    let (k, spa) = (fmt.zero_code, fmt.subs_per_act_block);
    unsafe {
        match (fmt.sub, k != 0, fmt.has_offset) {
            (32, true, false) => panel::<V, ROWS, T, 8, true, false>(tile, acts, k, spa, t0, out),
            (32, false, true) => panel::<V, ROWS, T, 8, false, true>(tile, acts, k, spa, t0, out),
            (16, true, false) => panel::<V, ROWS, T, 4, true, false>(tile, acts, k, spa, t0, out),
            _ => unreachable!("Format::of yields no other combination"),
        }
    }
    T * V::LANES
}
