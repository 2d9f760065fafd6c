// Byte access into a weight stored as `array<u32>` (little-endian). GGUF blocks are not 4-byte
// aligned in general (Q4_0 = 18 B, Q8_0 = 34 B), so multi-byte fields are assembled from the two
// words they straddle. Weight buffers carry 4 bytes of padding so `w[i + 1]` stays in bounds.

fn wbyte(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
}

fn wu32(b: u32) -> u32 {
    let s = (b & 3u) * 8u;
    let lo = w[b >> 2u];
    if (s == 0u) {
        return lo;
    }
    return (lo >> s) | (w[(b >> 2u) + 1u] << (32u - s));
}

fn wu16(b: u32) -> u32 {
    return wu32(b) & 0xffffu;
}

fn wf16(b: u32) -> f32 {
    return unpack2x16float(wu16(b)).x;
}

fn wbf16(b: u32) -> f32 {
    return bitcast<f32>(wu16(b) << 16u);
}

// Sign-extend the low byte of `v`.
fn sext8(v: u32) -> i32 {
    return bitcast<i32>(v << 24u) >> 24u;
}

// Byte `i` (0..3) of word `q`.
fn byte_of(q: u32, i: u32) -> u32 {
    return (q >> (i * 8u)) & 0xffu;
}
