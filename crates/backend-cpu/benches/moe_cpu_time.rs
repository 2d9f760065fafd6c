//! One MoE layer call at the 26B's widths (hidden 2816, 128 experts × 704, top-8, a 256-row
//! canvas: ≈ 16 rows per expert, 12.2 GMAC per call): the backend's flat (expert, row block)
//! scheduling against the previous per-expert scheme (experts in parallel, each gathering its
//! rows, quantizing them and running a nested row-parallel `matmul` per projection).
//!
//! Timed by CPU time (`/proc/self/task/*/schedstat`), which other processes on a shared machine
//! inflate far less than wall time: on a 1-thread pool it is the work itself; on 2 threads it
//! adds what the threads spend idling in rayon. Wall time (min over calls) is printed too.
//!
//! `cargo bench -p dgemma-backend-cpu --bench moe_cpu_time [-- q8_0|q4_k]`

use std::time::Instant;

use dgemma_backend::{Backend, MoeRoute, WeightShape, WeightSource};
use dgemma_backend_cpu::CpuBackend;
use dgemma_quant::blocks::f32_to_f16;
use dgemma_quant::kernels::matmul;
use dgemma_quant::GgmlType;
use dgemma_test_support::process_cpu_ns;
use rayon::prelude::*;

const H: usize = 2816;
const I: usize = 704;
const EXPERTS: usize = 128;
const K: usize = 8;
const ROWS: usize = 256;
/// Timed calls per case (after one warm-up call).
const CALLS: usize = 5;

fn lcg(seed: u64) -> impl FnMut() -> u32 {
    let mut s = seed;
    move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as u32
    }
}

/// Random blocks with small, finite scales (the kernels' speed does not depend on the values).
fn weights(ty: GgmlType, rows: usize, cols: usize) -> Vec<u8> {
    let mut next = lcg(0x1234_5678);
    let mut w: Vec<u8> = (0..ty.row_bytes(cols).unwrap() * rows).map(|_| next() as u8).collect();
    let fields: &[usize] = match ty {
        GgmlType::Q6_K => &[208],
        GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        _ => &[0],
    };
    w.chunks_exact_mut(ty.type_size())
        .for_each(|b| fields.iter().for_each(|&f| b[f..f + 2].copy_from_slice(&f32_to_f16(0.001 + (next() % 1000) as f32 * 1e-5).to_le_bytes())));
    w
}

/// Top-8 of 128 distinct experts per row, uniformly at random.
fn route() -> MoeRoute {
    let mut next = lcg(7);
    let mut r = MoeRoute { rows: ROWS, k: K, n_experts: EXPERTS, experts: vec![], weights: vec![] };
    for _ in 0..ROWS {
        let mut picked = Vec::new();
        while picked.len() < K {
            let e = next() % EXPERTS as u32;
            if !picked.contains(&e) {
                picked.push(e);
            }
        }
        r.experts.extend(&picked);
        r.weights.extend((0..K).map(|_| 0.05 + (next() % 100) as f32 * 1e-3));
    }
    r
}

/// The previous scheme, through the public kernels: per expert (in parallel) gather its rows,
/// `matmul` (quantizes them, then a nested row-parallel loop), GELU·up, `matmul`, weighted slots.
fn per_expert(gt: GgmlType, gu: &[u8], dt: GgmlType, down: &[u8], x: &[f32], route: &MoeRoute, out: &mut [f32]) {
    let (gb, db) = (gu.len() / EXPERTS, down.len() / EXPERTS);
    let mut slots = vec![0f32; ROWS * K * H];
    let ptr = slots.as_mut_ptr() as usize;
    (0..EXPERTS).into_par_iter().for_each(|e| {
        let mine: Vec<usize> = (0..ROWS * K).filter(|&s| route.experts[s] as usize == e).collect();
        let m = mine.len();
        if m == 0 {
            return;
        }
        let xe: Vec<f32> = mine.iter().flat_map(|&s| x[s / K * H..(s / K + 1) * H].iter().copied()).collect();
        let mut g = vec![0f32; m * 2 * I];
        matmul(gt, &gu[e * gb..(e + 1) * gb], 2 * I, H, &xe, m, &mut g).unwrap();
        let mut a = vec![0f32; m * I];
        for i in 0..m {
            for c in 0..I {
                let v = g[i * 2 * I + c];
                a[i * I + c] = v / (1.0 + (-1.595_769_2 * (v + 0.044715 * v * v * v)).exp()) * g[i * 2 * I + I + c];
            }
        }
        let mut y = vec![0f32; m * H];
        matmul(dt, &down[e * db..(e + 1) * db], H, I, &a, m, &mut y).unwrap();
        for (i, &s) in mine.iter().enumerate() {
            for c in 0..H {
                // SAFETY: each slot belongs to one expert; `slots` outlives the loop.
                unsafe { *(ptr as *mut f32).add(s * H + c) = route.weights[s] * y[i * H + c] };
            }
        }
    });
    out.par_chunks_mut(H).enumerate().for_each(|(r, o)| {
        o.fill(0.0);
        for j in 0..K {
            o.iter_mut().zip(&slots[(r * K + j) * H..(r * K + j + 1) * H]).for_each(|(a, b)| *a += b);
        }
    });
}

/// (CPU s, min wall s) per call.
fn time(mut f: impl FnMut()) -> (f64, f64) {
    let cpu_ns = || process_cpu_ns().expect("this bench needs /proc/self/task/*/schedstat (Linux)");
    f();
    let (c0, mut best) = (cpu_ns(), f64::MAX);
    for _ in 0..CALLS {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    ((cpu_ns() - c0) as f64 * 1e-9 / CALLS as f64, best)
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_default();
    let route = route();
    let mut next = lcg(3);
    let x: Vec<f32> = (0..ROWS * H).map(|_| (next() % 2000) as f32 * 1e-3 - 1.0).collect();
    let gmac = (ROWS * K * (2 * I * H + H * I)) as f64 * 1e-9;
    for (name, gt, dt) in [("q8_0", GgmlType::Q8_0, GgmlType::Q8_0), ("q4_k", GgmlType::Q4_K, GgmlType::Q5_0)] {
        if !name.contains(&filter) {
            continue;
        }
        let gu = weights(gt, EXPERTS * 2 * I, H);
        let down = weights(dt, EXPERTS * H, I);
        for threads in [1, 2] {
            let b = CpuBackend::new(threads).unwrap();
            let shape = |rows, cols| WeightShape { rows, cols, experts: EXPERTS };
            let wgu = b.upload_weight(WeightSource { name: "gate_up", ty: gt, shape: shape(2 * I, H), data: &gu }).unwrap();
            let wd = b.upload_weight(WeightSource { name: "down", ty: dt, shape: shape(H, I), data: &down }).unwrap();
            let (xb, mut out) = (x.clone(), b.alloc(ROWS * H));
            let flat = time(|| b.moe(&wgu, &wd, &xb, &route, &mut out));
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut out2 = vec![0f32; ROWS * H];
            let old = time(|| pool.install(|| per_expert(gt, &gu, dt, &down, &x, &route, &mut out2)));
            for (label, (cpu, wall)) in [("flat (expert, row block)", flat), ("per-expert (previous)", old)] {
                println!(
                    "moe {name} gate_up/{dt} -t {threads} {label:<26} CPU {:7.1} ms/call ({:5.1} GMAC/s per CPU s)  wall min {:7.1} ms",
                    cpu * 1e3,
                    gmac / cpu,
                    wall * 1e3
                );
            }
        }
    }
}
