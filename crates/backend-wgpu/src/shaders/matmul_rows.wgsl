// y[t, y_col0 + r] = Σ_c W[w_row0 + r, c] · x[t, c] for few tokens (the host uses it for n ≤ 8):
// 32 threads share one weight row, each decoding every 32nd 32-value chunk (neighbouring threads
// read neighbouring blocks) and dotting it with up to 8 tokens; the 32 partial sums are added in
// workgroup memory in a fixed order. A workgroup owns 8 rows × 8 tokens.

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
// Partial sums: red[t · 256 + li].
var<workgroup> red: array<f32, 2048>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let lane = li % 32u;
    let r = wg.x * 8u + li / 32u;
    let t0 = wg.y * TN;
    let tn = min(TN, p.n - t0);
    var acc: array<f32, 8>;
    if (r < p.nrows) {
        let rb = (p.w_row0 + r) * p.row_bytes;
        let nch = (p.cols + 31u) / 32u;
        for (var c = lane; c < nch; c += 32u) {
            let d = dq_chunk(rb, c, p.cols);
            let col0 = c * 32u;
            for (var t = 0u; t < tn; t++) {
                let xb = p.x_off + (t0 + t) * p.cols + col0;
                var s = 0.0;
                for (var k = 0u; k < 32u; k++) {
                    // d[k] is 0 past the row's end; x there belongs to another row (or none).
                    var xv = 0.0;
                    if (col0 + k < p.cols) {
                        xv = x[xb + k];
                    }
                    s = fma(d[k], xv, s);
                }
                acc[t] += s;
            }
        }
    }
    for (var t = 0u; t < TN; t++) {
        red[t * 256u + li] = acc[t];
    }
    workgroupBarrier();
    for (var s = 16u; s > 0u; s >>= 1u) {
        if (lane < s) {
            for (var t = 0u; t < TN; t++) {
                red[t * 256u + li] += red[t * 256u + li + s];
            }
        }
        workgroupBarrier();
    }
    if (r < p.nrows && lane < tn) {
        y[p.y_off + (t0 + lane) * p.y_stride + p.y_col0 + r] = red[lane * 256u + li - lane];
    }
}
