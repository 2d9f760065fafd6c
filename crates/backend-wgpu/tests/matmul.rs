//! Weight products and row gathers on the GPU vs the f64 product of the decoded weights (tight)
//! and vs the CPU backend (which quantizes activations to 8 bits for block types: looser).

mod common;

use common::*;
use dgemma_backend::{Backend, WeightShape};
use dgemma_backend_wgpu::{WgpuBackend, WEIGHT_TYPES};
use dgemma_quant::GgmlType;

/// GPU vs exact product of the decoded weights: only f32 summation order differs.
const TOL_EXACT: f64 = 2e-5;
/// GPU vs CPU backend for float weights (same decoded values, different summation order).
const TOL_CPU_FLOAT: f64 = 2e-5;
/// GPU vs CPU backend for block weights, relative to Σ|w·x| of each output: the CPU rounds
/// activations to 8 bits first (≤ 1/254 of each term).
const TOL_CPU_QUANT: f64 = 1e-2;

fn shape(rows: usize, cols: usize) -> WeightShape {
    WeightShape { rows, cols, experts: 1 }
}

/// Column counts to try for `ty`: odd ones for floats, 704/2112-like widths for 32-blocks.
fn widths(ty: GgmlType) -> &'static [usize] {
    match ty.block_size() {
        1 => &[1, 45, 96],
        32 => &[32, 96, 704],
        _ => &[256, 512],
    }
}

fn reference(w: &[f32], x: &[f32], n: usize, rows: usize, cols: usize) -> Vec<f32> {
    products(w, x, n, rows, cols).0
}

/// `(Σ w·x, Σ |w·x|)` per output: the second bounds the rounding of any summation order.
fn products(w: &[f32], x: &[f32], n: usize, rows: usize, cols: usize) -> (Vec<f32>, Vec<f32>) {
    let mut y = vec![0f32; n * rows];
    let mut a = vec![0f32; n * rows];
    for t in 0..n {
        for r in 0..rows {
            let terms = (0..cols).map(|c| w[r * cols + c] as f64 * x[t * cols + c] as f64);
            y[t * rows + r] = terms.clone().sum::<f64>() as f32;
            a[t * rows + r] = terms.map(f64::abs).sum::<f64>() as f32;
        }
    }
    (y, a)
}

fn check_matmul(g: &WgpuBackend, ty: GgmlType, rows: usize, cols: usize, n: usize, seed: u64) {
    let what = format!("matmul {ty:?} [{rows}, {cols}] n={n}");
    let (bytes, dec) = weight(ty, shape(rows, cols), seed);
    let x = Rng::new(seed + 1).vec(n * cols, 1.0);
    let (want, bound) = products(&dec, &x, n, rows, cols);

    let wg = g.upload_weight(source("w", ty, shape(rows, cols), &bytes)).expect("upload");
    let xg = buf(g, &x);
    let mut yg = g.alloc(n * rows);
    g.matmul(&wg, &xg, n, &mut yg);
    let got = get(g, &yg, n * rows);
    assert_close(&what, &got, &want, TOL_EXACT);

    let c = cpu();
    let wc = c.upload_weight(source("w", ty, shape(rows, cols), &bytes)).expect("cpu upload");
    let xc = buf(c, &x);
    let mut yc = c.alloc(n * rows);
    c.matmul(&wc, &xc, n, &mut yc);
    let tol = if ty.block_size() == 1 { TOL_CPU_FLOAT } else { TOL_CPU_QUANT };
    assert_within(&format!("{what} vs cpu"), &got, &yc, &bound, tol);
}

#[test]
fn matmul_f32_small() {
    check_matmul(gpu(), GgmlType::F32, 5, 7, 3, 1);
}

#[test]
fn matmul_every_type_and_odd_shapes() {
    for (i, ty) in WEIGHT_TYPES.into_iter().enumerate() {
        for (j, &cols) in widths(ty).iter().enumerate() {
            for (k, &(rows, n)) in [(1, 1), (67, 3), (130, 17)].iter().enumerate() {
                check_matmul(gpu(), ty, rows, cols, n, (i * 100 + j * 10 + k) as u64);
            }
        }
    }
}

