//! GPU kernel timings: `cargo bench -p dgemma-backend-wgpu`. Each iteration runs the op and reads
//! one value back, so the time includes submission and a host round trip (what the model graph
//! pays per op today). Throughput is weight bytes per second for the small matmuls and
//! multiply-adds per second ("elem/s" = MAC/s) for the real-width cases. Numbers from a software
//! device (lavapipe) say nothing about GPUs; see docs/gpu.md.
//!
//! The `26B widths` group times every heavy op of one denoiser step at the real model's shapes
//! (LM head and soft embedding 262 144 × 2816 at n = 256, MoE 128 experts × 704 top-8 over 256
//! rows, attention d 256 / 512, the per-layer projections): the per-op table of docs/gpu.md. It
//! runs on hardware adapters, or anywhere with `DGEMMA_BENCH_REAL_WIDTHS=1` (on lavapipe one LM
//! head call takes minutes); it uses the default kernels (unrolled tiles). `26B widths, looped
//! tiles` times the previous kernels (`WgpuOptions::no_unrolled_tiles`) on the LM head, a
//! projection and the MoE beside them.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask, MoeRoute, WeightShape, WeightSource};
use dgemma_backend_wgpu::{DeviceKind, WgpuBackend, WgpuBuffer, WgpuOptions};
use dgemma_quant::GgmlType;

fn device() -> WgpuBackend {
    WgpuBackend::new(&WgpuOptions { allow_software: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("no GPU adapter: {e} (install mesa-vulkan-drivers libvulkan1)"))
}

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * 0.618).sin()).collect()
}

fn sync(g: &WgpuBackend, b: &WgpuBuffer) {
    let mut one = [0f32];
    g.read(b, 0, &mut one);
}

fn matmul(c: &mut Criterion) {
    let g = device();
    let (rows, cols) = (1024, 2816);
    let mut group = c.benchmark_group(format!("wgpu matmul {rows}x{cols} ({})", g.adapter().name));
    group.sample_size(10);
    for ty in [GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K] {
        let n_vals = rows * cols;
        let mut bytes = vec![0u8; ty.bytes_for(n_vals as u64).unwrap() as usize];
        match ty {
            GgmlType::F16 => bytes.chunks_exact_mut(2).zip(values(n_vals)).for_each(|(b, v)| b.copy_from_slice(&half::f16::from_f32(v).to_le_bytes())),
            _ => dgemma_quant::quantize(ty, &values(n_vals), &mut bytes).unwrap(),
        }
        let shape = WeightShape { rows, cols, experts: 1 };
        let w = g.upload_weight(WeightSource { name: "w", ty, shape, data: &bytes }).unwrap();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for n in [1usize, 64] {
            let mut x = g.alloc(n * cols);
            g.write(&mut x, 0, &values(n * cols));
            let mut y = g.alloc(n * rows);
            group.bench_with_input(BenchmarkId::new(format!("{ty:?}"), n), &n, |b, &n| {
                b.iter(|| {
                    g.matmul(&w, &x, n, &mut y);
                    sync(&g, &y);
                })
            });
        }
    }
    group.finish();
}

fn attention(c: &mut Criterion) {
    let g = device();
    let (rows, heads, kv_heads, d, cache_len) = (32, 16, 8, 256, 256);
    let mut group = c.benchmark_group(format!("wgpu attention ({})", g.adapter().name));
    group.sample_size(10);
    let q = g.alloc(rows * heads * d);
    let (ck, cv) = (g.alloc(cache_len * kv_heads * d), g.alloc(cache_len * kv_heads * d));
    let (nk, nv) = (g.alloc(rows * kv_heads * d), g.alloc(rows * kv_heads * d));
    let mut out = g.alloc(rows * heads * d);
    let geo = AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0: cache_len };
    group.bench_function(format!("canvas {rows} x cache {cache_len}, {heads}/{kv_heads} heads, d {d}"), |b| {
        b.iter(|| {
            let cache = KvSegment { k: &ck, v: &cv, len: cache_len, pos0: 0 };
            let new = KvSegment { k: &nk, v: &nv, len: rows, pos0: cache_len };
            g.attention(&q, geo, cache, new, Mask::Bidirectional, &mut out);
            sync(&g, &out);
        })
    });
    group.finish();
}

/// Weight bytes of `ty` for `rows × cols`: 32 quantized rows repeated (values do not matter for
/// time; the matrix is still as large as the real one).
fn tiled_weight(ty: GgmlType, rows: usize, cols: usize) -> Vec<u8> {
    let tile_rows = rows.min(32);
    let mut tile = vec![0u8; ty.bytes_for((tile_rows * cols) as u64).unwrap() as usize];
    dgemma_quant::quantize(ty, &values(tile_rows * cols), &mut tile).unwrap();
    let total = ty.bytes_for((rows * cols) as u64).unwrap() as usize;
    tile.iter().copied().cycle().take(total).collect()
}

