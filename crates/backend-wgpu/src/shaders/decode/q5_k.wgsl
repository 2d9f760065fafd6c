// Q5_K: 176-byte blocks of 256 {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}. Like
// Q4_K plus a fifth bit: bit `sub` of qh[l] for value l of chunk `sub`.
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    let base = rb + (c / 8u) * 176u;
    let sub = c % 8u;
    let sm = scale_min_k4(sub, base + 4u);
    let d = wf16(base) * sm.x;
    let m = wf16(base + 2u) * sm.y;
    let shift = (sub % 2u) * 4u;
    let qb = base + 48u + (sub / 2u) * 32u;
    for (var i = 0u; i < 8u; i++) {
        let q = wu32(qb + i * 4u);
        let h = wu32(base + 16u + i * 4u);
        for (var b = 0u; b < 4u; b++) {
            let hi = (byte_of(h, b) >> sub) & 1u;
            v[i * 4u + b] = d * f32(((byte_of(q, b) >> shift) & 15u) | (hi << 4u)) - m;
        }
    }
    return v;
}
