//! The `--profile` report of `dgemma bench`: ms per model phase per denoiser step (from
//! [`Profiled`](dgemma_backend::Profiled)'s per-phase op times), what the phases leave
//! unexplained (host work between ops), and the sampler's ms per step.

use dgemma_backend::PhaseTime;
use serde_json::{json, Value};

/// One phase of one repetition, per denoiser step.
#[derive(Clone, Debug)]
struct PhaseSample {
    name: &'static str,
    ms: f64,
    calls: f64,
}

/// Phase times of every repetition, plus the sampler's.
#[derive(Debug, Default)]
pub struct PhaseProfile {
    /// Per repetition: the phases in the order the model first entered them.
    reps: Vec<Vec<PhaseSample>>,
    /// Per repetition: wall ms per denoiser step (the phases' total is at most this).
    step_ms: Vec<f64>,
    /// Per repetition: ms per step generation spent outside the model (sampling, temperature,
    /// canvas bookkeeping).
    pub sampler_ms: Vec<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

impl PhaseProfile {
    /// Record one repetition's phases, accumulated over `steps` denoiser steps that took
    /// `step_ms` each.
    pub fn add_rep(&mut self, phases: &[PhaseTime], steps: u32, step_ms: f64) {
        let per = steps.max(1) as f64;
        self.reps.push(
            phases
                .iter()
                .map(|p| PhaseSample { name: p.name, ms: p.time.as_secs_f64() * 1e3 / per, calls: p.calls as f64 / per })
                .collect(),
        );
        self.step_ms.push(step_ms);
    }

    /// (name, median ms/step, median calls/step) per phase, in first-appearance order.
    fn phases(&self) -> Vec<(&'static str, f64, f64)> {
        let mut names: Vec<&'static str> = Vec::new();
        for p in self.reps.iter().flatten() {
            if !names.contains(&p.name) {
                names.push(p.name);
            }
        }
        names
            .into_iter()
            .map(|name| {
                let pick = |f: fn(&PhaseSample) -> f64| {
                    let mut v: Vec<f64> = self.reps.iter().map(|r| r.iter().find(|p| p.name == name).map_or(0.0, f)).collect();
                    median(&mut v)
                };
                (name, pick(|p| p.ms), pick(|p| p.calls))
            })
            .collect()
    }

    /// Median step time and the median of (step − Σ phases): host work between ops.
    fn step_and_rest(&self) -> (f64, f64) {
        let mut rest: Vec<f64> =
            self.reps.iter().zip(&self.step_ms).map(|(r, s)| s - r.iter().map(|p| p.ms).sum::<f64>()).collect();
        (median(&mut self.step_ms.clone()), median(&mut rest))
    }

    /// The `profile` object of `-o json`.
    pub fn to_json(&self) -> Value {
        let (step, rest) = self.step_and_rest();
        let phases: Vec<Value> = self
            .phases()
            .into_iter()
            .map(|(name, ms, calls)| json!({"phase": name, "ms_per_step": ms, "calls_per_step": calls, "share": ms / step}))
            .collect();
        json!({
            "denoise_ms_per_step": step,
            "phases": phases,
            "outside_ops_ms_per_step": rest,
            "sampler_ms_per_step": median(&mut self.sampler_ms.clone()),
        })
    }

    /// Markdown table: one row per phase, then the remainder and the sampler.
    pub fn print_table(&self) {
        let (step, rest) = self.step_and_rest();
        println!("| phase (median of reps) | ms/step | share of denoise step | op calls/step |");
        println!("|---|---:|---:|---:|");
        for (name, ms, calls) in self.phases() {
            println!("| {name} | {ms:.2} | {:.1} % | {calls:.0} |", 100.0 * ms / step);
        }
        println!("| (host work between ops) | {rest:.2} | {:.1} % | |", 100.0 * rest / step);
        println!("| **denoise step** | **{step:.2}** | 100 % | |");
        println!("| sampler (outside the model, per step) | {:.2} | | |", median(&mut self.sampler_ms.clone()));
    }
}
