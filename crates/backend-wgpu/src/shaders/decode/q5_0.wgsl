// Q5_0: 22-byte blocks {f16 d; u8 qh[4]; u8 qs[16]}; bit e of qh is the fifth bit of element e;
// x = d · (q − 16).
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    let base = rb + c * 22u;
    let d = wf16(base);
    let qh = wu32(base + 2u);
    for (var i = 0u; i < 4u; i++) {
        let q = wu32(base + 6u + i * 4u);
        for (var b = 0u; b < 4u; b++) {
            let j = i * 4u + b;
            let x = byte_of(q, b);
            v[j] = d * (f32((x & 15u) | (((qh >> j) & 1u) << 4u)) - 16.0);
            v[j + 16u] = d * (f32((x >> 4u) | (((qh >> (j + 16u)) & 1u) << 4u)) - 16.0);
        }
    }
    return v;
}
