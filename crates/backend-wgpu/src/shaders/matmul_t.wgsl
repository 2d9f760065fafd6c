// y[t, c] (+)= Σ_v x[t, x_col0 + v] · W[w_row0 + v, c] for `rows` weight rows of one buffer part.
// A workgroup owns one 32-column chunk × 8 tokens and walks the rows 64 at a time: each thread
// decodes one row's chunk into shared memory, then each thread accumulates 4 columns of one token.

struct Params {
    n: u32,
    rows: u32,
    cols: u32,
    x_off: u32,
    x_stride: u32,
    x_col0: u32,
    y_off: u32,
    accumulate: u32,
    row_bytes: u32,
    // First weight row of this dispatch within the part (the host walks long parts in chunks).
    w_row0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> ws: array<f32, 2048>;
var<workgroup> xs: array<f32, 512>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let c = wg.x;
    let t0 = wg.y * 8u;
    let t = li / 8u;
    let c4 = (li % 8u) * 4u;
    var acc = vec4<f32>(0.0);
    for (var v0 = 0u; v0 < p.rows; v0 += 64u) {
        let v = v0 + li;
        if (v < p.rows) {
            var d = dq_chunk((p.w_row0 + v) * p.row_bytes, c, p.cols);
            for (var k = 0u; k < 32u; k++) {
                ws[li * 32u + k] = d[k];
            }
        } else {
            for (var k = 0u; k < 32u; k++) {
                ws[li * 32u + k] = 0.0;
            }
        }
        for (var i = li; i < 512u; i += 64u) {
            let tt = t0 + i / 64u;
            let vv = v0 + i % 64u;
            var xv = 0.0;
            if (tt < p.n && vv < p.rows) {
                xv = x[p.x_off + tt * p.x_stride + p.x_col0 + vv];
            }
            xs[i] = xv;
        }
        workgroupBarrier();
        for (var j = 0u; j < 64u; j++) {
            let xv = xs[t * 64u + j];
            let o = j * 32u + c4;
            acc += xv * vec4<f32>(ws[o], ws[o + 1u], ws[o + 2u], ws[o + 3u]);
        }
        workgroupBarrier();
    }
    if (t0 + t < p.n) {
        for (var q = 0u; q < 4u; q++) {
            let col = c * 32u + c4 + q;
            if (col < p.cols) {
                let idx = p.y_off + (t0 + t) * p.cols + col;
                if (p.accumulate != 0u) {
                    y[idx] = y[idx] + acc[q];
                } else {
                    y[idx] = acc[q];
                }
            }
        }
    }
}