fn upload(g: &WgpuBackend, ty: GgmlType, rows: usize, cols: usize, experts: usize) -> dgemma_backend_wgpu::WgpuWeight {
    let bytes = tiled_weight(ty, rows * experts, cols);
    g.upload_weight(WeightSource { name: "w", ty, shape: WeightShape { rows, cols, experts }, data: &bytes }).unwrap()
}

fn filled(g: &WgpuBackend, n: usize) -> WgpuBuffer {
    let mut b = g.alloc(n);
    g.write(&mut b, 0, &values(n).iter().map(|v| v * 0.1).collect::<Vec<_>>());
    b
}

/// Top-8 of 128 distinct experts per row from a fixed xorshift stream, equal weights.
fn route(rows: usize, k: usize, ne: usize) -> MoeRoute {
    let mut experts = Vec::with_capacity(rows * k);
    let mut st = 0x9E37_79B9u32;
    for _ in 0..rows {
        let mut pick: Vec<u32> = Vec::new();
        while pick.len() < k {
            st ^= st << 13;
            st ^= st >> 17;
            st ^= st << 5;
            let e = st % ne as u32;
            if !pick.contains(&e) {
                pick.push(e);
            }
        }
        experts.extend(pick);
    }
    MoeRoute { rows, k, n_experts: ne, experts, weights: vec![1.0 / k as f32; rows * k] }
}

/// Every heavy op of a denoiser step at the 26B model's widths (hidden 2816, vocabulary 262 144,
/// 128 experts × 704, dense 2112, canvas 256).
fn real_widths(c: &mut Criterion) {
    let g = device();
    let hardware = g.adapter().kind != DeviceKind::Cpu;
    if !hardware && std::env::var_os("DGEMMA_BENCH_REAL_WIDTHS").is_none() {
        eprintln!("26B widths: not run on the software adapter {} (set DGEMMA_BENCH_REAL_WIDTHS=1 to force)", g.adapter().name);
        return;
    }
    let (h, vocab, n) = (2816, 262_144, 256);
    let mut group = c.benchmark_group(format!("wgpu 26B widths ({})", g.adapter().name));
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    // Per-layer projections (q/k/v/o-like, dense MLP, router) at one token and a canvas.
    for (ty, rows, cols) in [(GgmlType::Q8_0, 4096, h), (GgmlType::Q4_K, 4096, h), (GgmlType::Q8_0, 2816, 2112), (GgmlType::Q8_0, 128, h)] {
        let w = upload(&g, ty, rows, cols, 1);
        for nn in [1, n] {
            let x = filled(&g, nn * cols);
            let mut y = g.alloc(nn * rows);
            group.throughput(Throughput::Elements((rows * cols * nn) as u64));
            group.bench_function(format!("matmul {ty:?} [{rows} x {cols}] n={nn}"), |b| {
                b.iter(|| {
                    g.matmul(&w, &x, nn, &mut y);
                    sync(&g, &y);
                })
            });
        }
    }
    // LM head (y = x Embᵀ), soft embedding (p · Emb), and the logits' softcap and softmax.
    for ty in [GgmlType::Q6_K, GgmlType::Q8_0] {
        let w = upload(&g, ty, vocab, h, 1);
        let x = filled(&g, n * h);
        let mut logits = g.alloc(n * vocab);
        group.throughput(Throughput::Elements((vocab * h * n) as u64));
        group.bench_function(format!("LM head matmul {ty:?} [{vocab} x {h}] n={n}"), |b| {
            b.iter(|| {
                g.matmul(&w, &x, n, &mut logits);
                sync(&g, &logits);
            })
        });
        let mut p = g.alloc(n * vocab);
        g.softmax(&logits, &mut p, n, vocab);
        let mut e = g.alloc(n * h);
        group.bench_function(format!("soft embedding matmul_transposed {ty:?} [{vocab} x {h}] n={n}"), |b| {
            b.iter(|| {
                g.matmul_transposed(&w, &p, n, &mut e);
                sync(&g, &e);
            })
        });
    }
    group.throughput(Throughput::Elements((n * vocab) as u64));
    let mut logits = filled(&g, n * vocab);
    let mut p = g.alloc(n * vocab);
    group.bench_function(format!("softcap [{n} x {vocab}]"), |b| {
        b.iter(|| {
            g.softcap(&mut logits, 30.0, n * vocab);
            sync(&g, &logits);
        })
    });
    group.bench_function(format!("softmax [{n} x {vocab}]"), |b| {
        b.iter(|| {
            g.softmax(&logits, &mut p, n, vocab);
            sync(&g, &p);
        })
    });
    drop((logits, p));
    // Attention of a sliding layer (16/8 heads, d 256) and a full layer (16/2 heads, d 512) over
    // a 26-token prompt's cache and the canvas.
    for (heads, kv_heads, d, cache_len) in [(16, 8, 256, 26), (16, 2, 512, 26)] {
        let q = filled(&g, n * heads * d);
        let (ck, cv) = (filled(&g, cache_len * kv_heads * d), filled(&g, cache_len * kv_heads * d));
        let (nk, nv) = (filled(&g, n * kv_heads * d), filled(&g, n * kv_heads * d));
        let mut out = g.alloc(n * heads * d);
        let geo = AttnGeometry { rows: n, heads, kv_heads, head_dim: d, q_pos0: cache_len };
        group.throughput(Throughput::Elements((2 * n * heads * (cache_len + n) * d) as u64));
        group.bench_function(format!("attention {heads}/{kv_heads} heads d {d}, cache {cache_len} + {n} new"), |b| {
            b.iter(|| {
                let cache = KvSegment { k: &ck, v: &cv, len: cache_len, pos0: 0 };
                let new = KvSegment { k: &nk, v: &nv, len: n, pos0: cache_len };
                g.attention(&q, geo, cache, new, Mask::Bidirectional, &mut out);
                sync(&g, &out);
            })
        });
    }
    // Mixture of experts: 128 experts × 704, top-8 over the canvas's 256 rows.
    let (ne, inter, k) = (128, 704, 8);
    let r = route(n, k, ne);
    for (tgu, tdn) in [(GgmlType::Q8_0, GgmlType::Q8_0), (GgmlType::Q4_K, GgmlType::Q5_0)] {
        let gu = upload(&g, tgu, 2 * inter, h, ne);
        let dn = upload(&g, tdn, h, inter, ne);
        let x = filled(&g, n * h);
        let mut out = g.alloc(n * h);
        group.throughput(Throughput::Elements((n * k * 3 * inter * h) as u64));
        group.bench_function(format!("moe {tgu:?}/{tdn:?} {ne} x {inter} top-{k}, {n} rows"), |b| {
            b.iter(|| {
                g.moe(&gu, &dn, &x, &r, &mut out);
                sync(&g, &out);
            })
        });
    }
    group.finish();
}

