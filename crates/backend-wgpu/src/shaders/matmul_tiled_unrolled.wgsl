// The tiled product of matmul_tiled.wgsl (same work items, parameters and tile: 64 rows × BN
// tokens per 64-thread workgroup, weights decoded once per tile chunk into workgroup memory),
// with every per-thread array replaced by named scalars and every per-thread loop unrolled by
// the host (tiled_source.rs fills the `//@` lines), so no array is indexed by a loop variable
// and the accumulators can live in registers on drivers that do not unroll SPIR-V loops.

struct Params {
    cols: u32,
    x_off: u32,
    y_off: u32,
    y_stride: u32,
    row_bytes: u32,
    items_off: u32,
}

struct Item {
    w_row0: u32,
    nrows: u32,
    y_col0: u32,
    t0: u32,
    tcnt: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> lists: array<u32>;

const BM: u32 = 64u;
const BN: u32 = 8u * TJ;
var<workgroup> ws: array<f32, 2048>;
var<workgroup> xs: array<f32, BN * 32u>;

fn item(i: u32) -> Item {
    let o = p.items_off + i * 5u;
    return Item(lists[o], lists[o + 1u], lists[o + 2u], lists[o + 3u], lists[o + 4u]);
}

// Output (row r0 + r, token t) of the tile, if inside the item.
fn put(it: Item, r0: u32, r: u32, t: u32, v: f32) {
    if (t < it.tcnt && r0 + r < it.nrows) {
        y[p.y_off + (it.t0 + t) * p.y_stride + it.y_col0 + r0 + r] = v;
    }
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let it = item(wg.y);
    let r0 = wg.x * BM;
    if (r0 >= it.nrows) {
        return;
    }
    let tr = li % 8u;
    let tt = li / 8u;
    let my_row = r0 + li;
    let has_row = my_row < it.nrows;
    let rb = (it.w_row0 + my_row) * p.row_bytes;
//@DECLS
    let nch = (p.cols + 31u) / 32u;
    for (var c = 0u; c < nch; c++) {
        if (has_row) {
            let d = dq_chunk(rb, c, p.cols);
//@STORE
        } else {
//@ZERO
        }
        for (var i = li; i < BN * 32u; i += 64u) {
            let t = i / 32u;
            let k = i % 32u;
            let col = c * 32u + k;
            var v = 0.0;
            if (t < it.tcnt && col < p.cols) {
                v = x[p.x_off + (it.t0 + t) * p.cols + col];
            }
            xs[t * 32u + (k ^ (t & 31u))] = v;
        }
        workgroupBarrier();
        for (var k = 0u; k < 32u; k++) {
//@STEP
        }
        workgroupBarrier();
    }
//@OUTPUT
}
