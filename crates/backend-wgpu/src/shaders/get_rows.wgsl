// out[i] = W[ids[i]] · scale for the ids that fall in this buffer part [row_lo, row_hi);
// one thread per 32-value chunk of one id.

struct Params {
    n_ids: u32,
    cols: u32,
    row_bytes: u32,
    row_lo: u32,
    row_hi: u32,
    out_off: u32,
    ids_off: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    let i = gid.y;
    if (i >= p.n_ids || c * 32u >= p.cols) {
        return;
    }
    let id = ids[p.ids_off + i];
    if (id < p.row_lo || id >= p.row_hi) {
        return;
    }
    var v = dq_chunk((id - p.row_lo) * p.row_bytes, c, p.cols);
    let o = p.out_off + i * p.cols + c * 32u;
    let m = min(32u, p.cols - c * 32u);
    for (var k = 0u; k < m; k++) {
        out[o + k] = v[k] * p.scale;
    }
}
