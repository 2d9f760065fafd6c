// Element-wise ops over `n` values, 256 per workgroup on a 2-D grid (more than 65535 groups).

struct Params {
    n: u32,
    a_off: u32,
    b_off: u32,
    s: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

fn index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

// GELU, tanh approximation (gelu_pytorch_tanh). tanh is written through exp of a non-positive
// argument so large |x| cannot overflow to inf/inf.
fn gelu_tanh(x: f32) -> f32 {
    let u = 0.7978846 * (x + 0.044715 * x * x * x);
    let e = exp(-2.0 * abs(u));
    let th = sign(u) * (1.0 - e) / (1.0 + e);
    return 0.5 * x * (1.0 + th);
}

fn tanh_safe(u: f32) -> f32 {
    let e = exp(-2.0 * abs(u));
    return sign(u) * (1.0 - e) / (1.0 + e);
}

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if (i < p.n) {
        a[p.a_off + i] = a[p.a_off + i] + b[p.b_off + i];
    }
}

@compute @workgroup_size(256)
fn gelu_mul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if (i < p.n) {
        a[p.a_off + i] = gelu_tanh(a[p.a_off + i]) * b[p.b_off + i];
    }
}

@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if (i < p.n) {
        a[p.a_off + i] = a[p.a_off + i] * p.s;
    }
}

@compute @workgroup_size(256)
fn softcap(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if (i < p.n) {
        a[p.a_off + i] = p.s * tanh_safe(a[p.a_off + i] / p.s);
    }
}
