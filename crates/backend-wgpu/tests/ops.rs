//! Activation ops on the GPU vs the CPU backend on random inputs, odd shapes included.
//! Tolerances (relative to the reference's largest magnitude) are documented in docs/gpu.md.

mod common;

use common::*;
use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask, MoeRoute, WeightShape};
use dgemma_quant::GgmlType;

/// Element-wise maps: GPU exp/tanh differ from libm by a few ulp.
const TOL_MAP: f64 = 1e-5;
/// Reductions (norms, softmax, attention): f32 sums in another order (CPU: some in f64).
const TOL_REDUCE: f64 = 2e-5;

#[test]
fn buffers_write_read_copy_and_overlapping_moves() {
    let g = gpu();
    let data = Rng::new(1).vec(1000, 10.0);
    let mut a = g.alloc(1200);
    assert_eq!(get(g, &a, 1200), vec![0.0; 1200], "alloc is zero-filled");
    g.write(&mut a, 100, &data);
    let mut part = vec![0f32; 10];
    g.read(&a, 105, &mut part);
    assert_eq!(part, data[5..15]);
    let mut b = g.alloc(50);
    g.copy(&a, 200, &mut b, 3, 40);
    assert_eq!(get(g, &b, 50)[3..43], data[100..140]);
    // Overlapping move forward and backward, against Vec::copy_within.
    let mut host = get(g, &a, 1200);
    g.copy_within(&mut a, 100, 150, 500);
    host.copy_within(100..600, 150);
    assert_eq!(get(g, &a, 1200), host);
    g.copy_within(&mut a, 300, 250, 700);
    host.copy_within(300..1000, 250);
    assert_eq!(get(g, &a, 1200), host);
}

fn unary(name: &str, n: usize, scale: f32, gpu_op: impl Fn(&mut dgemma_backend_wgpu::WgpuBuffer), cpu_op: impl Fn(&mut Vec<f32>)) {
    let x = Rng::new(n as u64).vec(n + 5, scale);
    let g = gpu();
    let mut xg = buf(g, &x);
    gpu_op(&mut xg);
    let mut xc = x.clone();
    cpu_op(&mut xc);
    let got = get(g, &xg, n + 5);
    assert_close(name, &got, &xc, TOL_MAP);
    assert_eq!(got[n..], x[n..], "{name}: wrote past n");
}

#[test]
fn elementwise_ops_match_cpu() {
    let (g, c) = (gpu(), cpu());
    for n in [1, 3, 17, 256, 70_001] {
        unary("scale", n, 3.0, |x| g.scale(x, -1.7, n), |x| c.scale(x, -1.7, n));
        unary("softcap", n, 100.0, |x| g.softcap(x, 30.0, n), |x| c.softcap(x, 30.0, n));
        let up = Rng::new(99).vec(n + 5, 2.0);
        let (ug, uc) = (buf(g, &up), buf(c, &up));
        unary("gelu_mul", n, 6.0, |x| g.gelu_mul(x, &ug, n), |x| c.gelu_mul(x, &uc, n));
        unary("add", n, 6.0, |x| g.add(x, &ug, n), |x| c.add(x, &uc, n));
    }
}

/// Both reduction paths: subgroup operations where the device has them, and the portable one.
fn reduction_devices() -> [&'static dgemma_backend_wgpu::WgpuBackend; 2] {
    let g = gpu();
    // lavapipe (CI) supports subgroups: make sure that path really runs there.
    assert_eq!(g.uses_subgroups(), g.adapter().subgroups.is_some(), "subgroups not used although supported");
    assert!(!gpu_without_subgroups().uses_subgroups());
    [g, gpu_without_subgroups()]
}

#[test]
fn rms_norm_with_and_without_weight() {
    for g in reduction_devices() {
        rms_norm_cases(g);
    }
}

fn rms_norm_cases(g: &dgemma_backend_wgpu::WgpuBackend) {
    let c = cpu();
    for (groups, width) in [(1, 1), (3, 17), (16, 256), (5, 2816), (1, 704)] {
        let x = Rng::new(width as u64).vec(groups * width, 4.0);
        let w = Rng::new(7).vec(width, 2.0);
        for with_w in [false, true] {
            let (wg, wc) = (buf(g, &w), buf(c, &w));
            let mut xg = buf(g, &x);
            g.rms_norm(&mut xg, groups, width, with_w.then_some(&wg), 1e-6);
            let mut xc = x.clone();
            c.rms_norm(&mut xc, groups, width, with_w.then_some(&wc), 1e-6);
            assert_close(&format!("rms_norm {groups}x{width} w={with_w} subgroups={}", g.uses_subgroups()), &get(g, &xg, x.len()), &xc, TOL_REDUCE);
        }
    }
}

#[test]
fn softmax_rows() {
    for g in reduction_devices() {
        softmax_cases(g);
    }
}

