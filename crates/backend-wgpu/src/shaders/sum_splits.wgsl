// y[e] (+)= Σ_s partial[s · len + e] for e < len, the splits added in order (one thread each).

struct Params {
    len: u32,
    splits: u32,
    accumulate: u32,
    y_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let e = (wg.y * nwg.x + wg.x) * 256u + li;
    if (e >= p.len) {
        return;
    }
    var s = 0.0;
    if (p.accumulate != 0u) {
        s = y[p.y_off + e];
    }
    for (var k = 0u; k < p.splits; k++) {
        s += partial[k * p.len + e];
    }
    y[p.y_off + e] = s;
}
