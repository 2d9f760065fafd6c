// Attention of q [rows, heads, d] over the keys of `cache` then `new` (GQA), scale 1, with a
// positional mask. One workgroup per (head, row): 64 keys at a time, one per thread, with an
// online softmax (running max and sum); each thread accumulates up to 8 output dims
// (c = li + 64·m), so d ≤ 512.

struct Params {
    rows: u32,
    heads: u32,
    kv_heads: u32,
    d: u32,
    q_pos0: u32,
    c_len: u32,
    c_pos0: u32,
    n_len: u32,
    n_pos0: u32,
    mask: u32,
    window: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> ck: array<f32>;
@group(0) @binding(3) var<storage, read> cv: array<f32>;
@group(0) @binding(4) var<storage, read> nk: array<f32>;
@group(0) @binding(5) var<storage, read> nv: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

// Masked scores; real scores are never this small.
const NEG: f32 = -1.0e30;

var<workgroup> qs: array<f32, 512>;
var<workgroup> ps: array<f32, 64>;
var<workgroup> red: array<f32, 64>;

fn reduce64(v: f32, li: u32, is_max: bool) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (li < s) {
            if (is_max) {
                red[li] = max(red[li], red[li + s]);
            } else {
                red[li] = red[li] + red[li + s];
            }
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// Mask kinds: 0 causal (j ≤ i), 1 causal window (i − w < j ≤ i), 2 bidirectional.
fn allowed(i: u32, j: u32) -> bool {
    if (p.mask == 2u) {
        return true;
    }
    if (j > i) {
        return false;
    }
    return p.mask == 0u || j + p.window > i;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let h = wg.x;
    let r = wg.y;
    let d = p.d;
    let kvh = h / (p.heads / p.kv_heads);
    let kv_w = p.kv_heads * d;
    let qo = (r * p.heads + h) * d;
    for (var c = li; c < d; c += 64u) {
        qs[c] = q[qo + c];
    }
    workgroupBarrier();
    let i = p.q_pos0 + r;
    let total = p.c_len + p.n_len;
    var m = NEG;
    var l = 0.0;
    var o: array<f32, 8>;
    for (var j0 = 0u; j0 < total; j0 += 64u) {
        let j = j0 + li;
        var s = NEG;
        if (j < total) {
            let in_cache = j < p.c_len;
            let jj = select(j - p.c_len, j, in_cache);
            let pos = select(p.n_pos0, p.c_pos0, in_cache) + jj;
            if (allowed(i, pos)) {
                let ko = jj * kv_w + kvh * d;
                var acc = 0.0;
                if (in_cache) {
                    for (var c = 0u; c < d; c++) {
                        acc = fma(qs[c], ck[ko + c], acc);
                    }
                } else {
                    for (var c = 0u; c < d; c++) {
                        acc = fma(qs[c], nk[ko + c], acc);
                    }
                }
                s = acc;
            }
        }
        let bm = reduce64(s, li, true);
        let m_new = max(m, bm);
        let factor = exp(m - m_new);
        var pj = 0.0;
        if (s > NEG) {
            pj = exp(s - m_new);
        }
        ps[li] = pj;
        let bsum = reduce64(pj, li, false);
        l = l * factor + bsum;
        m = m_new;
        let cnt = min(64u, total - j0);
        for (var mm = 0u; mm < 8u; mm++) {
            let c = li + 64u * mm;
            if (c < d) {
                var acc = o[mm] * factor;
                for (var t = 0u; t < cnt; t++) {
                    let pt = ps[t];
                    if (pt != 0.0) {
                        let jt = j0 + t;
                        if (jt < p.c_len) {
                            acc = fma(pt, cv[jt * kv_w + kvh * d + c], acc);
                        } else {
                            acc = fma(pt, nv[(jt - p.c_len) * kv_w + kvh * d + c], acc);
                        }
                    }
                }
                o[mm] = acc;
            }
        }
        workgroupBarrier();
    }
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var mm = 0u; mm < 8u; mm++) {
        let c = li + 64u * mm;
        if (c < d) {
            out[qo + c] = o[mm] * inv;
        }
    }
}
