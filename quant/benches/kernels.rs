//! Quantized matvec / matmul throughput at the model's shapes, plus the memory-read bandwidth
//! of this machine for comparison (see docs/perf.md for how to read the numbers).
//!
//! `cargo bench -p dgemma-quant --bench kernels` runs everything (a few minutes);
//! pass a filter such as `matvec/q4_K` to run a subset.
//!
//! matvec reports weight bytes per second (criterion: GiB/s). To measure memory rather than
//! cache, each iteration uses the next of several copies of the matrix, together larger than
//! the last-level cache. matmul (256 tokens) reports multiply-adds x 2 per second
//! ("elem/s" = FLOP/s).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dgemma_quant::blocks::f32_to_f16;
use dgemma_quant::kernels::{matmul_prepared_on, matvec_on, Activations, Isa};
use dgemma_quant::GgmlType;
use rayon::prelude::*;

/// Weight types in the order of docs/perf.md.
const TYPES: [GgmlType; 10] = [
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::BF16,
    GgmlType::F16,
    GgmlType::F32,
];

/// (name, rows, cols): dense ffn gate/up, one expert's fused gate_up, one expert's down.
const SHAPES: [(&str, usize, usize); 3] =
    [("dense_2112x2816", 2112, 2816), ("expert_gate_up_1408x2816", 1408, 2816), ("expert_down_2816x704", 2816, 704)];

/// Bytes of weights streamed per matvec measurement cycle (well above a 32 MiB L3).
const STREAM_BYTES: usize = 256 << 20;

/// Valid random blocks: random quant bits, small finite f16 scales.
fn weights(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as u32
    };
    let bytes = ty.row_bytes(cols).unwrap() * rows;
    let mut w: Vec<u8> = (0..bytes).map(|_| next() as u8).collect();
    let small = |v: u32| f32_to_f16(0.001 + (v % 1000) as f32 * 1e-5).to_le_bytes();
    match ty {
        GgmlType::F32 => w.chunks_exact_mut(4).for_each(|c| c.copy_from_slice(&((next() % 1000) as f32 * 1e-4).to_le_bytes())),
        GgmlType::F16 | GgmlType::BF16 => w.chunks_exact_mut(2).for_each(|c| c.copy_from_slice(&small(next()))),
        _ => {
            let fields: &[usize] = match ty {
                GgmlType::Q6_K => &[208],
                GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q5_1 | GgmlType::Q4_1 => &[0, 2],
                _ => &[0],
            };
            for b in w.chunks_exact_mut(ty.type_size()) {
                for &f in fields {
                    b[f..f + 2].copy_from_slice(&small(next()));
                }
            }
        }
    }
    w
}

fn activations(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect()
}

fn bench_membw(c: &mut Criterion) {
    let mut g = c.benchmark_group("membw");
    g.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    let buf: Vec<u64> = (0..STREAM_BYTES / 8).map(|i| i as u64).collect();
    g.throughput(Throughput::Bytes(STREAM_BYTES as u64));
    // Parallel read (sum) over all threads: the ceiling for a weight-streaming matvec.
    g.bench_function("read_all_threads", |b| {
        b.iter(|| buf.par_chunks(1 << 16).map(|c| c.iter().fold(0u64, |a, &v| a.wrapping_add(v))).reduce(|| 0, u64::wrapping_add))
    });
    g.finish();
}

fn bench_matvec(c: &mut Criterion) {
    for isa in [Isa::detected(), Isa::Scalar] {
        let mut g = c.benchmark_group(format!("matvec_{}", isa.name()));
        g.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
        for ty in TYPES {
            for (name, rows, cols) in SHAPES {
                if cols % ty.block_size() != 0 || (isa == Isa::Scalar && name != "dense_2112x2816") {
                    continue;
                }
                let one = weights(ty, rows, cols, 1);
                let copies = (STREAM_BYTES / one.len()).max(2);
                let all: Vec<u8> = one.iter().copied().cycle().take(one.len() * copies).collect();
                let x = activations(cols);
                let mut y = vec![0.0f32; rows];
                let mut k = 0;
                g.throughput(Throughput::Bytes(one.len() as u64));
                g.bench_function(BenchmarkId::new(ty.name(), name), |b| {
                    b.iter(|| {
                        k = (k + 1) % copies;
                        let w = &all[k * one.len()..(k + 1) * one.len()];
                        matvec_on(isa, ty, w, rows, cols, black_box(&x), &mut y).unwrap();
                    })
                });
            }
        }
        g.finish();
    }
}

fn bench_matmul(c: &mut Criterion) {
    let n = 256;
    let isa = Isa::detected();
    let mut g = c.benchmark_group(format!("matmul256_{}", isa.name()));
    g.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    for ty in TYPES {
        for (name, rows, cols) in SHAPES {
            if cols % ty.block_size() != 0 {
                continue;
            }
            let w = weights(ty, rows, cols, 2);
            let x = activations(n * cols);
            let acts = Activations::quantize(ty, &x, n, cols).unwrap();
            let mut y = vec![0.0f32; n * rows];
            g.throughput(Throughput::Elements((2 * rows * cols * n) as u64));
            g.bench_function(BenchmarkId::new(ty.name(), name), |b| {
                b.iter(|| matmul_prepared_on(isa, ty, black_box(&w), rows, &acts, &mut y).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_membw, bench_matvec, bench_matmul);
criterion_main!(benches);