#[test]
fn matmul_canvas_sized_batch() {
    // n = 256 (a whole canvas) across several token tiles and a partial row tile.
    check_matmul(gpu(), GgmlType::Q4_K, 70, 256, 256, 7);
    check_matmul(gpu(), GgmlType::Q8_0, 65, 64, 256, 8);
    // Partial token and row tiles of the one-row-per-thread kernel, and the largest token count
    // of the row-splitting kernel (the tiled kernel of the grouped MoE is tested in ops.rs).
    check_matmul(gpu(), GgmlType::F16, 67, 45, 12, 9);
    check_matmul(gpu(), GgmlType::Q6_K, 129, 512, 29, 10);
    check_matmul(gpu(), GgmlType::Q5_0, 3, 96, 71, 11);
    check_matmul(gpu(), GgmlType::BF16, 130, 96, 8, 12);
}

#[test]
fn split_weights_match_unsplit() {
    // Parts of at most 1 KiB: a [50, 96] Q8_0 weight (102 B rows) spans 6 parts.
    let g = open(Some(1024));
    let (ty, rows, cols, n) = (GgmlType::Q8_0, 50, 96, 5);
    let (bytes, dec) = weight(ty, shape(rows, cols), 42);
    let w = g.upload_weight(source("w", ty, shape(rows, cols), &bytes)).expect("upload");
    assert!(w.parts() >= 5, "expected a split, got {} part(s)", w.parts());
    let x = Rng::new(43).vec(n * cols, 1.0);
    let xg = buf(&g, &x);
    let mut y = g.alloc(n * rows);
    g.matmul(&w, &xg, n, &mut y);
    assert_close("split matmul", &get(&g, &y, n * rows), &reference(&dec, &x, n, rows, cols), TOL_EXACT);
    // More than 8 tokens (the other kernel) over the same parts.
    let nt = 40;
    let xt = Rng::new(45).vec(nt * cols, 1.0);
    let mut yt = g.alloc(nt * rows);
    g.matmul(&w, &buf(&g, &xt), nt, &mut yt);
    assert_close("split matmul n=40", &get(&g, &yt, nt * rows), &reference(&dec, &xt, nt, rows, cols), TOL_EXACT);

    // matmul_transposed accumulates over parts; get_rows picks the right part per id.
    let p = Rng::new(44).vec(n * rows, 1.0);
    let pg = buf(&g, &p);
    let mut yt = g.alloc(n * cols);
    g.matmul_transposed(&w, &pg, n, &mut yt);
    assert_close("split matmul_transposed", &get(&g, &yt, n * cols), &reference_t(&dec, &p, n, rows, cols), TOL_EXACT);

    let ids = [0u32, 49, 7, 25, 13];
    let mut out = g.alloc(ids.len() * cols);
    g.get_rows(&w, &ids, 0.5, &mut out);
    let want: Vec<f32> = ids.iter().flat_map(|&i| dec[i as usize * cols..(i as usize + 1) * cols].iter().map(|v| v * 0.5)).collect();
    assert_eq!(get(&g, &out, ids.len() * cols), want, "split get_rows");
}

fn reference_t(w: &[f32], x: &[f32], n: usize, rows: usize, cols: usize) -> Vec<f32> {
    let mut y = vec![0f32; n * cols];
    for t in 0..n {
        for c in 0..cols {
            let s: f64 = (0..rows).map(|r| w[r * cols + c] as f64 * x[t * rows + r] as f64).sum();
            y[t * cols + c] = s as f32;
        }
    }
    y
}

#[test]
fn matmul_transposed_every_type() {
    let g = gpu();
    let c = cpu();
    for (i, ty) in WEIGHT_TYPES.into_iter().enumerate() {
        let cols = widths(ty)[1];
        for (rows, n) in [(3, 1), (70, 17), (130, 3)] {
            let what = format!("matmul_transposed {ty:?} [{rows}, {cols}] n={n}");
            let (bytes, dec) = weight(ty, shape(rows, cols), i as u64 + 500);
            let x = Rng::new(i as u64 + 600).vec(n * rows, 1.0);
            let want = reference_t(&dec, &x, n, rows, cols);
            let w = g.upload_weight(source("w", ty, shape(rows, cols), &bytes)).expect("upload");
            let mut y = g.alloc(n * cols);
            g.matmul_transposed(&w, &buf(g, &x), n, &mut y);
            let got = get(g, &y, n * cols);
            assert_close(&what, &got, &want, TOL_EXACT);
            let wc = c.upload_weight(source("w", ty, shape(rows, cols), &bytes)).expect("cpu upload");
            let mut yc = c.alloc(n * cols);
            c.matmul_transposed(&wc, &buf(c, &x), n, &mut yc);
            assert_close(&format!("{what} vs cpu"), &got, &yc, TOL_CPU_FLOAT);
        }
    }
}

