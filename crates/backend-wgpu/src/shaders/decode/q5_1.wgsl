// Q5_1: 24-byte blocks {f16 d; f16 m; u8 qh[4]; u8 qs[16]}; x = d · q + m.
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    let base = rb + c * 24u;
    let d = wf16(base);
    let m = wf16(base + 2u);
    let qh = wu32(base + 4u);
    for (var i = 0u; i < 4u; i++) {
        let q = wu32(base + 8u + i * 4u);
        for (var b = 0u; b < 4u; b++) {
            let j = i * 4u + b;
            let x = byte_of(q, b);
            v[j] = d * f32((x & 15u) | (((qh >> j) & 1u) << 4u)) + m;
            v[j + 16u] = d * f32((x >> 4u) | (((qh >> (j + 16u)) & 1u) << 4u)) + m;
        }
    }
    return v;
}
