// y[t, y_col0 + r] = Σ_c W[w_row0 + r, c] · x[t, c] for r < nrows, t < n.
// A workgroup owns 64 weight rows × 8 tokens: each thread decodes its row 32 values at a time
// and dots them with the 8 tokens' activations, which the workgroup stages in shared memory,
// so every weight byte is read once per 8 tokens.

struct Params {
    n: u32,
    cols: u32,
    nrows: u32,
    x_off: u32,
    y_off: u32,
    y_stride: u32,
    y_col0: u32,
    w_row0: u32,
    row_bytes: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const TN: u32 = 8u;
var<workgroup> xs: array<f32, 256>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let r = wg.x * 64u + li;
    let t0 = wg.y * TN;
    let rb = (p.w_row0 + r) * p.row_bytes;
    var acc: array<f32, 8>;
    let nch = (p.cols + 31u) / 32u;
    for (var c = 0u; c < nch; c++) {
        for (var i = li; i < 256u; i += 64u) {
            let t = t0 + i / 32u;
            let col = c * 32u + i % 32u;
            var v = 0.0;
            if (t < p.n && col < p.cols) {
                v = x[p.x_off + t * p.cols + col];
            }
            xs[i] = v;
        }
        workgroupBarrier();
        if (r < p.nrows) {
            var wv = dq_chunk(rb, c, p.cols);
            for (var t = 0u; t < TN; t++) {
                var s = 0.0;
                for (var k = 0u; k < 32u; k++) {
                    s = fma(wv[k], xs[t * 32u + k], s);
                }
                acc[t] += s;
            }
        }
        workgroupBarrier();
    }
    if (r < p.nrows) {
        for (var t = 0u; t < TN; t++) {
            if (t0 + t < p.n) {
                y[p.y_off + (t0 + t) * p.y_stride + p.y_col0 + r] = acc[t];
            }
        }
    }
}
