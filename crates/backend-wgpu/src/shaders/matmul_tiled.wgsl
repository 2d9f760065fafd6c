// y[t, y_col0 + r] = Σ_c W[w_row0 + r, c] · x[t, c] over a list of work items, each a block of
// weight rows × a range of tokens (one product: its token tiles; a mixture of experts: each used
// expert's rows × its routed tokens, all experts in one dispatch).
//
// A 64-thread workgroup owns a 64-row × BN-token tile (BN = 8·TJ) of one item and walks the
// columns 32 at a time: each thread decodes one row's 32-value chunk into workgroup memory (the
// weights are read once per tile, not once per token), the tile's activations are staged beside
// them, and each thread accumulates 8 rows × TJ tokens. This is a template: tiled_source.rs sets
// `TJ` and fills the `//@` lines with the per-thread part, either written out on named scalars
// (the default: no array indexed by a loop variable, so the accumulators stay in registers on
// drivers that do not unroll SPIR-V loops) or as loops over per-thread arrays
// (`WgpuOptions::no_unrolled_tiles`). Both sum every output in the same order.

struct Params {
    cols: u32,
    x_off: u32,
    y_off: u32,
    y_stride: u32,
    row_bytes: u32,
    // Offset (words) of the items in `lists`: 5 words each.
    items_off: u32,
}

// One work item: weight rows w_row0 .. w_row0 + nrows of this part, written to output columns
// y_col0 ..; tokens (rows of x and y) t0 .. t0 + tcnt.
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
// Decoded weights, k-major: ws[k · 64 + row].
var<workgroup> ws: array<f32, 2048>;
// Activations, token-major with the column XOR-swizzled by the token (no bank conflicts when
// a row of tokens is written or a column read): xs[t · 32 + (k ^ (t & 31))].
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
    // Whole workgroups leave together, so the barriers below stay uniform.
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
        // This thread's row chunk (zero past the item's rows).
        if (has_row) {
            let d = dq_chunk(rb, c, p.cols);
//@STORE
        } else {
//@ZERO
        }
        // The tile's activations, 32 consecutive columns per token (coalesced reads).
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
