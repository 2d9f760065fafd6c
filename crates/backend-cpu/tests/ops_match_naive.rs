//! Every CPU op against a naive f64 implementation of its definition (dgemma_backend docs,
//! model.md 3-5), plus thread-count independence.

use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask, MoeRoute, WeightShape, WeightSource};
use dgemma_backend_cpu::CpuBackend;
use dgemma_quant::GgmlType;
use dgemma_test_support::{attention_reference, values};

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bf16_bytes(v: &[f32]) -> (Vec<u8>, Vec<f32>) {
    let b: Vec<half::bf16> = v.iter().map(|&x| half::bf16::from_f32(x)).collect();
    (b.iter().flat_map(|x| x.to_le_bytes()).collect(), b.iter().map(|x| x.to_f32()).collect())
}

fn max_diff(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (&x, &y)| m.max((x as f64 - y).abs()))
}

fn naive_matmul(w: &[f32], rows: usize, cols: usize, x: &[f32], n: usize) -> Vec<f64> {
    let mut y = vec![0.0; n * rows];
    for r in 0..n {
        for o in 0..rows {
            y[r * rows + o] = (0..cols).map(|c| x[r * cols + c] as f64 * w[o * cols + c] as f64).sum();
        }
    }
    y
}

#[test]
fn matmul_matches_naive_for_f32_and_bf16_weights() {
    let b = CpuBackend::new(2).unwrap();
    let (rows, cols, n) = (37, 70, 5);
    let w = values(rows * cols, 1);
    let x = values(n * cols, 2);
    let xb = x.clone();
    let bytes = f32_bytes(&w);
    let (bf, wbf) = bf16_bytes(&w);
    for (ty, data, wref) in [(GgmlType::F32, &bytes, &w), (GgmlType::BF16, &bf, &wbf)] {
        let shape = WeightShape { rows, cols, experts: 1 };
        let wt = b.upload_weight(WeightSource { name: "w", ty, shape, data }).unwrap();
        let mut y = b.alloc(n * rows);
        b.matmul(&wt, &xb, n, &mut y);
        assert!(max_diff(&y, &naive_matmul(wref, rows, cols, &x, n)) < 1e-5, "{ty:?}");
    }
}

#[test]
fn matmul_transposed_is_x_times_w_and_skips_nothing_but_zeros() {
    let b = CpuBackend::new(3).unwrap();
    let (rows, cols, n) = (50, 300, 3);
    let w = values(rows * cols, 3);
    let mut x = values(n * rows, 4);
    x[7] = 0.0;
    let data = f32_bytes(&w);
    let wt = b.upload_weight(WeightSource { name: "emb", ty: GgmlType::F32, shape: WeightShape { rows, cols, experts: 1 }, data: &data }).unwrap();
    let mut y = b.alloc(n * cols);
    b.matmul_transposed(&wt, &x, n, &mut y);
    let mut want = vec![0f64; n * cols];
    for r in 0..n {
        for c in 0..cols {
            want[r * cols + c] = (0..rows).map(|v| x[r * rows + v] as f64 * w[v * cols + c] as f64).sum();
        }
    }
    assert!(max_diff(&y, &want) < 1e-5);
}

/// Odd shapes (n = 1, 3, 256; a last column segment narrower than the others; vocabularies that
/// split into several row ranges) and block types, against f64 sums over the decoded weights;
/// results must be bit-identical at 1 and 3 threads.
#[test]
fn matmul_transposed_odd_shapes_and_block_types_match_naive_at_any_thread_count() {
    let (b1, b3) = (CpuBackend::new(1).unwrap(), CpuBackend::new(3).unwrap());
    for (ty, rows, cols, n) in [
        (GgmlType::F32, 1500, 300, 1),
        (GgmlType::BF16, 700, 37, 3),
        (GgmlType::Q8_0, 1100, 288, 3),
        (GgmlType::Q6_K, 1300, 768, 256),
        (GgmlType::Q8_0, 40, 32, 256),
    ] {
        let w = values(rows * cols, 5);
        let mut data = vec![0u8; ty.row_bytes(cols).unwrap() * rows];
        dgemma_quant::quantize(ty, &w, &mut data).unwrap();
        let mut wd = vec![0f32; rows * cols];
        dgemma_quant::dequantize(ty, &data, &mut wd).unwrap();
        let mut x = values(n * rows, 6);
        // A weight row no activation row uses, and scattered zeros.
        for r in 0..n {
            x[r * rows + 3] = 0.0;
        }
        x.iter_mut().step_by(7).for_each(|v| *v = 0.0);
        let shape = WeightShape { rows, cols, experts: 1 };
        let mut ys = Vec::new();
        for b in [&b1, &b3] {
            let wt = b.upload_weight(WeightSource { name: "emb", ty, shape, data: &data }).unwrap();
            let mut y = b.alloc(n * cols);
            b.matmul_transposed(&wt, &x, n, &mut y);
            ys.push(y);
        }
        assert!(ys[0].iter().zip(&ys[1]).all(|(a, b)| a.to_bits() == b.to_bits()), "{ty:?}: thread count changed the result");
        for r in 0..n {
            for c in 0..cols {
                let terms = (0..rows).map(|v| x[r * rows + v] as f64 * wd[v * cols + c] as f64);
                let (want, mag) = terms.fold((0.0, 0.0), |(s, m), t| (s + t, m + t.abs()));
                let got = ys[0][r * cols + c] as f64;
                assert!((got - want).abs() <= 1e-5 * mag + 1e-7, "{ty:?} [{rows}x{cols}] n={n} y[{r},{c}] = {got}, want {want}");
            }
        }
    }
}

