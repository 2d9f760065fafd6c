// F16 rows: 32 consecutive halves, zero past the row end.
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    for (var k = 0u; k < 32u; k++) {
        let col = c * 32u + k;
        if (col < cols) {
            v[k] = wf16(rb + col * 2u);
        }
    }
    return v;
}
