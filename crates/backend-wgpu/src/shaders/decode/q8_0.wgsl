// Q8_0: 34-byte blocks {f16 d; i8 qs[32]}, x = d · q.
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    let base = rb + c * 34u;
    let d = wf16(base);
    for (var i = 0u; i < 8u; i++) {
        let q = wu32(base + 2u + i * 4u);
        for (var b = 0u; b < 4u; b++) {
            v[i * 4u + b] = d * f32(sext8(byte_of(q, b)));
        }
    }
    return v;
}
