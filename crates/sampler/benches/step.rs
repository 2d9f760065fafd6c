//! One sampler step at the 26B model's shape (C = 256 positions × V = 262,144 tokens), and the
//! temperature division that precedes it.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dgemma_sampler::{apply_temperature, step, SampleDraws, StabilityHistory, StepBuffers, StepInput};

const C: usize = 256;
const V: usize = 262_144;

/// Logit-like values from a fixed LCG (a few peaked rows, most spread out).
fn logits() -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..C * V)
        .map(|i| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let u = (state >> 40) as f32 / (1u64 << 24) as f32;
            let peak = if i % V == (i / V) * 977 % V { 25.0 } else { 0.0 };
            u * 12.0 - 6.0 + peak
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut z = logits();
    let canvas = vec![7u32; C];
    let noise = vec![11u32; C];
    let uniforms: Vec<f32> = (0..C).map(|i| (i as f32 + 0.5) / C as f32).collect();
    let mut bufs = StepBuffers::new(C);
    let mut history = StabilityHistory::new(1, C);
    let mut g = c.benchmark_group("sampler");
    g.sample_size(10);
    g.throughput(Throughput::Elements((C * V) as u64));
    g.bench_function("step_256x262144", |b| {
        b.iter(|| {
            let input = StepInput {
                z: &z,
                vocab: V,
                canvas: &canvas,
                draws: SampleDraws::Uniform(&uniforms),
                noise: &noise,
                entropy_bound: 0.1,
                confidence_threshold: 0.005,
            };
            step(&input, &mut history, &mut bufs).unwrap()
        })
    });
    g.bench_function("temperature_256x262144", |b| b.iter(|| apply_temperature(&mut z, 1.0)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
