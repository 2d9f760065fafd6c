//! Q3_K: 256-element super-block of sixteen 16-element sub-blocks. Bytes: 32 `hmask` (third
//! bit), 64 bytes of 2-bit levels, 12 bytes of 6-bit scales (biased by 32), f16 `d`;
//! `x = d * (S - 32) * (q2 - (high ? 0 : 4))`.

use super::bytes::{get_f16, nearest_int, put_f16};
use super::q2_k::pack_2bit;
use super::search::make_q3_quants;

pub(crate) const QK: usize = 256;
pub(crate) const BYTES: usize = 110;
const QS: usize = 32;
const SCALES: usize = 96;
const D: usize = 108;

/// The biased 6-bit scale of sub-block `j` (0..63).
#[inline(always)]
fn scale(j: usize, sc: &[u8]) -> u8 {
    let low = if j < 8 { sc[j] & 0xF } else { sc[j - 8] >> 4 };
    low | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)
}

/// ggml `quantize_row_q3_K_ref`.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    let mut li = [0i8; QK];
    let mut l = [0u8; QK];
    let mut scales = [0.0f32; 16];
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let (mut max_scale, mut amax) = (0.0f32, 0.0f32);
        for j in 0..16 {
            scales[j] = make_q3_quants(&x[16 * j..16 * j + 16], 4, &mut li[16 * j..16 * j + 16]);
            if scales[j].abs() > amax {
                amax = scales[j].abs();
                max_scale = scales[j];
            }
        }
        y[SCALES..D].fill(0);
        if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            let sc = &mut y[SCALES..D];
            for j in 0..16 {
                let v = (nearest_int(iscale * scales[j]) as i8).clamp(-32, 31) + 32;
                let v = v as u8;
                if j < 8 {
                    sc[j] = v & 0xF;
                } else {
                    sc[j - 8] |= (v & 0xF) << 4;
                }
                sc[j % 4 + 8] |= (v >> 4) << (2 * (j / 4));
            }
            put_f16(y, D, 1.0 / iscale);
        } else {
            put_f16(y, D, 0.0);
        }
        let d = get_f16(y, D);
        for j in 0..16 {
            let s = scale(j, &y[SCALES..D]) as i32 - 32;
            let dk = d * s as f32;
            if dk == 0.0 {
                continue;
            }
            for ii in 0..16 {
                li[16 * j + ii] = (nearest_int(x[16 * j + ii] / dk).clamp(-4, 3) + 4) as i8;
            }
        }
        let hmask = &mut y[..QS];
        hmask.fill(0);
        for j in 0..QK {
            let mut v = li[j] as u8;
            if v > 3 {
                hmask[j % 32] |= 1 << (j / 32);
                v -= 4;
            }
            l[j] = v;
        }
        pack_2bit(&l, &mut y[QS..SCALES]);
    }
}

/// ggml `dequantize_row_q3_K`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d_all = get_f16(b, D);
        let hm = &b[..QS];
        let sc = &b[SCALES..D];
        let mut is = 0;
        let mut o = 0;
        let mut m = 1u8;
        for h in 0..2 {
            let q = &b[QS + 32 * h..QS + 32 * h + 32];
            for shift in [0, 2, 4, 6] {
                for half in 0..2 {
                    let dl = d_all * (scale(is, sc) as i32 - 32) as f32;
                    is += 1;
                    for l in 0..16 {
                        let k = 16 * half + l;
                        let q2 = ((q[k] >> shift) & 3) as i32;
                        let v = q2 - if hm[k] & m != 0 { 0 } else { 4 };
                        y[o] = dl * v as f32;
                        o += 1;
                    }
                }
                m = m.wrapping_shl(1);
            }
        }
    }
}