/// The previous kernels (`WgpuOptions::no_unrolled_tiles`) on the LM head and a projection at
/// n = 256 and on the MoE, for comparison with the same cases of `real_widths` (same skip rule).
fn real_widths_looped(c: &mut Criterion) {
    let g = WgpuBackend::new(&WgpuOptions { allow_software: true, no_unrolled_tiles: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("no GPU adapter: {e} (install mesa-vulkan-drivers libvulkan1)"));
    if g.adapter().kind == DeviceKind::Cpu && std::env::var_os("DGEMMA_BENCH_REAL_WIDTHS").is_none() {
        return;
    }
    let (h, vocab, n) = (2816, 262_144, 256);
    let mut group = c.benchmark_group(format!("wgpu 26B widths, looped tiles ({})", g.adapter().name));
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    for (ty, rows) in [(GgmlType::Q8_0, 4096), (GgmlType::Q8_0, vocab)] {
        let w = upload(&g, ty, rows, h, 1);
        let x = filled(&g, n * h);
        let mut y = g.alloc(n * rows);
        group.throughput(Throughput::Elements((rows * h * n) as u64));
        group.bench_function(format!("matmul {ty:?} [{rows} x {h}] n={n}"), |b| {
            b.iter(|| {
                g.matmul(&w, &x, n, &mut y);
                sync(&g, &y);
            })
        });
    }
    let (ne, inter, k) = (128, 704, 8);
    let r = route(n, k, ne);
    let gu = upload(&g, GgmlType::Q8_0, 2 * inter, h, ne);
    let dn = upload(&g, GgmlType::Q8_0, h, inter, ne);
    let x = filled(&g, n * h);
    let mut out = g.alloc(n * h);
    group.throughput(Throughput::Elements((n * k * 3 * inter * h) as u64));
    group.bench_function(format!("moe Q8_0/Q8_0 {ne} x {inter} top-{k}, {n} rows"), |b| {
        b.iter(|| {
            g.moe(&gu, &dn, &x, &r, &mut out);
            sync(&g, &out);
        })
    });
    group.finish();
}

criterion_group!(benches, matmul, attention, real_widths, real_widths_looped);
criterion_main!(benches);
