//! Test-only f32 decoding of one weight row, written from ../shared/spec/gguf.md §3.3-3.4
//! independently of the kernels. Replace with `dgemma_quant`'s dequantizer once it exists.

use dgemma_quant::blocks::f16_to_f32;
use dgemma_quant::GgmlType;

fn f16_at(b: &[u8], off: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[off], b[off + 1]]))
}

/// Scale and min `j` of a Q4_K/Q5_K 12-byte scale array.
fn scale_min(j: usize, q: &[u8]) -> (f32, f32) {
    let (sc, m) = if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    };
    (sc as f32, m as f32)
}

/// Every value of a row of type `ty`.
pub fn row(ty: GgmlType, w: &[u8]) -> Vec<f32> {
    let mut out = Vec::new();
    match ty {
        GgmlType::F32 => {
            out.extend(w.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())))
        }
        GgmlType::F16 => out.extend(w.chunks_exact(2).map(|b| f16_at(b, 0))),
        GgmlType::BF16 => out.extend(
            w.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)),
        ),
        _ => {
            for b in w.chunks_exact(ty.type_size()) {
                block(ty, b, &mut out);
            }
        }
    }
    out
}

fn legacy(d: f32, m: f32, offset: i32, q: impl Fn(usize) -> i32, out: &mut Vec<f32>) {
    out.extend((0..32).map(|j| d * (q(j) - offset) as f32 + m));
}

fn block(ty: GgmlType, b: &[u8], out: &mut Vec<f32>) {
    let nib = |qs: &[u8], j: usize| if j < 16 { (qs[j] & 0xF) as i32 } else { (qs[j - 16] >> 4) as i32 };
    match ty {
        GgmlType::Q8_0 => out.extend(b[2..34].iter().map(|&q| f16_at(b, 0) * (q as i8) as f32)),
        GgmlType::Q4_0 => legacy(f16_at(b, 0), 0.0, 8, |j| nib(&b[2..18], j), out),
        GgmlType::Q4_1 => legacy(f16_at(b, 0), f16_at(b, 2), 0, |j| nib(&b[4..20], j), out),
        GgmlType::Q5_0 => {
            let qh = u32::from_le_bytes(b[2..6].try_into().unwrap());
            legacy(f16_at(b, 0), 0.0, 16, |j| nib(&b[6..22], j) | (((qh >> j) & 1) << 4) as i32, out)
        }
        GgmlType::Q5_1 => {
            let qh = u32::from_le_bytes(b[4..8].try_into().unwrap());
            legacy(f16_at(b, 0), f16_at(b, 2), 0, |j| nib(&b[8..24], j) | (((qh >> j) & 1) << 4) as i32, out)
        }
        GgmlType::Q4_K | GgmlType::Q5_K => {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let scales = &b[4..16];
            let (qh, qs) = if ty == GgmlType::Q5_K { (Some(&b[16..48]), &b[48..176]) } else { (None, &b[16..144]) };
            for sub in 0..8 {
                let (sc, m) = scale_min(sub, scales);
                let chunk = &qs[32 * (sub / 2)..32 * (sub / 2) + 32];
                for l in 0..32 {
                    let mut q = if sub % 2 == 0 { chunk[l] & 0xF } else { chunk[l] >> 4 } as i32;
                    if let Some(qh) = qh {
                        q |= (((qh[l] >> sub) & 1) << 4) as i32;
                    }
                    out.push(d * sc * q as f32 - dmin * m);
                }
            }
        }
        GgmlType::Q6_K => {
            let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
            let d = f16_at(b, 208);
            // Element e of the block: half h = e / 128, position p = e % 128, group g = p / 32.
            for e in 0..256 {
                let (h, p) = (e / 128, e % 128);
                let (g, l) = (p / 32, p % 32);
                let low = ql[64 * h + l + 32 * (g % 2)];
                let low = if g < 2 { low & 0xF } else { low >> 4 };
                let high = (qh[32 * h + l] >> (2 * g)) & 3;
                let q = (low | (high << 4)) as i32 - 32;
                let scale = sc[8 * h + l / 16 + 2 * g] as i8 as f32;
                out.push(d * scale * q as f32);
            }
        }
        other => panic!("test decoder has no {other}"),
    }
}
