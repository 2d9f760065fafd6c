//! `dgemma bench -m MODEL.gguf`: llama-bench-like throughput table — prefill tok/s, denoiser
//! ms/step at the model's canvas length with a fixed number of steps, end-to-end tok/s of one
//! canvas, peak RSS — over `-r` repetitions, as a table or `-o json`. `--profile` adds the time of
//! each model phase per denoiser step (through [`Profiled`]) and the sampler's time per step;
//! `--kernel TYPE:ROWSxCOLS:N,..` times single matmuls instead (see [`kernels`]).

mod kernels;
mod profile;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use dgemma_backend::{Backend, Profiled};
use dgemma_model::{KvCache, Model, Scratch, Session};
use dgemma_sampler::{generate, GenerateConfig, LlamaRng, SamplerParams};
use serde_json::json;

use dgemma_backend_wgpu::GpuApi;

use super::run::{cpu_backend, open_gpu, open_model_file, parse_cutoff, BackendKind};

#[derive(clap::Args)]
pub struct Args {
    /// Model file (GGUF, arch diffusion-gemma).
    #[arg(short = 'm', long, required_unless_present = "kernel")]
    pub model: Option<PathBuf>,
    /// Prompt tokens for the prefill test (ppN).
    #[arg(short = 'p', long, default_value_t = 512)]
    pub n_prompt: usize,
    /// Denoising steps per canvas in the denoise and end-to-end tests (no early stop).
    #[arg(long, default_value_t = 8)]
    pub steps: u32,
    /// Repetitions of each test.
    #[arg(short = 'r', long, default_value_t = 3)]
    pub repetitions: usize,
    /// Worker threads (0 = all cores).
    #[arg(short = 't', long, default_value_t = 0)]
    pub threads: usize,
    /// Compute backend: auto, cpu, vulkan or metal (auto: a hardware GPU, else the CPU).
    #[arg(long, default_value = "cpu")]
    pub backend: String,
    /// GPU adapter index (see `dgemma devices`).
    #[arg(long)]
    pub device: Option<usize>,
    /// Prompt rows encoded per chunk.
    #[arg(short = 'b', long, default_value_t = 512)]
    pub batch: usize,
    /// Output format: `table` or `json`.
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
    /// Also report ms per model phase per denoiser step (attention, experts, LM head, ...) and
    /// the sampler's ms per step.
    #[arg(long)]
    pub profile: bool,
    /// Opt-in approximation (off = 0, exact): before the self-conditioning soft embedding, drop
    /// every probability below this fraction of its row's largest (e.g. 1e-4), so the vocabulary
    /// rows nobody weighs are skipped. Its effect on quality is not measured.
    #[arg(long, default_value_t = 0.0, value_parser = parse_cutoff)]
    pub soft_embed_cutoff: f32,
    /// Opt-in approximation, as `dgemma run --soft-embed-bf16`: the soft embedding with
    /// bfloat16 operands (CPU backend, AVX-512 BF16).
    #[arg(long)]
    pub soft_embed_bf16: bool,
    /// Time single matmuls instead of a model: `TYPE:ROWSxCOLS:N[,N..]` (e.g. `q8_0:4096x2816:1,16,256`),
    /// repeatable; `-r` is the minimum number of timed calls per case.
    #[arg(long, value_parser = kernels::parse_spec)]
    pub kernel: Vec<kernels::KernelSpec>,
}

/// Deterministic token ids in `[3, vocab)` (skips pad/eos/bos so nothing is special).
fn tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            3 + ((s >> 33) % (vocab.saturating_sub(3).max(1)) as u64) as u32
        })
        .collect()
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Minimum and median of the repetitions (both robust to other processes stealing the cores).
fn min_median(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    (s[0], median)
}

/// For rates (higher is better) the best repetition is the maximum; for times, the minimum.
struct Row {
    test: String,
    unit: &'static str,
    higher_is_better: bool,
    samples: Vec<f64>,
}

