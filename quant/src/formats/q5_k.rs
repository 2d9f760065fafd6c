//! Q5_K: as Q4_K plus a fifth bit per element. Bytes: f16 `d`, f16 `dmin`, 12 bytes of
//! scales/mins (packed as Q4_K), 32 bytes `qh`, 128 bytes of low nibbles;
//! `x = d * sc_k * q - dmin * m_k` with q in 0..=31.

use super::bytes::{get_f16, put_f16};
use super::q4_k::{get_scale_min_k4, requantize, search_and_pack_scales};
use super::search::MinSearch;

pub(crate) const QK: usize = 256;
pub(crate) const BYTES: usize = 176;

const SEARCH: MinSearch = MinSearch { nmax: 31, rmin: -0.5, rdelta: 0.1, nstep: 15, use_mad: false };

/// ggml `quantize_row_q5_K_ref`.
pub(crate) fn quantize(src: &[f32], dst: &mut [u8]) {
    let mut l = [0u8; QK];
    for (x, y) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(BYTES)) {
        let (d, dmin) = search_and_pack_scales(x, &SEARCH, &mut l, &mut y[4..16]);
        put_f16(y, 0, d);
        put_f16(y, 2, dmin);
        let (d, dmin) = (get_f16(y, 0), get_f16(y, 2));
        requantize(x, d, dmin, &y[4..16], 31, &mut l);
        let (qh, ql) = y[16..].split_at_mut(32);
        qh.fill(0);
        for c in 0..4 {
            let (m1, m2) = (1u8 << (2 * c), 2u8 << (2 * c));
            for j in 0..32 {
                let mut l1 = l[64 * c + j];
                if l1 > 15 {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                let mut l2 = l[64 * c + 32 + j];
                if l2 > 15 {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[32 * c + j] = l1 | (l2 << 4);
            }
        }
    }
}

/// ggml `dequantize_row_q5_K`.
pub(crate) fn dequantize(src: &[u8], dst: &mut [f32]) {
    for (b, y) in src.chunks_exact(BYTES).zip(dst.chunks_exact_mut(QK)) {
        let d = get_f16(b, 0);
        let min = get_f16(b, 2);
        let sc = &b[4..16];
        let qh = &b[16..48];
        let qs = &b[48..];
        for c in 0..4 {
            let (s1, m1) = get_scale_min_k4(2 * c, sc);
            let (s2, m2) = get_scale_min_k4(2 * c + 1, sc);
            let (d1, m1) = (d * s1 as f32, min * m1 as f32);
            let (d2, m2) = (d * s2 as f32, min * m2 as f32);
            let (u1, u2) = (1u8 << (2 * c), 2u8 << (2 * c));
            let q = &qs[32 * c..32 * c + 32];
            let out = &mut y[64 * c..64 * c + 64];
            for l in 0..32 {
                let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
                out[l] = d1 * ((q[l] & 0xF) + h1) as f32 - m1;
                out[l + 32] = d2 * ((q[l] >> 4) + h2) as f32 - m2;
            }
        }
    }
}
