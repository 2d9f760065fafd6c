//! Batched products with the tokens in the vector lanes, for batches of at least
//! [`MIN_TOKENS`] tokens on AVX-512 VNNI CPUs.
//!
//! The row-lane kernels ([`super::x86_avx512`], [`super::x86_avx512_k`]) put a block's 32
//! values in the lanes and, per (weight row, token), convert every block's integer sum to f32
//! and scale it: two float operations per 32 products. Here a task decodes a panel of weight
//! rows once into bytes and scales ([`decode`]), the activations are regrouped eight tokens
//! per vector once per call ([`pack`]), and the micro-kernel ([`x86_avx512`]) broadcasts four
//! weight bytes against eight tokens per `vpdpbusd`, converting once per sub-block for eight
//! tokens. The integer work is the same; the float work per product drops by about eight.
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
use x86_avx512::{panel, Tile};

/// Tokens from which a batch takes the token-lane kernels: below a full group the padding
/// lanes cost more than the row-lane kernels' float work.
pub(crate) const MIN_TOKENS: usize = 8;
/// Weight rows per micro-kernel call.
const ROWS: usize = 2;
/// Token groups per micro-kernel call (`ROWS * GROUPS` integer and float accumulators).
const GROUPS: usize = 2;

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
            let groups = acts.groups();
            let mut g = 0;
            while g < groups {
                let step = if g + GROUPS <= groups { GROUPS } else { 1 };
                let mut emit = |r: usize, t: usize, lanes: &[f32; pack::LANES]| {
                    for (lane, &v) in lanes.iter().enumerate() {
                        let i = (g + t) * pack::LANES + lane;
                        if r < valid_rows && i < acts.n {
                            write(i, p + r, v);
                        }
                    }
                };
                // SAFETY: the tile holds ROWS decoded rows of `cols`; groups g..g + step exist.
                unsafe {
                    if step == GROUPS {
                        for (r, row) in dispatch::<GROUPS>(fmt, &tile, acts, g).iter().enumerate() {
                            row.iter().enumerate().for_each(|(t, l)| emit(r, t, l));
                        }
                    } else {
                        for (r, row) in dispatch::<1>(fmt, &tile, acts, g).iter().enumerate() {
                            row.iter().enumerate().for_each(|(t, l)| emit(r, t, l));
                        }
                    }
                }
                g += step;
            }
        }
    });
}

/// The micro-kernel instance for the format's sub-block size, zero code and offsets.
///
/// # Safety
/// As [`panel`].
#[inline]
unsafe fn dispatch<const T: usize>(fmt: &Format, tile: &Tile<'_>, acts: &LaneActs, g: usize) -> [[[f32; pack::LANES]; T]; ROWS] {
    let (k, spa) = (fmt.zero_code, fmt.subs_per_act_block);
    unsafe {
        match (fmt.sub, k != 0, fmt.has_offset) {
            (32, true, false) => panel::<ROWS, T, 8, true, false>(tile, acts, k, spa, g),
            (32, false, true) => panel::<ROWS, T, 8, false, true>(tile, acts, k, spa, g),
            (16, true, false) => panel::<ROWS, T, 4, true, false>(tile, acts, k, spa, g),
            _ => unreachable!("Format::of yields no other combination"),
        }
    }
}
