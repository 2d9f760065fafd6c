//! Products with weights: `y = x Wᵀ`, `y = x W`, and row gathers, dispatched per weight part.

use crate::buffer::WgpuBuffer;
use crate::kernels::Kernel;
use crate::recorder::{u, Bind, Recorder};
use crate::weight::WgpuWeight;

/// Where the activations of a product live: `n` rows of `x` starting at element `x_off`, results
/// to `y` at element `y_off` with rows `y_stride` apart.
pub(crate) struct Operands<'a> {
    pub(crate) x: &'a wgpu::Buffer,
    pub(crate) x_off: usize,
    pub(crate) n: usize,
    pub(crate) y: &'a wgpu::Buffer,
    pub(crate) y_off: usize,
    pub(crate) y_stride: usize,
}

/// Token counts up to this use the row-splitting kernel (`matmul_rows`), larger ones the
/// one-row-per-thread kernel (`matmul`): on the H200 the tiled kernel measured 2.8× slower than
/// that one for single products at n = 256 (docs/gpu.md), so it serves only the grouped MoE.
const FEW_TOKENS: usize = 8;
/// Weight rows of one tiled workgroup (`BM` in matmul_tiled.wgsl).
const TILE_ROWS: usize = 64;

/// One block of a tiled product: flattened weight rows `lo .. lo + nrows` times the tokens
/// `t0 .. t0 + tcnt` (rows of `x` and `y` counted from the operands' offsets).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub(crate) lo: usize,
    pub(crate) t0: usize,
    pub(crate) tcnt: usize,
}

/// Tokens per thread of the tiled kernel (a tile covers 8 × this) for token groups of about
/// `avg` tokens: small tiles for the ~16-token expert groups, 64 tokens for whole canvases.
pub(crate) fn tokens_per_thread(avg: usize) -> u32 {
    match avg {
        0..=16 => 2,
        17..=32 => 4,
        _ => 8,
    }
}

/// Workgroups below which a tiled product trades weight reuse for parallelism: a GPU needs
/// several 64-thread workgroups per multiprocessor in flight (an H200 has 132), which a
/// [4096, 2816] projection at n = 256 with 64-token tiles (256 workgroups) does not give.
const ENOUGH_WORKGROUPS: usize = 1024;

/// Tokens per thread for one tiled `nrows × n` product: [`tokens_per_thread`], halved (down to
/// 2) while the grid has fewer than [`ENOUGH_WORKGROUPS`].
fn tile_tokens(nrows: usize, n: usize) -> u32 {
    let mut tj = tokens_per_thread(n);
    while tj > 2 && nrows.div_ceil(TILE_ROWS) * n.div_ceil(8 * tj as usize) < ENOUGH_WORKGROUPS {
        tj /= 2;
    }
    tj
}

/// `y[t, r] = W[lo + r] · x[t]` for the flattened weight rows `lo .. lo + nrows` (an expert's
/// rows are `e · rows ..`), one dispatch per part they span.
pub(crate) fn record_matmul(rec: &mut Recorder<'_>, w: &WgpuWeight, lo: usize, nrows: usize, o: &Operands<'_>) {
    if o.n > FEW_TOKENS && rec.unrolled_tiles() {
        let job = Job { lo, t0: 0, tcnt: o.n };
        record_tiled(rec, w, &[job], nrows, o, tile_tokens(nrows, o.n));
        return;
    }
    let cols = w.shape.cols;
    for (part, prow, cnt, out_col) in w.spans(lo, lo + nrows) {
        let params = [
            u(o.n),
            u(cols),
            u(cnt),
            u(o.x_off),
            u(o.y_off),
            u(o.y_stride),
            u(out_col),
            u(prow),
            u(w.row_bytes),
        ];
        let binds = [Bind::Buf(&part.buf), Bind::Buf(o.x), Bind::Buf(o.y)];
        if o.n <= FEW_TOKENS {
            rec.dispatch(Kernel::MatmulRows(w.ty), &params, &binds, [cnt.div_ceil(8) as u32, 1, 1]);
        } else {
            rec.dispatch(Kernel::Matmul(w.ty), &params, &binds, [cnt.div_ceil(64) as u32, o.n.div_ceil(8) as u32, 1]);
        }
    }
}