#[test]
fn get_rows_every_type_is_exact() {
    let g = gpu();
    let c = cpu();
    for (i, ty) in WEIGHT_TYPES.into_iter().enumerate() {
        let (rows, cols) = (40, widths(ty)[1]);
        let (bytes, _) = weight(ty, shape(rows, cols), i as u64 + 900);
        let ids = [3u32, 0, 39, 3, 17];
        let w = g.upload_weight(source("emb", ty, shape(rows, cols), &bytes)).expect("upload");
        let mut out = g.alloc(ids.len() * cols);
        g.get_rows(&w, &ids, 1.75, &mut out);
        let wc = c.upload_weight(source("emb", ty, shape(rows, cols), &bytes)).expect("cpu upload");
        let mut oc = c.alloc(ids.len() * cols);
        c.get_rows(&wc, &ids, 1.75, &mut oc);
        assert_eq!(get(g, &out, ids.len() * cols), oc, "get_rows {ty:?}");
    }
}

#[test]
fn upload_rejects_bad_sizes_and_types() {
    let g = gpu();
    let err = g.upload_weight(source("bad", GgmlType::Q8_0, shape(2, 32), &[0u8; 67])).err().expect("bad size rejected");
    assert!(err.to_string().contains("68"), "{err}");
    let err = g.upload_weight(source("iq", GgmlType::IQ2_XXS, shape(1, 256), &[0u8; 66])).err().expect("type rejected");
    assert!(err.to_string().contains("not supported"), "{err}");
}

// Regression: one lavapipe dispatch walking ≥ 56 000 weight rows dropped the later rows (found
// with the 262 144-row embedding); the host now walks long parts in chunks. 70 000 rows crosses
// that limit and the 16 384-row chunk boundary several times.
#[test]
fn matmul_transposed_over_many_rows() {
    let (g, c) = (gpu(), cpu());
    let (rows, cols, n) = (70_000, 32, 2);
    let (bytes, _) = weight(GgmlType::F32, shape(rows, cols), 77);
    let x = Rng::new(78).vec(n * rows, 1.0);
    let w = g.upload_weight(source("emb", GgmlType::F32, shape(rows, cols), &bytes)).expect("upload");
    let mut y = g.alloc(n * cols);
    g.matmul_transposed(&w, &buf(g, &x), n, &mut y);
    let wc = c.upload_weight(source("emb", GgmlType::F32, shape(rows, cols), &bytes)).expect("cpu upload");
    let mut yc = c.alloc(n * cols);
    c.matmul_transposed(&wc, &buf(c, &x), n, &mut yc);
    assert_close("matmul_transposed 70000 rows vs cpu", &get(g, &y, n * cols), &yc, TOL_CPU_FLOAT);
}

#[test]
fn matmul_transposed_long_rows_and_token_tiles() {
    // 9 000 rows, n = 70 (partial 8-token tile), 160 columns (five 32-column chunks).
    let g = gpu();
    let (ty, rows, cols, n) = (GgmlType::Q8_0, 9_000, 160, 70);
    let (bytes, dec) = weight(ty, shape(rows, cols), 81);
    let x = Rng::new(82).vec(n * rows, 1.0);
    let w = g.upload_weight(source("emb", ty, shape(rows, cols), &bytes)).expect("upload");
    let mut y = g.alloc(n * cols);
    g.matmul_transposed(&w, &buf(g, &x), n, &mut y);
    assert_close("matmul_transposed Q8_0 [9000, 160] n=70", &get(g, &y, n * cols), &reference_t(&dec, &x, n, rows, cols), TOL_EXACT);
}

#[test]
fn looped_products_every_type() {
    // `no_unrolled_tiles`: the one-row-per-thread kernel for products with n > 8 (the default
    // device, used by the other tests, runs the unrolled tiles), every weight type, partial row
    // and token tiles, and over split weight parts.
    let g = gpu_looped();
    for (i, ty) in WEIGHT_TYPES.into_iter().enumerate() {
        let cols = widths(ty)[1];
        check_matmul(g, ty, 67, cols, 17, 300 + i as u64);
    }
    check_matmul(g, GgmlType::Q4_K, 130, 256, 256, 320);
    let split = open_with(dgemma_backend_wgpu::WgpuOptions { no_unrolled_tiles: true, max_weight_part_bytes: Some(1024), ..Default::default() });
    check_matmul(&split, GgmlType::Q8_0, 50, 96, 40, 321);
}