fn softmax_cases(g: &dgemma_backend_wgpu::WgpuBackend) {
    let c = cpu();
    for (rows, width) in [(1, 1), (3, 17), (17, 1000), (2, 70_000)] {
        let x = Rng::new(rows as u64).vec(rows * width, 30.0);
        let xg = buf(g, &x);
        let mut og = g.alloc(rows * width);
        g.softmax(&xg, &mut og, rows, width);
        let mut oc = vec![0f32; rows * width];
        c.softmax(&x, &mut oc, rows, width);
        assert_close(&format!("softmax {rows}x{width} subgroups={}", g.uses_subgroups()), &get(g, &og, rows * width), &oc, TOL_REDUCE);
    }
}

#[test]
fn rope_large_positions_and_unrotated_pairs() {
    let (g, c) = (gpu(), cpu());
    for (rows, heads, d, pos0) in [(1, 1, 2, 0), (3, 2, 16, 5), (17, 4, 64, 8000), (4, 3, 256, 131_000)] {
        let x = Rng::new(d as u64).vec(rows * heads * d, 1.0);
        // Gemma-style frequencies with the last quarter unrotated (proportional RoPE).
        let freqs: Vec<f32> =
            (0..d / 2).map(|i| if i >= d * 3 / 8 && d > 2 { 0.0 } else { 10000f32.powf(-((2 * i) as f32) / d as f32) }).collect();
        let mut xg = buf(g, &x);
        g.rope(&mut xg, rows, heads, d, pos0, &buf(g, &freqs));
        let mut xc = x.clone();
        c.rope(&mut xc, rows, heads, d, pos0, &freqs);
        // Angles up to 1.3e5 rad: the f32 angle is the same on both sides; the error is in
        // sin/cos of the reduced angle.
        assert_close(&format!("rope rows={rows} d={d} pos0={pos0}"), &get(g, &xg, x.len()), &xc, 1e-5);
    }
}

fn attn_case(rows: usize, heads: usize, kv_heads: usize, d: usize, cache_len: usize, mask: Mask, seed: u64) {
    let (g, c) = (gpu(), cpu());
    let mut r = Rng::new(seed);
    let kvw = kv_heads * d;
    let q = r.vec(rows * heads * d, 1.0);
    let (ck, cv) = (r.vec(cache_len.max(1) * kvw, 1.0), r.vec(cache_len.max(1) * kvw, 1.0));
    let (nk, nv) = (r.vec(rows * kvw, 1.0), r.vec(rows * kvw, 1.0));
    let geo = AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0: cache_len };
    let (qg, ckg, cvg, nkg, nvg) = (buf(g, &q), buf(g, &ck), buf(g, &cv), buf(g, &nk), buf(g, &nv));
    let mut og = g.alloc(rows * heads * d);
    g.attention(
        &qg,
        geo,
        KvSegment { k: &ckg, v: &cvg, len: cache_len, pos0: 0 },
        KvSegment { k: &nkg, v: &nvg, len: rows, pos0: cache_len },
        mask,
        &mut og,
    );
    let mut oc = vec![0f32; rows * heads * d];
    c.attention(
        &q,
        geo,
        KvSegment { k: &ck, v: &cv, len: cache_len, pos0: 0 },
        KvSegment { k: &nk, v: &nv, len: rows, pos0: cache_len },
        mask,
        &mut oc,
    );
    let what = format!("attention rows={rows} heads={heads}/{kv_heads} d={d} cache={cache_len} {mask:?}");
    assert_close(&what, &get(g, &og, oc.len()), &oc, TOL_REDUCE);
}

#[test]
fn attention_masks_gqa_and_cache() {
    attn_case(1, 1, 1, 16, 0, Mask::Causal, 1);
    attn_case(3, 4, 2, 32, 5, Mask::Causal, 2);
    attn_case(17, 8, 2, 64, 70, Mask::CausalWindow(9), 3);
    attn_case(17, 4, 1, 256, 130, Mask::Bidirectional, 4);
    attn_case(5, 2, 2, 512, 3, Mask::Bidirectional, 5);
    attn_case(40, 2, 1, 48, 0, Mask::CausalWindow(4), 6);
}

