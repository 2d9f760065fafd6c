//! Contention-proof kernel throughput: one thread, timed by the CPU time the kernel thread
//! actually ran (`/proc/thread-self/schedstat`), so other processes on a shared machine do not
//! inflate the numbers the way they inflate criterion's wall-clock times.
//!
//! `cargo bench -p dgemma-quant --bench kernels_cpu_time [-- FILTER]` prints one line per
//! (kernel, type, shape): single-core weight GB/s for matvec, GFLOP/s for matmul with 16
//! tokens (a typical expert's share of a 256-token canvas routed top-8 of 128) and 256 tokens,
//! on every SIMD instruction set this CPU has (`avx2`, `avx512`: ids `matmul256_avx512/...`).

use std::time::Instant;

use dgemma_quant::blocks::f32_to_f16;
use dgemma_quant::kernels::{matmul_prepared_on, Activations, Isa};
use dgemma_quant::GgmlType;

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
/// The model's matrix shapes; `head_8192x2816` is a 1/32 slice of the 262144-row LM head.
const SHAPES: [(&str, usize, usize); 4] = [
    ("dense_2112x2816", 2112, 2816),
    ("expert_gate_up_1408x2816", 1408, 2816),
    ("expert_down_2816x704", 2816, 704),
    ("head_8192x2816", 8192, 2816),
];
/// Streamed bytes per matvec cycle, above a 32 MiB L3.
const STREAM_BYTES: usize = 256 << 20;

/// Nanoseconds this thread has spent on a CPU; wall-clock if the kernel does not say.
fn cpu_ns(start: Instant) -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| start.elapsed().as_nanos() as u64)
}

/// CPU seconds per call of `f`, over at least `budget` CPU seconds.
fn time(budget: f64, mut f: impl FnMut()) -> f64 {
    let origin = Instant::now();
    f();
    let t0 = cpu_ns(origin);
    let mut calls = 0u64;
    loop {
        f();
        calls += 1;
        let spent = (cpu_ns(origin) - t0) as f64 * 1e-9;
        if spent >= budget {
            return spent / calls as f64;
        }
    }
}

fn weights(ty: GgmlType, rows: usize, cols: usize) -> Vec<u8> {
    let mut s = 0x1234_5678u64;
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as u32
    };
    let mut w: Vec<u8> = (0..ty.row_bytes(cols).unwrap() * rows).map(|_| next() as u8).collect();
    let small = |v: u32| f32_to_f16(0.001 + (v % 1000) as f32 * 1e-5).to_le_bytes();
    let fields: &[usize] = match ty {
        GgmlType::Q6_K => &[208],
        GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q5_1 | GgmlType::Q4_1 => &[0, 2],
        _ => &[0],
    };
    match ty {
        GgmlType::F32 => w.chunks_exact_mut(4).for_each(|c| c.copy_from_slice(&((next() % 1000) as f32 * 1e-4).to_le_bytes())),
        GgmlType::F16 | GgmlType::BF16 => w.chunks_exact_mut(2).for_each(|c| c.copy_from_slice(&small(next()))),
        _ => w.chunks_exact_mut(ty.type_size()).for_each(|b| fields.iter().for_each(|&f| b[f..f + 2].copy_from_slice(&small(next())))),
    }
    w
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |id: &str| filter.is_empty() || filter.iter().any(|f| id.contains(f.as_str()));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
    let simd: Vec<Isa> = [Isa::Avx2, Isa::Avx512, Isa::Neon].into_iter().filter(|i| i.is_available()).collect();
    let isas = if simd.is_empty() { vec![Isa::detected()] } else { simd };
    pool.install(|| {
        if wanted("membw") {
            let buf: Vec<u64> = (0..STREAM_BYTES / 8).map(|i| i as u64).collect();
            let s = time(1.0, || {
                std::hint::black_box(buf.iter().fold(0u64, |a, &v| a.wrapping_add(v)));
            });
            println!("membw/read_1_thread {:.2} GB/s", STREAM_BYTES as f64 / s * 1e-9);
        }
        for ty in TYPES {
            for (name, rows, cols) in SHAPES {
                if cols % ty.block_size() != 0 {
                    continue;
                }
                let one = weights(ty, rows, cols);
                for (isa, (kind, n)) in
                    [("matvec", 1usize), ("matmul16", 16), ("matmul256", 256)].into_iter().flat_map(|k| isas.iter().map(move |&i| (i, k)))
                {
                    let id = format!("{kind}_{}/{}/{name}", isa.name(), ty.name());
                    if !wanted(&id) {
                        continue;
                    }
                    let x: Vec<f32> = (0..n * cols).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
                    let acts = Activations::quantize(ty, &x, n, cols).expect("activations");
                    let mut y = vec![0.0f32; n * rows];
                    if n == 1 {
                        let copies = (STREAM_BYTES / one.len()).max(2);
                        let all: Vec<u8> = one.iter().copied().cycle().take(one.len() * copies).collect();
                        let mut k = 0;
                        let s = time(0.5, || {
                            k = (k + 1) % copies;
                            let w = &all[k * one.len()..(k + 1) * one.len()];
                            matmul_prepared_on(isa, ty, w, rows, &acts, &mut y).expect("matvec");
                        });
                        println!("{id} {:.2} GB/s ({:.1} us)", one.len() as f64 / s * 1e-9, s * 1e6);
                        // Baseline: dequantize each row with the reference decoder, then dot.
                        let naive_id = format!("naive_dequant_dot/{}/{name}", ty.name());
                        if wanted(&naive_id) && name == "dense_2112x2816" && isa == isas[0] {
                            let row_bytes = one.len() / rows;
                            let mut row = vec![0.0f32; cols];
                            let s = time(0.5, || {
                                k = (k + 1) % copies;
                                let w = &all[k * one.len()..(k + 1) * one.len()];
                                for (yr, wr) in y.iter_mut().zip(w.chunks_exact(row_bytes)) {
                                    dgemma_quant::dequantize(ty, wr, &mut row).expect("dequantize");
                                    *yr = row.iter().zip(&x).map(|(a, b)| a * b).sum();
                                }
                            });
                            println!("{naive_id} {:.2} GB/s ({:.1} us)", one.len() as f64 / s * 1e-9, s * 1e6);
                        }
                    } else {
                        let s = time(1.0, || matmul_prepared_on(isa, ty, &one, rows, &acts, &mut y).expect("matmul"));
                        println!("{id} {:.2} GFLOP/s ({:.2} ms)", (2 * rows * cols * n) as f64 / s * 1e-9, s * 1e3);
                    }
                }
            }
        }
    });
}
