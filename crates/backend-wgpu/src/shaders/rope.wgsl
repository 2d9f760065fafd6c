// NEOX rotary embedding in place on x [rows, heads, d]: pair i of every head of row r rotates
// by (pos0 + r) · freqs[i]; one thread per (row, head, pair).

struct Params {
    rows: u32,
    heads: u32,
    d: u32,
    pos0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> freqs: array<f32>;

// sin/cos are only accurate on [-π, π] on many GPUs: reduce the f32 angle first, subtracting
// 2π·k in two parts (Cody–Waite) so the reduction itself stays exact to f32 rounding.
fn reduce_angle(a: f32) -> f32 {
    let k = round(a * 0.15915494);
    return (a - k * 6.28125) - k * 0.0019353072;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let half = p.d / 2u;
    let idx = (wg.y * nwg.x + wg.x) * 256u + li;
    if (idx >= p.rows * p.heads * half) {
        return;
    }
    let i = idx % half;
    let h = (idx / half) % p.heads;
    let r = idx / (half * p.heads);
    let f = freqs[i];
    if (f == 0.0) {
        return;
    }
    let a = reduce_angle(f32(p.pos0 + r) * f);
    let s = sin(a);
    let c = cos(a);
    let o = (r * p.heads + h) * p.d;
    let x0 = x[o + i];
    let x1 = x[o + i + half];
    x[o + i] = x0 * c - x1 * s;
    x[o + i + half] = x1 * c + x0 * s;
}
