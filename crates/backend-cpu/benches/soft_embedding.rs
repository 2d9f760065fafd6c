//! The soft embedding `y = softmax(z) · Emb` at the real 26B shape (V = 262,144, H = 2816,
//! n = 256 canvas rows) for BF16, Q8_0 and Q6_K embeddings; random data. Each runs on the exact
//! kernels and, where the CPU has AVX-512 BF16, on the opt-in bfloat16 ones (` bf16` ids).
//!
//! `cargo bench -p dgemma-backend-cpu --bench soft_embedding`; `DGEMMA_BENCH_THREADS` sets the
//! pool size (default 2), `DGEMMA_BENCH_VOCAB` the vocabulary (default 262,144).
//! `DGEMMA_BENCH_CPU_TIME=1` reports the CPU time all threads of the process spent per call
//! (`/proc/self/task/*/schedstat`) instead of wall-clock time: on a shared machine other
//! processes inflate wall-clock times but not CPU time. MAC/s per core = n·V·H / CPU time.

use criterion::{criterion_group, criterion_main, Criterion};
use dgemma_backend::{Backend, WeightShape, WeightSource};
use dgemma_backend_cpu::CpuBackend;
use dgemma_quant::GgmlType;
use dgemma_test_support::{timed, values};

const H: usize = 2816;
const N: usize = 256;

#[allow(non_snake_case)]
fn soft_embedding(c: &mut Criterion) {
    let threads = std::env::var("DGEMMA_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let V: usize = std::env::var("DGEMMA_BENCH_VOCAB").ok().and_then(|t| t.parse().ok()).unwrap_or(262_144);
    let cpu = std::env::var("DGEMMA_BENCH_CPU_TIME").is_ok_and(|v| v == "1");
    let b = CpuBackend::new(threads).unwrap();
    let emb = values(V * H, 1);
    // Softmax-like rows: positive, summing to 1.
    let mut x: Vec<f32> = values(N * V, 2).iter().map(|v| (4.0 * v).exp()).collect();
    for row in x.chunks_mut(V) {
        let s: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    let mut y = b.alloc(N * H);
    let mut g = c.benchmark_group("soft_embedding");
    g.sample_size(10);
    for ty in [GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K] {
        let mut data = vec![0u8; ty.row_bytes(H).unwrap() * V];
        dgemma_quant::quantize_par(ty, &emb, &mut data).unwrap();
        let shape = WeightShape { rows: V, cols: H, experts: 1 };
        let w = b.upload_weight(WeightSource { name: "token_embd", ty, shape, data: &data }).unwrap();
        let clock = if cpu { "cpu-time" } else { "wall" };
        // The exact kernels, then the opt-in bfloat16 ones where the CPU has them.
        for bf16 in [false, true] {
            if bf16 && !b.set_bf16_soft_embedding(true) {
                continue;
            }
            b.set_bf16_soft_embedding(bf16);
            let precision = if bf16 { " bf16" } else { "" };
            g.bench_function(format!("{ty:?} V={V} H={H} n={N} t={threads} {clock}{precision}"), |bch| {
                bch.iter_custom(|iters| timed(iters, cpu, || b.matmul_transposed(&w, &x, N, &mut y)))
            });
        }
        b.set_bf16_soft_embedding(false);
    }
    g.finish();
}

criterion_group!(benches, soft_embedding);
criterion_main!(benches);
