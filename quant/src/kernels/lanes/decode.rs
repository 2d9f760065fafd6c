//! Weight rows decoded for the token-lane kernels: one unsigned code byte per value, and per
//! sub-block (the values that share one scale) an f32 scale and, for formats with a minimum, an
//! f32 offset. Value `j` of sub-block `s` is `scale[s] * (code[j] - K) + offset[s]`, with the
//! format's constant `K` (e.g. 128 for Q8_0, whose signed bytes are stored as `q + 128`).
//!
//! Every decoder writes exactly what [`crate::formats`]' dequantizers compute, factored this
//! way (tested in `tests.rs`); the kernels then work on bytes and never on the packed bits.

use std::arch::x86_64::*;

use crate::kernels::x86_avx2::{bit_mask32, k4_chunk_codes, load256, load_f16, nibbles32, q6_codes32, unpack_scales_k4};
use crate::types::GgmlType;

/// How one weight type is decoded and what the kernels need to know about it.
#[derive(Clone, Copy)]
pub(crate) struct Format {
    /// Values per sub-block (one scale each): 32, or 16 for Q6_K.
    pub(crate) sub: usize,
    /// Sub-blocks per activation block (the span of one activation scale): 1 for the 32-value
    /// formats (Q8_0 activations), `256 / sub` for the K formats (Q8_K activations).
    pub(crate) subs_per_act_block: usize,
    /// `K`: the code that stands for zero (`value = scale * (code - K) + offset`).
    pub(crate) zero_code: i32,
    /// Whether sub-blocks carry an offset (Q4_1, Q5_1, Q4_K, Q5_K).
    pub(crate) has_offset: bool,
    /// Bytes per weight block.
    block_bytes: usize,
    /// Values per weight block.
    block_values: usize,
    /// Decodes one weight block: `values` codes and, for the K formats, `values / sub` scales
    /// and offsets.
    decode_block: unsafe fn(b: *const u8, codes: *mut u8, scale: *mut f32, offset: *mut f32),
    /// 32-value formats: the byte offsets in a block of its binary16 scale and offset, which
    /// [`Format::decode_row`] converts eight blocks at a time.
    f16_scale_at: Option<usize>,
    f16_offset_at: Option<usize>,
}

impl Format {
    /// The decoding of `ty`, if the token-lane kernels handle it.
    pub(crate) fn of(ty: GgmlType) -> Option<Format> {
        use GgmlType::*;
        let q8 = |block_bytes, zero_code, has_offset: bool, decode_block| Format {
            sub: 32,
            subs_per_act_block: 1,
            zero_code,
            has_offset,
            block_bytes,
            block_values: 32,
            decode_block,
            f16_scale_at: Some(0),
            f16_offset_at: has_offset.then_some(2),
        };
        Some(match ty {
            Q8_0 => q8(34, 128, false, decode_q8_0 as _),
            Q4_0 => q8(18, 8, false, decode_nibbles::<2> as _),
            Q5_0 => q8(22, 16, false, decode_fivebits::<2, 6> as _),
            Q4_1 => q8(20, 0, true, decode_nibbles::<4> as _),
            Q5_1 => q8(24, 0, true, decode_fivebits::<4, 8> as _),
            Q4_K | Q5_K => Format {
                sub: 32,
                subs_per_act_block: 8,
                zero_code: 0,
                has_offset: true,
                block_bytes: if ty == Q4_K { 144 } else { 176 },
                block_values: 256,
                decode_block: if ty == Q4_K { decode_q4_k as _ } else { decode_q5_k as _ },
                f16_scale_at: None,
                f16_offset_at: None,
            },
            Q6_K => Format {
                sub: 16,
                subs_per_act_block: 16,
                zero_code: 32,
                has_offset: false,
                block_bytes: 210,
                block_values: 256,
                decode_block: decode_q6_k as _,
                f16_scale_at: None,
                f16_offset_at: None,
            },
            _ => return None,
        })
    }

    /// Decodes one weight row of `cols` values into `codes[..cols]`, `scale[..cols / sub]`
    /// and (if [`Format::has_offset`]) `offset[..cols / sub]`.
    ///
    /// # Safety
    /// AVX2, FMA and F16C are available; `row` holds `cols / block_values` blocks.
    pub(crate) unsafe fn decode_row(&self, row: &[u8], cols: usize, codes: &mut [u8], scale: &mut [f32], offset: &mut [f32]) {
        let nb = cols / self.block_values;
        let subs = self.block_values / self.sub;
        assert!(row.len() >= nb * self.block_bytes, "weight row shorter than its width");
        assert!(codes.len() >= cols && scale.len() >= nb * subs && offset.len() >= nb * subs, "tile too small");
        for i in 0..nb {
            unsafe {
                (self.decode_block)(
                    row.as_ptr().add(i * self.block_bytes),
                    codes.as_mut_ptr().add(i * self.block_values),
                    scale.as_mut_ptr().add(i * subs),
                    offset.as_mut_ptr().add(i * subs),
                )
            };
        }
        for (at, out) in [(self.f16_scale_at, scale), (self.f16_offset_at, offset)] {
            if let Some(at) = at {
                // SAFETY: F16C is available (caller); the row holds `nb` blocks.
                unsafe { convert_f16s(row, nb, self.block_bytes, at, out) };
            }
        }
    }
}

