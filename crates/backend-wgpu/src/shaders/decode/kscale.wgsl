// 6-bit (scale, min) pair `j` (0..7) of a Q4_K/Q5_K block, packed in 12 bytes at `s`.
fn scale_min_k4(j: u32, s: u32) -> vec2<f32> {
    if (j < 4u) {
        return vec2<f32>(f32(wbyte(s + j) & 63u), f32(wbyte(s + j + 4u) & 63u));
    }
    let sc = (wbyte(s + j + 4u) & 15u) | ((wbyte(s + j - 4u) >> 6u) << 4u);
    let m = (wbyte(s + j + 4u) >> 4u) | ((wbyte(s + j) >> 6u) << 4u);
    return vec2<f32>(f32(sc), f32(m));
}
