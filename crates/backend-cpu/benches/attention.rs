//! The attention core at the denoiser's shapes (26B widths): 256 canvas rows over a prompt
//! cache of 32 keys plus the canvas, bidirectional; sliding layers (16 heads, 8 KV heads,
//! d 256) and full layers (16 heads, 2 KV heads, d 512); plus a causal encoder pass of 512 rows.
//! Throughput is in multiply-adds (`rows · heads · keys · d` for each of `Q·Kᵀ` and `P·V`), so
//! criterion's "elem/s" reads as MAC/s.
//!
//! `cargo bench -p dgemma-backend-cpu --bench attention`; `DGEMMA_BENCH_THREADS` sets the pool
//! size (default 1); `DGEMMA_BENCH_CPU_TIME=1` reports the CPU time all threads of the process
//! spent per call (`/proc/self/task/*/schedstat`) instead of wall-clock time, which other
//! processes on a shared machine do not inflate.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask};
use dgemma_backend_cpu::CpuBackend;
use dgemma_test_support::{timed, values, values_scaled};

fn attention(c: &mut Criterion) {
    let threads = std::env::var("DGEMMA_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let cpu = std::env::var("DGEMMA_BENCH_CPU_TIME").is_ok_and(|v| v == "1");
    let clock = if cpu { "cpu-time" } else { "wall" };
    let b = CpuBackend::new(threads).unwrap();
    let mut g = c.benchmark_group("attention");
    g.sample_size(10);
    // (name, rows, heads, kv_heads, d, cache keys, mask)
    let cases = [
        ("denoise sliding", 256, 16, 8, 256, 32, Mask::Bidirectional),
        ("denoise full", 256, 16, 2, 512, 32, Mask::Bidirectional),
        ("encode full", 512, 16, 2, 512, 0, Mask::Causal),
    ];
    for (name, rows, heads, kv_heads, d, nc, mask) in cases {
        let kv_w = kv_heads * d;
        let amp = (8.0 / d as f32).sqrt() * 2.0;
        let (kc, vc) = (values_scaled(nc * kv_w, 1, amp), values(nc * kv_w, 2));
        let (kn, vn) = (values_scaled(rows * kv_w, 3, amp), values(rows * kv_w, 4));
        let q = values_scaled(rows * heads * d, 5, amp);
        let mut out = b.alloc(rows * heads * d);
        let geo = AttnGeometry { rows, heads, kv_heads, head_dim: d, q_pos0: nc };
        let keys = (nc + rows) as u64;
        g.throughput(Throughput::Elements(2 * (rows * heads * d) as u64 * keys));
        g.bench_function(format!("{name} rows={rows} heads={heads}/{kv_heads} d={d} keys={keys} t={threads} {clock}"), |bch| {
            bch.iter_custom(|iters| {
                timed(iters, cpu, || {
                    let cache = KvSegment { k: &kc, v: &vc, len: nc, pos0: 0 };
                    let new = KvSegment { k: &kn, v: &vn, len: rows, pos0: nc };
                    b.attention(&q, geo, cache, new, mask, &mut out)
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, attention);
criterion_main!(benches);
