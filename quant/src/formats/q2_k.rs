//! Q2_K: 256-element super-block of sixteen 16-element sub-blocks. Bytes: 16 scale bytes
//! (4-bit scale low, 4-bit min high), 64 bytes of 2-bit levels, f16 `d`, f16 `dmin`;
//! `x = d * (sc & 15) * q - dmin * (sc >> 4)`.

use super::bytes::{get_f16, nearest_int, put_f16};
use super::search::MinSearch;
use super::search_lanes::make_qkx2_quants_lanes;

pub(crate) const QK: usize = 256;
pub(crate) const BYTES: usize = 84;
const QS: usize = 16;
const D: usize = 80;
const DMIN: usize = 82;

const SEARCH: MinSearch = MinSearch { nmax: 3, rmin: -0.5, rdelta: 0.1, nstep: 15, use_mad: true };

/// Pack 2-bit levels as Q2_K and Q3_K do: byte `32h + l` holds elements
/// `128h + l + 32k` at bits `2k`.
pub(crate) fn pack_2bit(l: &[u8; QK], qs: &mut [u8]) {
    for h in 0..2 {
        for i in 0..32 {
            let b = 128 * h + i;
            qs[32 * h + i] = l[b] | (l[b + 32] << 2) | (l[b + 64] << 4) | (l[b + 96] << 6);
        }
    }
}

/// ggml `quantize_row_q2_K_ref`.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    let mut l = [0u8; QK];
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        // Sub-block k in lane k (see search_lanes.rs), weights |x|.
        let mut xt = [[0.0f32; 16]; 16];
        let mut wt = [[0.0f32; 16]; 16];
        for i in 0..16 {
            for k in 0..16 {
                xt[i][k] = x[16 * k + i];
                wt[i][k] = xt[i][k].abs();
            }
        }
        let mut lt = [[0u8; 16]; 16];
        let (scales, mins) = make_qkx2_quants_lanes(&xt, &wt, &mut lt, &SEARCH);
        for i in 0..16 {
            for k in 0..16 {
                l[16 * k + i] = lt[i][k];
            }
        }
        let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
        for k in 0..16 {
            if scales[k] > max_scale {
                max_scale = scales[k];
            }
            if mins[k] > max_min {
                max_min = mins[k];
            }
        }
        let sc = &mut y[..QS];
        if max_scale > 0.0 {
            let iscale = 15.0 / max_scale;
            for j in 0..16 {
                sc[j] = nearest_int(iscale * scales[j]) as u8;
            }
        } else {
            sc.fill(0);
        }
        if max_min > 0.0 {
            let iscale = 15.0 / max_min;
            for j in 0..16 {
                sc[j] |= (nearest_int(iscale * mins[j]) << 4) as u8;
            }
        }
        put_f16(y, D, if max_scale > 0.0 { max_scale / 15.0 } else { 0.0 });
        put_f16(y, DMIN, if max_min > 0.0 { max_min / 15.0 } else { 0.0 });
        let (d, dmin) = (get_f16(y, D), get_f16(y, DMIN));
        for j in 0..16 {
            let dk = d * (y[j] & 0xF) as f32;
            if dk == 0.0 {
                continue;
            }
            let dm = dmin * (y[j] >> 4) as f32;
            for ii in 0..16 {
                l[16 * j + ii] = nearest_int((x[16 * j + ii] + dm) / dk).clamp(0, 3) as u8;
            }
        }
        pack_2bit(&l, &mut y[QS..D]);
    }
}

/// ggml `dequantize_row_q2_K`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, D);
        let min = get_f16(b, DMIN);
        let mut is = 0;
        let mut o = 0;
        for h in 0..2 {
            let q = &b[QS + 32 * h..QS + 32 * h + 32];
            for shift in [0, 2, 4, 6] {
                for half in 0..2 {
                    let sc = b[is];
                    is += 1;
                    let dl = d * (sc & 0xF) as f32;
                    let ml = min * (sc >> 4) as f32;
                    for l in 0..16 {
                        y[o] = dl * ((q[16 * half + l] >> shift) & 3) as f32 - ml;
                        o += 1;
                    }
                }
            }
        }
    }
}
