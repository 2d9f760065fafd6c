// Q6_K: 210-byte blocks of 256 {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}. Chunk `sub`:
// half n = sub/4 (128 values), quarter t = sub%4: low 4 bits from ql[64n + 32·(t&1) + l]
// (low nibble for t < 2), high 2 bits from qh[32n + l] >> 2t, scale scales[8n + l/16 + 2t];
// x = d · sc · (q − 32).
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    let base = rb + (c / 8u) * 210u;
    let sub = c % 8u;
    let n = sub / 4u;
    let t = sub % 4u;
    let d = wf16(base + 208u);
    let sc0 = d * f32(sext8(wbyte(base + 192u + 8u * n + 2u * t)));
    let sc1 = d * f32(sext8(wbyte(base + 192u + 8u * n + 2u * t + 1u)));
    let lshift = (t / 2u) * 4u;
    let hshift = t * 2u;
    let qlb = base + 64u * n + 32u * (t & 1u);
    let qhb = base + 128u + 32u * n;
    for (var i = 0u; i < 8u; i++) {
        let ql = wu32(qlb + i * 4u);
        let qh = wu32(qhb + i * 4u);
        let sc = select(sc1, sc0, i < 4u);
        for (var b = 0u; b < 4u; b++) {
            let q = ((byte_of(ql, b) >> lshift) & 15u) | (((byte_of(qh, b) >> hshift) & 3u) << 4u);
            v[i * 4u + b] = sc * (f32(q) - 32.0);
        }
    }
    return v;
}
