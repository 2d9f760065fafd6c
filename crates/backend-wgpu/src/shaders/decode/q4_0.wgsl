// Q4_0: 18-byte blocks {f16 d; u8 qs[16]}; element j < 16 is the low nibble of qs[j], element
// j + 16 the high nibble; x = d · (q − 8).
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    let base = rb + c * 18u;
    let d = wf16(base);
    for (var i = 0u; i < 4u; i++) {
        let q = wu32(base + 2u + i * 4u);
        for (var b = 0u; b < 4u; b++) {
            let x = byte_of(q, b);
            v[i * 4u + b] = d * (f32(x & 15u) - 8.0);
            v[i * 4u + b + 16u] = d * (f32(x >> 4u) - 8.0);
        }
    }
    return v;
}
