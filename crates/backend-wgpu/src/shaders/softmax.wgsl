// out[r] = softmax(x[r]) with max subtraction, one workgroup per row.

struct Params {
    rows: u32,
    width: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// Row `r` of the dispatch; `li` is the thread's index in its 256-thread workgroup.
fn body(r: u32, li: u32) {
    if (r >= p.rows) {
        return;
    }
    let o = r * p.width;
    var m = -3.4e38;
    for (var i = li; i < p.width; i += 256u) {
        m = max(m, x[o + i]);
    }
    m = reduce_max(m, li);
    var z = 0.0;
    for (var i = li; i < p.width; i += 256u) {
        let e = exp(x[o + i] - m);
        out[o + i] = e;
        z += e;
    }
    z = reduce_sum(z, li);
    let inv = 1.0 / z;
    for (var i = li; i < p.width; i += 256u) {
        out[o + i] = out[o + i] * inv;
    }
}