/// Every job's `nrows` weight rows × its tokens in one tiled dispatch per weight part: the jobs'
/// token ranges are cut into tiles of `8 · tj` tokens, and a job whose rows straddle two parts
/// is split between the parts' dispatches. Output column `r` of a job is its row `lo + r`.
pub(crate) fn record_tiled(rec: &mut Recorder<'_>, w: &WgpuWeight, jobs: &[Job], nrows: usize, o: &Operands<'_>, tj: u32) {
    let bn = 8 * tj as usize;
    for part in &w.parts {
        let (p_lo, p_hi) = (part.row0, part.row0 + part.rows);
        let mut items: Vec<u32> = Vec::new();
        let mut widest = 0;
        for j in jobs {
            let (a, b) = (j.lo.max(p_lo), (j.lo + nrows).min(p_hi));
            if a >= b || j.tcnt == 0 {
                continue;
            }
            widest = widest.max(b - a);
            for t in (0..j.tcnt).step_by(bn) {
                items.extend([u(a - p_lo), u(b - a), u(a - j.lo), u(j.t0 + t), u(bn.min(j.tcnt - t))]);
            }
        }
        if items.is_empty() {
            continue;
        }
        let items_off = rec.aux(&items);
        let params = [u(w.shape.cols), u(o.x_off), u(o.y_off), u(o.y_stride), u(w.row_bytes), items_off];
        let groups = [widest.div_ceil(TILE_ROWS) as u32, (items.len() / 5) as u32, 1];
        rec.dispatch(
            Kernel::MatmulTiled(w.ty, tj, rec.unrolled_tiles()),
            &params,
            &[Bind::Buf(&part.buf), Bind::Buf(o.x), Bind::Buf(o.y), Bind::Aux],
            groups,
        );
    }
}

pub(crate) fn matmul(rec: &mut Recorder<'_>, w: &WgpuWeight, x: &WgpuBuffer, n: usize, y: &WgpuBuffer) {
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    assert!(x.len >= n * cols && y.len >= n * rows, "matmul: buffers too small");
    let o = Operands { x: &x.buf, x_off: 0, n, y: &y.buf, y_off: 0, y_stride: rows };
    record_matmul(rec, w, 0, rows, &o);
}

/// Weight rows one `matmul_t` dispatch walks. Each workgroup loops over all of them; on Mesa
/// lavapipe (llvmpipe 15) a dispatch whose loop ran past ~55 000 rows (~860 iterations of 64)
/// silently dropped the rest (measured: rows ≥ 56 000 contributed 0), so long parts — the
/// 262 144-row embedding — are walked in chunks that accumulate.
const MATMUL_T_ROWS: usize = 16_384;

/// `y [n, cols] = x [n, rows] · W`: dispatches after the first accumulate into `y`.
pub(crate) fn matmul_transposed(rec: &mut Recorder<'_>, w: &WgpuWeight, x: &WgpuBuffer, n: usize, y: &WgpuBuffer) {
    let (rows, cols) = (w.shape.rows, w.shape.cols);
    assert!(x.len >= n * rows && y.len >= n * cols, "matmul_transposed: buffers too small");
    let groups = [cols.div_ceil(32) as u32, n.div_ceil(8) as u32, 1];
    let mut first = true;
    for (part, prow, cnt, _) in w.spans(0, rows) {
        debug_assert_eq!(prow, 0);
        for r0 in (0..cnt.max(1)).step_by(MATMUL_T_ROWS) {
            let len = MATMUL_T_ROWS.min(cnt - r0);
            let params =
                [u(n), u(len), u(cols), 0, u(rows), u(part.row0 + r0), 0, (!first) as u32, u(w.row_bytes), u(r0)];
            rec.dispatch(Kernel::MatmulT(w.ty), &params, &[Bind::Buf(&part.buf), Bind::Buf(&x.buf), Bind::Buf(&y.buf)], groups);
            first = false;
        }
    }
}

/// `out[i] = W[ids[i]] · scale`; every part checks which ids it holds.
pub(crate) fn get_rows(rec: &mut Recorder<'_>, w: &WgpuWeight, ids: &[u32], scale: f32, out: &WgpuBuffer) {
    let cols = w.shape.cols;
    assert!(out.len >= ids.len() * cols, "get_rows: output too small");
    let ids_off = rec.aux(ids);
    for part in &w.parts {
        let params =
            [u(ids.len()), u(cols), u(w.row_bytes), u(part.row0), u(part.row0 + part.rows), 0, ids_off, scale.to_bits()];
        let groups = [cols.div_ceil(32).div_ceil(64) as u32, u(ids.len()), 1];
        rec.dispatch(Kernel::GetRows(w.ty), &params, &[Bind::Buf(&part.buf), Bind::Aux, Bind::Buf(&out.buf)], groups);
    }
}
