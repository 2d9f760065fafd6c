// Partial products y_s[t, c] = Σ_v x[t, x_col0 + v] · W[w_row0 + v, c] over the weight rows
// v ∈ [s · split, (s + 1) · split) of this dispatch's `rows`, one split s per workgroup z; the
// `sum_splits` kernel adds the splits in order (no atomics: the result does not depend on
// scheduling). Splitting the rows (the vocabulary, 262 144 for the soft embedding) is what gives
// one dispatch enough workgroups: the columns and tokens alone make only ~200 tiles.
//
// A 64-thread workgroup owns 64 columns × BN tokens (BN = 8·TJ) and walks its rows 32 at a time:
// each thread decodes one (row, 32-column chunk) into workgroup memory, the tokens' 32
// probabilities are staged beside them, and each thread accumulates 8 columns × TJ tokens.

struct Params {
    n: u32,
    rows: u32,
    cols: u32,
    x_stride: u32,
    x_col0: u32,
    row_bytes: u32,
    // First weight row of this dispatch within the part.
    w_row0: u32,
    // Rows per split (a multiple of 32).
    split: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const BN: u32 = 8u * TJ;
// Decoded weights: ws[v · 64 + (col ^ (v & 31))] (XOR swizzle: conflict-free column reads).
var<workgroup> ws: array<f32, 2048>;
// Probabilities: xs[t · 32 + (v ^ (t & 31))].
var<workgroup> xs: array<f32, BN * 32u>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let c0 = wg.x * 64u;
    let t0 = wg.y * BN;
    let v_lo = wg.z * p.split;
    let v_hi = min(p.rows, v_lo + p.split);
    let tr = li % 8u;
    let tt = li / 8u;
    // This thread's decode job in every step: row (li / 2) of the step, chunk (li % 2) of the tile.
    let my_v = li / 2u;
    let my_half = li % 2u;
    let my_chunk = wg.x * 2u + my_half;
    let nch = (p.cols + 31u) / 32u;
    var acc: array<array<f32, TJ>, 8>;
    for (var v0 = v_lo; v0 < v_hi; v0 += 32u) {
        let v = v0 + my_v;
        let sw = my_v & 31u;
        if (v < v_hi && my_chunk < nch) {
            let d = dq_chunk((p.w_row0 + v) * p.row_bytes, my_chunk, p.cols);
            for (var k = 0u; k < 32u; k++) {
                ws[my_v * 64u + ((my_half * 32u + k) ^ sw)] = d[k];
            }
        } else {
            for (var k = 0u; k < 32u; k++) {
                ws[my_v * 64u + ((my_half * 32u + k) ^ sw)] = 0.0;
            }
        }
        for (var i = li; i < BN * 32u; i += 64u) {
            let t = i / 32u;
            let k = i % 32u;
            var xv = 0.0;
            if (t0 + t < p.n && v0 + k < v_hi) {
                xv = x[(t0 + t) * p.x_stride + p.x_col0 + v0 + k];
            }
            xs[t * 32u + (k ^ (t & 31u))] = xv;
        }
        workgroupBarrier();
        for (var k = 0u; k < 32u; k++) {
            var a: array<f32, 8>;
            for (var i = 0u; i < 8u; i++) {
                a[i] = ws[k * 64u + ((tr + 8u * i) ^ k)];
            }
            for (var j = 0u; j < TJ; j++) {
                let t = tt + 8u * j;
                let b = xs[t * 32u + (k ^ (t & 31u))];
                for (var i = 0u; i < 8u; i++) {
                    acc[i][j] = fma(a[i], b, acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var j = 0u; j < TJ; j++) {
        let t = t0 + tt + 8u * j;
        if (t < p.n) {
            for (var i = 0u; i < 8u; i++) {
                let c = c0 + tr + 8u * i;
                if (c < p.cols) {
                    y[(wg.z * p.n + t) * p.cols + c] = acc[i][j];
                }
            }
        }
    }
}