/// `moe` on `g` vs the CPU backend: `ne` experts of `ty` ([2·inter, h] gate‖up, [h, inter]
/// down; Q6_K down for Q4_K), `rows` rows with `k` distinct picks each, one expert unused.
#[allow(clippy::too_many_arguments)]
fn moe_case(g: &dgemma_backend_wgpu::WgpuBackend, ty: GgmlType, h: usize, inter: usize, rows: usize, k: usize, ne: usize, what: &str) {
    let c = cpu();
    let gu_shape = WeightShape { rows: 2 * inter, cols: h, experts: ne };
    let dn_shape = WeightShape { rows: h, cols: inter, experts: ne };
    let down_ty = if ty == GgmlType::Q4_K { GgmlType::Q6_K } else { ty };
    let (gu, _) = weight(ty, gu_shape, 11);
    let (dn, _) = weight(down_ty, dn_shape, 12);
    let x = Rng::new(13).vec(rows * h, 1.0);
    let mut r = Rng::new(14);
    // Distinct experts per row, one expert unused when there are spare ones.
    let experts: Vec<u32> = (0..rows * k).map(|i| ((i / k + (i % k) * 2) % (ne - 1).max(1)) as u32).collect();
    let weights: Vec<f32> = (0..rows * k).map(|_| r.next().abs()).collect();
    let route = MoeRoute { rows, k, n_experts: ne, experts, weights };

    let (gug, dng) = (g.upload_weight(source("gu", ty, gu_shape, &gu)).unwrap(), g.upload_weight(source("dn", down_ty, dn_shape, &dn)).unwrap());
    let mut og = g.alloc(rows * h);
    g.moe(&gug, &dng, &buf(g, &x), &route, &mut og);
    let got = get(g, &og, rows * h);
    let what = format!("moe {ty:?} h={h} I={inter} rows={rows} k={k}{what}");
    let (guc, dnc) = (c.upload_weight(source("gu", ty, gu_shape, &gu)).unwrap(), c.upload_weight(source("dn", down_ty, dn_shape, &dn)).unwrap());
    let mut oc = vec![0f32; rows * h];
    c.moe(&guc, &dnc, &x, &route, &mut oc);
    // Float weights: summation order only. Block weights: the CPU's 8-bit activations.
    let tol = if ty == GgmlType::F32 { 1e-5 } else { 3e-2 };
    assert_close(&what, &got, &oc, tol);
    // Tight: the CPU with the decoded weights as f32 (no activation rounding there).
    let (gu_f, dn_f) = (decoded_f32(ty, &gu), decoded_f32(down_ty, &dn));
    let guf = c.upload_weight(source("gu", GgmlType::F32, gu_shape, &gu_f)).unwrap();
    let dnf = c.upload_weight(source("dn", GgmlType::F32, dn_shape, &dn_f)).unwrap();
    let mut of = vec![0f32; rows * h];
    c.moe(&guf, &dnf, &x, &route, &mut of);
    assert_close(&format!("{what} vs decoded f32"), &got, &of, TOL_REDUCE);
}

/// The f32 bytes of a weight's decoded values.
fn decoded_f32(ty: GgmlType, bytes: &[u8]) -> Vec<u8> {
    let n = bytes.len() / ty.type_size() * ty.block_size();
    decode(ty, bytes, n).iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn moe_matches_cpu_for_quantized_experts() {
    let g = gpu();
    moe_case(g, GgmlType::F32, 24, 10, 3, 2, 4, "");
    moe_case(g, GgmlType::Q8_0, 64, 32, 17, 3, 5, "");
    moe_case(g, GgmlType::Q4_K, 256, 256, 9, 2, 3, "");
    // Expert groups of ~27 and ~67 slots: the 32- and 64-token tiles, groups over several tiles.
    moe_case(g, GgmlType::F32, 32, 16, 40, 2, 4, "");
    moe_case(g, GgmlType::F32, 40, 24, 100, 2, 3, "");
    moe_case(g, GgmlType::Q8_0, 64, 32, 40, 2, 4, "");
    moe_case(g, GgmlType::Q4_K, 256, 256, 100, 2, 3, "");
}

#[test]
fn moe_every_weight_type_on_the_tiled_kernel() {
    // Groups of ~27 slots (32-token tiles) for every type the kernels decode.
    let g = gpu();
    for ty in dgemma_backend_wgpu::WEIGHT_TYPES {
        let (h, inter) = match ty.block_size() {
            1 => (24, 10),
            32 => (64, 32),
            _ => (256, 256),
        };
        moe_case(g, ty, h, inter, 40, 2, 4, "");
    }
}

#[test]
fn moe_on_looped_tiles() {
    // `no_unrolled_tiles`: the looped tile on 16-, 32- and 64-token tiles (the default device,
    // used by the other MoE tests, runs the unrolled tiles).
    let g = gpu_looped();
    moe_case(g, GgmlType::Q8_0, 64, 32, 17, 3, 5, " (looped)");
    moe_case(g, GgmlType::Q6_K, 256, 256, 40, 2, 4, " (looped)");
    moe_case(g, GgmlType::F32, 40, 24, 100, 2, 3, " (looped)");
}

#[test]
fn moe_with_experts_straddling_weight_parts() {
    // 512-byte parts: a gate‖up expert (20 rows of 96 B) spans ~4 parts, so the grouped
    // dispatch runs once per part with each expert's rows cut at the part boundaries.
    let g = open(Some(512));
    moe_case(&g, GgmlType::F32, 24, 10, 30, 2, 4, " (split parts)");
}
