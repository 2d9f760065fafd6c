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

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dgemma_backend::{AttnGeometry, Backend, KvSegment, Mask};
use dgemma_backend_cpu::CpuBackend;

fn values(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0) * amp
        })
        .collect()
}

/// Nanoseconds all threads of this process have run on a CPU, if the kernel says.
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Time `iters` runs of `f`: CPU time of the process when `cpu`, else wall-clock time.
fn timed(iters: u64, cpu: bool, mut f: impl FnMut()) -> Duration {
    let (wall, c0) = (Instant::now(), process_cpu_ns().filter(|_| cpu));
    for _ in 0..iters {
        f();
    }
    match (c0, process_cpu_ns()) {
        (Some(c0), Some(c1)) => Duration::from_nanos(c1 - c0),
        _ => wall.elapsed(),
    }
}

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
        let (kc, vc) = (values(nc * kv_w, 1, amp), values(nc * kv_w, 2, 1.0));
        let (kn, vn) = (values(rows * kv_w, 3, amp), values(rows * kv_w, 4, 1.0));
        let q = values(rows * heads * d, 5, amp);
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