impl Row {
    /// (best, median) of the samples.
    fn best_median(&self) -> (f64, f64) {
        let (lo, med) = min_median(&self.samples);
        let hi = self.samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (if self.higher_is_better { hi } else { lo }, med)
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.output != "table" && args.output != "json" {
        bail!("unknown output format '{}' (table, json)", args.output);
    }
    if args.repetitions == 0 || args.steps == 0 || args.n_prompt == 0 {
        bail!("-r, --steps and -p must be > 0");
    }
    // The same choice as `dgemma run`: a GPU API by name, `auto` = a hardware GPU else the CPU.
    let gpu = match BackendKind::parse(&args.backend)? {
        BackendKind::Cpu => None,
        BackendKind::Auto => open_gpu(GpuApi::Auto, args.device, false)?,
        BackendKind::Gpu(api) => open_gpu(api, args.device, true)?,
    };
    match (cpu_backend(args.threads, args.soft_embed_bf16, gpu.is_some())?, gpu) {
        (Some(cpu), _) => bench_on(&args, cpu),
        (None, Some(gpu)) => bench_on(&args, gpu),
        (None, None) => unreachable!("cpu_backend gives a backend when there is no GPU"),
    }
}

/// The kernel timings or the model tests on one backend. GPU ops are asynchronous, so under
/// `--profile` a GPU's time lands in the phase that waits for it (a read), not the one that
/// queued it.
fn bench_on<B: Backend>(args: &Args, backend: B) -> Result<()> {
    if !args.kernel.is_empty() {
        return kernels::run(&backend, &args.kernel, args.repetitions, args.output == "json");
    }
    if args.profile {
        let profiled = Profiled::new(backend);
        measure(args, &profiled, Some(&profiled))
    } else {
        measure(args, &backend, None::<&Profiled<B>>)
    }
}

/// Every test on `backend`; `profiler` is the same backend when `--profile` wraps it.
fn measure<B: Backend, P: Backend>(args: &Args, backend: &B, profiler: Option<&Profiled<P>>) -> Result<()> {
    let path = args.model.as_ref().context("-m MODEL is required")?;
    let file = open_model_file(path)?;
    let model = Model::load(&file, backend)?;
    let cfg = &model.cfg;
    let (c, v) = (cfg.canvas, cfg.vocab);
    let ctx = args.n_prompt + c;
    if ctx > cfg.context_length {
        bail!("-p {} + canvas {c} exceeds the model's context of {}", args.n_prompt, cfg.context_length);
    }
    let prompt = tokens(args.n_prompt, v, 1);
    let canvas = tokens(c, v, 2);
    let (mut pp, mut step_ms, mut e2e, mut tpf) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut prof = profile::PhaseProfile::default();
    let mut logits = vec![0f32; c * v];
    let mut z = vec![0f32; c * v];
    for rep in 0..args.repetitions {
        // Prefill.
        let mut cache = KvCache::new(backend, cfg, ctx);
        let mut s = Scratch::new(backend, cfg, args.batch, true);
        s.set_soft_embed_cutoff(args.soft_embed_cutoff);
        let t0 = Instant::now();
        model.encode(&prompt, &mut cache, &mut s, None)?;
        pp.push(args.n_prompt as f64 / t0.elapsed().as_secs_f64());
        // Denoiser steps, self-conditioning on from the second step as in generation.
        if let Some(p) = profiler {
            p.reset();
        }
        let t0 = Instant::now();
        for step in 0..args.steps {
            model.denoise(&canvas, &cache, (step > 0).then_some(z.as_slice()), &mut s, &mut logits, None)?;
            std::mem::swap(&mut z, &mut logits);
        }
        step_ms.push(t0.elapsed().as_secs_f64() * 1e3 / args.steps as f64);
        if let Some(p) = profiler {
            prof.add_rep(&p.phases(), args.steps, *step_ms.last().unwrap_or(&0.0));
        }
        // End to end: one canvas after the prompt, fixed steps (a confidence bound nothing meets).
        let mut session = Session::new(&model, ctx, args.batch);
        session.set_soft_embed_cutoff(args.soft_embed_cutoff);
        session.prefill(&prompt)?;
        let params = SamplerParams { max_new_tokens: c, max_steps: args.steps, confidence_threshold: 1e-30, ..SamplerParams::default() };
        let gen_cfg = GenerateConfig { vocab: v, canvas_length: c, end_of_generation: vec![], pad_id: 0, repetition_cut: false };
        let t0 = Instant::now();
        let g = generate(&mut session, &params, &gen_cfg, &mut LlamaRng::new(rep as u32), |_| {}, |_| {})?;
        let gen_time = t0.elapsed();
        e2e.push(g.canvas_tokens as f64 / gen_time.as_secs_f64());
        // Whatever generation spent outside the model's passes is the sampler's.
        let t = &session.times;
        let outside = gen_time.saturating_sub(t.denoise + t.commit);
        prof.sampler_ms.push(outside.as_secs_f64() * 1e3 / t.denoise_steps.max(1) as f64);
        tpf.push(g.tokens_per_forward);
    }
    let rss = peak_rss_mib();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let size_mib = std::fs::metadata(path).map(|m| m.len() as f64 / (1 << 20) as f64).unwrap_or(0.0);
    let threads = backend.threads();
    let rows = [
        Row { test: format!("pp{}", args.n_prompt), unit: "tok/s", higher_is_better: true, samples: pp },
        Row { test: format!("denoise C={c} x{}", args.steps), unit: "ms/step", higher_is_better: false, samples: step_ms },
        Row { test: format!("e2e n={c} steps={}", args.steps), unit: "tok/s", higher_is_better: true, samples: e2e },
        Row { test: format!("e2e n={c} steps={}", args.steps), unit: "tok/forward", higher_is_better: true, samples: tpf },
    ];
    if args.output == "json" {
        let tests: Vec<_> = rows
            .iter()
            .map(|r| {
                let (best, median) = r.best_median();
                json!({"test": r.test, "unit": r.unit, "best": best, "median": median, "samples": r.samples})
            })
            .collect();
        let mut doc = json!({
            "model": name, "size_mib": size_mib, "backend": backend.name(), "threads": threads,
            "repetitions": args.repetitions, "steps": args.steps, "n_prompt": args.n_prompt,
            "canvas": c, "vocab": v, "tests": tests, "peak_rss_mib": rss,
        });
        if profiler.is_some() {
            doc["profile"] = prof.to_json();
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("| model | size | backend | threads | test | best | median |");
        println!("|---|---:|---|---:|---|---:|---:|");
        for r in &rows {
            let (best, median) = r.best_median();
            println!(
                "| {name} | {size_mib:.1} MiB | {} | {threads} | {} | {best:.2} {u} | {median:.2} {u} |",
                backend.name(),
                r.test,
                u = r.unit
            );
        }
        if let Some(r) = rss {
            println!("\npeak RSS {r:.0} MiB (VmHWM)");
        }
        if profiler.is_some() {
            println!();
            prof.print_table();
        }
    }
    Ok(())
}
