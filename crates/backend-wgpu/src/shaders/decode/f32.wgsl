// F32 rows: 32 consecutive values, zero past the row end.
fn dq_chunk(rb: u32, c: u32, cols: u32) -> array<f32, 32> {
    var v: array<f32, 32>;
    for (var k = 0u; k < 32u; k++) {
        let col = c * 32u + k;
        if (col < cols) {
            v[k] = bitcast<f32>(w[(rb >> 2u) + col]);
        }
    }
    return v;
}