#[test]
fn wrong_weight_size_and_unsupported_type_are_errors() {
    let b = CpuBackend::new(1).unwrap();
    let data = vec![0u8; 10];
    let shape = WeightShape { rows: 2, cols: 2, experts: 1 };
    assert!(b.upload_weight(WeightSource { name: "w", ty: GgmlType::F32, shape, data: &data }).is_err());
    let err = b.upload_weight(WeightSource { name: "w", ty: GgmlType::IQ2_XXS, shape, data: &data }).err().unwrap();
    assert!(err.to_string().contains("w") && err.to_string().contains("IQ2_XXS"), "{err}");
}

/// The shared f64 reference over the keys at `pos` (rows of `k_all` / `v_all`).
fn naive_attention(
    q: &[f32], geo: AttnGeometry, k_all: &[f32], v_all: &[f32], pos: &[usize], mask: Mask,
) -> Vec<f64> {
    let AttnGeometry { heads, kv_heads, head_dim: d, q_pos0, .. } = geo;
    let kvw = kv_heads * d;
    let keys: Vec<(usize, &[f32], &[f32])> =
        pos.iter().enumerate().map(|(j, &pj)| (pj, &k_all[j * kvw..][..kvw], &v_all[j * kvw..][..kvw])).collect();
    attention_reference(q, heads, kv_heads, d, &keys, |r, pj| mask.allows(q_pos0 + r, pj))
}

#[test]
fn attention_over_cache_and_new_rows_matches_naive_for_every_mask() {
    let b = CpuBackend::new(2).unwrap();
    let (heads, kv_heads, d, nc, n) = (4, 2, 8, 6, 5);
    let (cache_pos0, q_pos0) = (10, 16);
    let kvw = kv_heads * d;
    let q = values(n * heads * d, 5);
    let kc = values(nc * kvw, 6);
    let vc = values(nc * kvw, 7);
    let kn = values(n * kvw, 8);
    let vn = values(n * kvw, 9);
    let k_all: Vec<f32> = kc.iter().chain(&kn).copied().collect();
    let v_all: Vec<f32> = vc.iter().chain(&vn).copied().collect();
    let pos: Vec<usize> = (cache_pos0..cache_pos0 + nc).chain(q_pos0..q_pos0 + n).collect();
    let geo = AttnGeometry { rows: n, heads, kv_heads, head_dim: d, q_pos0 };
    for mask in [Mask::Causal, Mask::CausalWindow(4), Mask::Bidirectional] {
        let mut out = b.alloc(n * heads * d);
        let cache = KvSegment { k: &kc, v: &vc, len: nc, pos0: cache_pos0 };
        let new = KvSegment { k: &kn, v: &vn, len: n, pos0: q_pos0 };
        b.attention(&q, geo, cache, new, mask, &mut out);
        let want = naive_attention(&q, geo, &k_all, &v_all, &pos, mask);
        assert!(max_diff(&out, &want) < 1e-5, "{mask:?}");
    }
}

#[test]
fn mask_rules_follow_model_md_5_3() {
    assert!(Mask::Causal.allows(5, 5) && !Mask::Causal.allows(5, 6));
    // Window 3: query 10 sees 8, 9, 10.
    assert!(!Mask::CausalWindow(3).allows(10, 7) && Mask::CausalWindow(3).allows(10, 8));
    assert!(Mask::Bidirectional.allows(0, 100));
}

#[test]
fn rope_rotates_neox_pairs_and_leaves_zero_frequency_pairs_alone() {
    let b = CpuBackend::new(2).unwrap();
    let (rows, heads, d, pos0) = (3, 2, 8, 100);
    let freqs = vec![1.0f32, 0.1, 0.01, 0.0];
    let x0 = values(rows * heads * d, 10);
    let mut x = x0.clone();
    b.rope(&mut x, rows, heads, d, pos0, &freqs);
    for r in 0..rows {
        for h in 0..heads {
            for i in 0..d / 2 {
                let base = (r * heads + h) * d;
                let ang = ((pos0 + r) as f32 * freqs[i]) as f64;
                let (a, bb) = (x0[base + i] as f64, x0[base + i + d / 2] as f64);
                assert!((x[base + i] as f64 - (a * ang.cos() - bb * ang.sin())).abs() < 1e-5);
                assert!((x[base + i + d / 2] as f64 - (bb * ang.cos() + a * ang.sin())).abs() < 1e-5);
            }
            assert_eq!(x[(r * heads + h) * d + 3], x0[(r * heads + h) * d + 3]);
        }
    }
}

