//! GPU kernel timings: `cargo bench -p dgemma-backend-wgpu`. Each iteration runs the op and reads
//! one value back, so the time includes submission and a host round trip (what the model graph
//! pays per op today). Throughput is weight bytes per second for matmuls. Numbers from a
//! software device (lavapipe) say nothing about GPUs; see docs/gpu.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask, WeightShape, WeightSource};
use dgemma_backend_wgpu::{WgpuBackend, WgpuOptions};
use dgemma_quant::GgmlType;

fn device() -> WgpuBackend {
    WgpuBackend::new(&WgpuOptions { allow_software: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("no GPU adapter: {e} (install mesa-vulkan-drivers libvulkan1)"))
}

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * 0.618).sin()).collect()
}

fn sync(g: &WgpuBackend, b: &dgemma_backend_wgpu::WgpuBuffer) {
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

criterion_group!(benches, matmul, attention);
criterion_main!(benches);
