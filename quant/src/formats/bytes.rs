//! Little-endian field access inside a block's bytes, and ggml's rounding helpers.
//!
//! Blocks are read and written through byte slices (not `#[repr(C)]` casts) so callers may
//! pass unaligned buffers and the code is endian-independent.

use crate::blocks::{f16_to_f32, f32_to_f16};

/// Groups whose largest magnitude is below this are treated as all zero (ggml `GROUP_MAX_EPS`).
pub(crate) const GROUP_MAX_EPS: f32 = 1e-15;

/// The f16 at `b[off..off + 2]`, widened.
#[inline(always)]
pub(crate) fn get_f16(b: &[u8], off: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[off], b[off + 1]]))
}

/// Store `v` rounded to f16 (nearest even) at `b[off..off + 2]`.
#[inline(always)]
pub(crate) fn put_f16(b: &mut [u8], off: usize, v: f32) {
    b[off..off + 2].copy_from_slice(&f32_to_f16(v).to_le_bytes());
}

/// ggml's `nearest_int`: adds 1.5 * 2^23 in float32 and reads the low mantissa bits.
///
/// For |v| < 2^22 this is round-half-to-even; it is written out (rather than
/// `round_ties_even`) so that the rare out-of-range or NaN argument gives the same integer as
/// the C reference, which keeps even degenerate blocks byte-identical.
#[inline(always)]
pub(crate) fn nearest_int(v: f32) -> i32 {
    let bits = (v + 12582912.0f32).to_bits() as i32;
    (bits & 0x007f_ffff) - 0x0040_0000
}

/// C's `(int8_t)` / `(uint8_t)` conversion of a float as x86-64 compilers emit it: truncate to
/// a 32-bit integer (`cvttss2si`; NaN and out-of-range give `i32::MIN`) and keep the low byte.
///
/// In range this is plain truncation. The out-of-range results only occur in degenerate legacy
/// blocks (a scale so small that `1/d` overflows), where C's behaviour is formally undefined;
/// following the x86 result keeps those blocks byte-identical to llama.cpp builds too.
#[inline(always)]
pub(crate) fn c_float_to_byte(v: f32) -> u8 {
    let t = if v.abs() < 2_147_483_648.0 { v as i32 } else { i32::MIN };
    t as u8
}