/// `out[i]` = the binary16 at byte `at` of block `i` (of `block_bytes`) of `row`, for `nb`
/// blocks, eight per `vcvtph2ps` (exact, like the scalar conversion).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn convert_f16s(row: &[u8], nb: usize, block_bytes: usize, at: usize, out: &mut [f32]) {
    for i0 in (0..nb).step_by(8) {
        let len = 8.min(nb - i0);
        let mut h = [0u16; 8];
        for (k, hk) in h.iter_mut().enumerate().take(len) {
            let b = (i0 + k) * block_bytes + at;
            *hk = u16::from_le_bytes([row[b], row[b + 1]]);
        }
        let mut f = [0f32; 8];
        unsafe { _mm256_storeu_ps(f.as_mut_ptr(), _mm256_cvtph_ps(_mm_loadu_si128(h.as_ptr() as *const __m128i))) };
        out[i0..i0 + len].copy_from_slice(&f[..len]);
    }
}

/// `out[0..8] = k * bytes[0..8]` (unsigned bytes, or signed with `SIGNED`), converted exactly
/// and multiplied in f32 as the scalar `k * b as f32`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn scale_bytes<const SIGNED: bool>(bytes: u64, k: f32, out: *mut f32) {
    unsafe {
        let b = _mm_cvtsi64_si128(bytes as i64);
        let i = if SIGNED { _mm256_cvtepi8_epi32(b) } else { _mm256_cvtepu8_epi32(b) };
        _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_cvtepi32_ps(i), _mm256_set1_ps(k)));
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn store256(p: *mut u8, v: __m256i) {
    unsafe { _mm256_storeu_si256(p as *mut __m256i, v) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn decode_q8_0(b: *const u8, codes: *mut u8, _scale: *mut f32, _offset: *mut f32) {
    unsafe {
        store256(codes, _mm256_xor_si256(load256(b.add(2)), _mm256_set1_epi8(-128)));
    }
}

/// Q4_0 / Q4_1: 32 nibbles from the 16 bytes at `QS` (low nibbles first, the legacy order).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn decode_nibbles<const QS: usize>(b: *const u8, codes: *mut u8, _scale: *mut f32, _offset: *mut f32) {
    unsafe { store256(codes, nibbles32(b.add(QS))) }
}

/// Q5_0 / Q5_1: [`decode_nibbles`] at `QS` plus the fifth bits of the `u32` at `QH`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn decode_fivebits<const QH: usize, const QS: usize>(b: *const u8, codes: *mut u8, _scale: *mut f32, _offset: *mut f32) {
    unsafe {
        let high = bit_mask32((b.add(QH) as *const u32).read_unaligned());
        store256(codes, _mm256_or_si256(nibbles32(b.add(QS)), _mm256_and_si256(high, _mm256_set1_epi8(0x10))));
    }
}

/// Q4_K / Q5_K: sub-block `j` (32 values) has scale `d * sc[j]` and offset `-dmin * m[j]`
/// (computed as `m[j] * -dmin`: the same value);
/// chunk `c` of 32 packed bytes holds sub-block `2c` in its low nibbles and `2c + 1` in its
/// high ones; Q5_K's fifth bits for chunk `c` are bits `2c` / `2c + 1` of `qh[l]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn decode_k4_like(b: *const u8, qs_at: usize, qh_at: Option<usize>, codes: *mut u8, scale: *mut f32, offset: *mut f32) {
    unsafe {
        let (d, dmin) = (load_f16(b), load_f16(b.add(2)));
        let (scales, mins) = unpack_scales_k4(&*(b.add(4) as *const [u8; 12]));
        scale_bytes::<false>(scales, d, scale);
        scale_bytes::<false>(mins, -dmin, offset);
        let mut high = match qh_at {
            Some(at) => load256(b.add(at)),
            None => _mm256_setzero_si256(),
        };
        for c in 0..4 {
            let (lo, hi) = k4_chunk_codes(load256(b.add(qs_at + 32 * c)), qh_at.map(|_| &mut high));
            store256(codes.add(64 * c), lo);
            store256(codes.add(64 * c + 32), hi);
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn decode_q4_k(b: *const u8, codes: *mut u8, scale: *mut f32, offset: *mut f32) {
    unsafe { decode_k4_like(b, 16, None, codes, scale, offset) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn decode_q5_k(b: *const u8, codes: *mut u8, scale: *mut f32, offset: *mut f32) {
    unsafe { decode_k4_like(b, 48, Some(16), codes, scale, offset) }
}

/// Q6_K: in half `h` (128 values), group `g` (32 values) takes its low four bits from
/// `ql[64h + 32(g & 1)..]` (low nibbles for g < 2, high for g >= 2) and its top two from bits
/// `2g..2g + 2` of `qh[32h..]`; sub-block `j` (16 values) has scale `d * sc[j]`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn decode_q6_k(b: *const u8, codes: *mut u8, scale: *mut f32, _offset: *mut f32) {
    unsafe {
        let d = load_f16(b.add(208));
        scale_bytes::<true>((b.add(192) as *const u64).read_unaligned(), d, scale);
        scale_bytes::<true>((b.add(200) as *const u64).read_unaligned(), d, scale.add(8));
        for half in 0..2 {
            for g in 0..4 {
                store256(codes.add(128 * half + 32 * g), q6_codes32(b, half, g));
            }
        }
    }
}
