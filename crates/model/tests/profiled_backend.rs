//! The [`Profiled`] wrapper changes nothing but the clock: on the nano Q8_0 fixture a prefill
//! and two denoiser steps (without, then with self-conditioning) give bit-identical logits
//! through the wrapper and through the plain CPU backend, and the profile names every phase the
//! denoiser marks, each with a non-negative time and at least one op call.

mod common;

use common::fixture;
use dgemma_backend::{Backend, Profiled};
use dgemma_backend_cpu::CpuBackend;
use dgemma_gguf::GgufFile;
use dgemma_model::{KvCache, Model, Scratch};

/// Every phase a denoiser step with self-conditioning marks.
const DENOISE_PHASES: [&str; 12] = [
    "embed",
    "self_cond.soft_embed",
    "self_cond.mlp",
    "attn.qkv",
    "attn.core",
    "attn.out",
    "mlp.dense",
    "moe.router",
    "moe.experts",
    "ffn.residual",
    "lm_head.matmul",
    "logits.read",
];

/// Prefill `prompt`, then denoise `canvas` twice (second step self-conditioned on the first's
/// logits); returns both steps' logits.
fn two_steps<B: Backend>(file: &GgufFile, backend: &B, prompt: &[u32], canvas: &[u32], after_prefill: impl FnOnce()) -> Vec<Vec<f32>> {
    let model = Model::load(file, backend).expect("model loads");
    let cfg = &model.cfg;
    let mut cache = KvCache::new(backend, cfg, prompt.len() + cfg.canvas);
    let mut s = Scratch::new(backend, cfg, 16, true);
    model.encode(prompt, &mut cache, &mut s, None).unwrap();
    after_prefill();
    let mut first = vec![0f32; canvas.len() * cfg.vocab];
    model.denoise(canvas, &cache, None, &mut s, &mut first, None).unwrap();
    let mut second = vec![0f32; canvas.len() * cfg.vocab];
    model.denoise(canvas, &cache, Some(&first), &mut s, &mut second, None).unwrap();
    vec![first, second]
}

#[test]
fn profiled_backend_is_bit_identical_and_times_every_phase() {
    let file = GgufFile::open(fixture("tests/fixtures/generated/nano-q8_0.gguf")).expect("nano opens");
    let cfg = dgemma_model::Config::from_gguf(&file).unwrap();
    let prompt: Vec<u32> = (0..21).map(|i| 3 + (i * 7919) % (cfg.vocab as u32 - 3)).collect();
    let canvas: Vec<u32> = (0..cfg.canvas as u32).map(|i| 3 + (i * 104_729) % (cfg.vocab as u32 - 3)).collect();

    let plain = two_steps(&file, &CpuBackend::new(2).unwrap(), &prompt, &canvas, || {});
    let profiled = Profiled::new(CpuBackend::new(2).unwrap());
    let got = two_steps(&file, &profiled, &prompt, &canvas, || profiled.reset());

    for (step, (a, b)) in plain.iter().zip(&got).enumerate() {
        assert_eq!(a.len(), b.len());
        let differing = a.iter().zip(b).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
        assert_eq!(differing, 0, "step {step}: {differing} logits differ through the profiler");
        assert!(a.iter().all(|x| x.is_finite()), "step {step}: non-finite logits");
    }

    let phases = profiled.phases();
    eprintln!("{phases:#?}");
    let names: Vec<&str> = phases.iter().map(|p| p.name).collect();
    let mut want: Vec<&str> = DENOISE_PHASES.to_vec();
    if cfg.softcap.is_some() {
        want.push("lm_head.softcap");
    }
    for name in &want {
        let p = phases.iter().find(|p| p.name == *name).unwrap_or_else(|| panic!("phase {name} missing from {names:?}"));
        assert!(p.calls > 0, "phase {name} has no op calls");
    }
    // Nothing ran outside a marked phase, and nothing unexpected was marked after the reset.
    for p in &phases {
        assert!(want.contains(&p.name), "unexpected phase {} in {names:?}", p.name);
    }
    let total: std::time::Duration = phases.iter().map(|p| p.time).sum();
    assert_eq!(total, profiled.total());
    assert!(total > std::time::Duration::ZERO, "no time recorded at all");
}
