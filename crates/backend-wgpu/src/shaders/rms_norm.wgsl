// x[g] = x[g] · (mean(x[g]²) + eps)^(-1/2) · w, one workgroup per group of `width` values.

struct Params {
    groups: u32,
    width: u32,
    has_w: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;

// Row `g` of the dispatch; `li` is the thread's index in its 256-thread workgroup.
fn body(g: u32, li: u32) {
    // `g` is uniform over the workgroup, so the early exit keeps barriers uniform.
    if (g >= p.groups) {
        return;
    }
    let o = g * p.width;
    var ss = 0.0;
    for (var i = li; i < p.width; i += 256u) {
        let v = x[o + i];
        ss = fma(v, v, ss);
    }
    let total = reduce_sum(ss, li);
    let s = inverseSqrt(total / f32(p.width) + p.eps);
    for (var i = li; i < p.width; i += 256u) {
        var v = x[o + i] * s;
        if (p.has_w != 0u) {
            v = v * wt[i];
        }
        x[o + i] = v;
    }
}
