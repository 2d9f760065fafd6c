// Q4_K: 144-byte blocks of 256 {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}. Chunk `sub` (32
// values) takes the low (even sub) or high (odd sub) nibbles of qs[32·(sub/2) ..]; x = d·sc·q − dmin·m.
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    let base = rb + (c / 8u) * 144u;
    let sub = c % 8u;
    let sm = scale_min_k4(sub, base + 4u);
    let d = wf16(base) * sm.x;
    let m = wf16(base + 2u) * sm.y;
    let shift = (sub % 2u) * 4u;
    let qb = base + 16u + (sub / 2u) * 32u;
    for (var i = 0u; i < 8u; i++) {
        let q = wu32(qb + i * 4u);
        for (var b = 0u; b < 4u; b++) {
            v[i * 4u + b] = d * f32((byte_of(q, b) >> shift) & 15u) - m;
        }
    }
    return v;
}