#[test]
fn rms_norm_with_and_without_weight_matches_formula() {
    let b = CpuBackend::new(1).unwrap();
    let x0 = values(4 * 6, 11);
    let w = values(6, 12);
    for weight in [None, Some(&w)] {
        let mut x = x0.clone();
        b.rms_norm(&mut x, 4, 6, weight, 1e-6);
        for g in 0..4 {
            let row = &x0[g * 6..(g + 1) * 6];
            let ms: f64 = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / 6.0;
            for i in 0..6 {
                let want = row[i] as f64 / (ms + 1e-6).sqrt() * weight.map_or(1.0, |w| w[i] as f64);
                assert!((x[g * 6 + i] as f64 - want).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn softmax_softcap_gelu_mul_match_formulas() {
    let b = CpuBackend::new(2).unwrap();
    let x = values(2 * 9, 13).iter().map(|v| v * 20.0).collect::<Vec<_>>();
    let mut p = b.alloc(18);
    b.softmax(&x, &mut p, 2, 9);
    for r in 0..2 {
        let row = &x[r * 9..(r + 1) * 9];
        let m = row.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
        let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
        for i in 0..9 {
            assert!((p[r * 9 + i] as f64 - (row[i] as f64 - m).exp() / z).abs() < 1e-6);
        }
    }
    let mut c = x.clone();
    b.softcap(&mut c, 30.0, 18);
    for (g, &v) in c.iter().zip(&x) {
        assert!((*g as f64 - 30.0 * (v as f64 / 30.0).tanh()).abs() < 1e-5);
    }
    let mut g = x.clone();
    let up = values(18, 14);
    b.gelu_mul(&mut g, &up, 18);
    for i in 0..18 {
        let v = x[i] as f64;
        let gelu = 0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh());
        assert!((g[i] as f64 - gelu * up[i] as f64).abs() < 1e-4 * (1.0 + gelu.abs()));
    }
}

/// A random MoE layer and route: experts E, width H, inner I, rows n, picks k.
fn moe_case(e: usize, h: usize, i: usize, n: usize, k: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>, MoeRoute) {
    let gu = values(e * 2 * i * h, 20);
    let down = values(e * h * i, 21);
    let x = values(n * h, 22);
    let mut route = MoeRoute { rows: n, k, n_experts: e, experts: vec![], weights: vec![] };
    for r in 0..n {
        for j in 0..k {
            route.experts.push(((r * 7 + j * 3) % e) as u32);
            route.weights.push(0.3 + 0.1 * j as f32);
        }
    }
    (gu, down, x, route)
}

fn run_moe(threads: usize, e: usize, h: usize, i: usize, gu: &[f32], down: &[f32], x: &[f32], route: &MoeRoute) -> Vec<f32> {
    let b = CpuBackend::new(threads).unwrap();
    let (gub, db) = (f32_bytes(gu), f32_bytes(down));
    let wgu = b.upload_weight(WeightSource { name: "gu", ty: GgmlType::F32, shape: WeightShape { rows: 2 * i, cols: h, experts: e }, data: &gub }).unwrap();
    let wd = b.upload_weight(WeightSource { name: "d", ty: GgmlType::F32, shape: WeightShape { rows: h, cols: i, experts: e }, data: &db }).unwrap();
    let mut out = b.alloc(route.rows * h);
    b.moe(&wgu, &wd, &x.to_vec(), route, &mut out);
    out
}

#[test]
fn moe_grouped_by_expert_matches_per_token_naive_and_is_thread_count_independent() {
    let (e, h, i, n, k) = (5, 16, 6, 7, 2);
    let (gu, down, x, route) = moe_case(e, h, i, n, k);
    let out = run_moe(2, e, h, i, &gu, &down, &x, &route);
    let gelu = |v: f64| 0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh());
    let mut want = vec![0f64; n * h];
    for r in 0..n {
        for j in 0..k {
            let ex = route.expert(r, j);
            let xr = &x[r * h..(r + 1) * h];
            let w_gu = &gu[ex * 2 * i * h..(ex + 1) * 2 * i * h];
            let a: Vec<f64> = (0..i)
                .map(|o| {
                    let g: f64 = (0..h).map(|c| w_gu[o * h + c] as f64 * xr[c] as f64).sum();
                    let u: f64 = (0..h).map(|c| w_gu[(i + o) * h + c] as f64 * xr[c] as f64).sum();
                    gelu(g) * u
                })
                .collect();
            let w_d = &down[ex * h * i..(ex + 1) * h * i];
            for o in 0..h {
                let y: f64 = (0..i).map(|c| w_d[o * i + c] as f64 * a[c]).sum();
                want[r * h + o] += route.weight(r, j) as f64 * y;
            }
        }
    }
    assert!(max_diff(&out, &want) < 1e-5);
    assert_eq!(out, run_moe(1, e, h, i, &gu, &down, &x, &route), "1 thread vs 2 threads");
    assert_eq!(out, run_moe(4, e, h, i, &gu, &down, &x, &route), "4 threads vs 2 threads");
}
