// Helpers of the grouped mixture of experts (the expert matmuls are the ordinary matmul kernel):
// gather routed rows, GELU-gate the [gate ‖ up] halves, scatter weighted results to their
// (row, pick) slots, and sum the slots of each row in pick order.

struct Params {
    n: u32,
    h: u32,
    inter: u32,
    k: u32,
    list_off: u32,
    wgt_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> lists: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

fn gelu_tanh(x: f32) -> f32 {
    let u = 0.7978846 * (x + 0.044715 * x * x * x);
    let e = exp(-2.0 * abs(u));
    return 0.5 * x * (1.0 + sign(u) * (1.0 - e) / (1.0 + e));
}

// dst[i, :] = src[slot_i / k, :] for the n slots in expert order (n · h threads).
@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let e = index(wg, nwg, li);
    if (e >= p.n * p.h) {
        return;
    }
    let i = e / p.h;
    let c = e % p.h;
    let row = lists[p.list_off + i] / p.k;
    dst[e] = src[row * p.h + c];
}

// dst[i, c] = gelu(src[i, c]) · src[i, inter + c] for src [n, 2·inter] (n · inter threads).
@compute @workgroup_size(256)
fn gelu_split(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let e = index(wg, nwg, li);
    if (e >= p.n * p.inter) {
        return;
    }
    let i = e / p.inter;
    let c = e % p.inter;
    let g = src[i * 2u * p.inter + c];
    let u = src[i * 2u * p.inter + p.inter + c];
    dst[e] = gelu_tanh(g) * u;
}

// dst[slot_i, :] = weight_i · src[i, :] (n · h threads).
@compute @workgroup_size(256)
fn scatter(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let e = index(wg, nwg, li);
    if (e >= p.n * p.h) {
        return;
    }
    let i = e / p.h;
    let c = e % p.h;
    let slot = lists[p.list_off + i];
    let wgt = bitcast<f32>(lists[p.wgt_off + i]);
    dst[slot * p.h + c] = wgt * src[e];
}

// dst[r, c] = Σ_j src[r·k + j, c] for n rows (n · h threads).
@compute @workgroup_size(256)
fn sum_slots(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let e = index(wg, nwg, li);
    if (e >= p.n * p.h) {
        return;
    }
    let r = e / p.h;
    let c = e % p.h;
    var acc = 0.0;
    for (var j = 0u; j < p.k; j++) {
        acc += src[(r * p.k + j) * p.h + c];
    }
    dst[e] = acc;
}
