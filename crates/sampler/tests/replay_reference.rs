//! Replays generate() traces recorded from the reference (transformers 5.23.0 on the nano
//! checkpoint, tests/fixtures/golden/nano/trace.json + trace_z.safetensors): with the recorded
//! z, canvases, sampled tokens and noise tokens, dgemma's step must reproduce every accept mask,
//! next canvas, argmax and stop decision exactly.

use std::collections::HashMap;

use dgemma_sampler::{
    accept_by_entropy, step, temperature, SampleDraws, StabilityHistory, StepBuffers, StepInput,
};
use safetensors::SafeTensors;
use serde_json::Value;

fn golden_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/golden/nano").to_string()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("token") as u32).collect()
}
fn bools(v: &Value) -> Vec<bool> {
    v.as_array().expect("array").iter().map(|x| x.as_bool().expect("bool")).collect()
}
fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("float") as f32).collect()
}

fn load() -> (Value, Vec<u8>) {
    let dir = golden_dir();
    let read = |name: &str| {
        let path = format!("{dir}/{name}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (the oracle's committed reference trace)"))
    };
    let trace: Value = serde_json::from_slice(&read("trace.json")).expect("trace.json parses");
    (trace, read("trace_z.safetensors"))
}

#[test]
fn replaying_reference_traces_reproduces_every_decision() {
    let (trace, z_bytes) = load();
    let z_file = SafeTensors::deserialize(&z_bytes).expect("trace_z.safetensors parses");
    let z_of: HashMap<String, Vec<f32>> = z_file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let data: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            (name, data)
        })
        .collect();

    let mut steps_with_z = 0;
    let mut steps_total = 0;
    let mut max_entropy_err = 0f64;
    for (name, t) in trace["traces"].as_object().expect("traces") {
        let cfg = &t["generation_config"];
        let max_steps = cfg["max_denoising_steps"].as_u64().unwrap() as u32;
        let (t_min, t_max) = (cfg["t_min"].as_f64().unwrap(), cfg["t_max"].as_f64().unwrap());
        let stability = cfg["stability_threshold"].as_u64().unwrap() as u32;
        let confidence = cfg["confidence_threshold"].as_f64().unwrap();
        let bound = t["entropy_bound"].as_f64().unwrap();
        let eos = u32s(&cfg["eos_token_id"]);
        let pad = cfg["pad_token_id"].as_u64().unwrap() as u32;
        let prompt = u32s(&t["prompt_ids"]);

        let mut sequence = prompt.clone();
        let mut passes = 0usize;
        for (b, block) in t["blocks"].as_array().unwrap().iter().enumerate() {
            let steps = block["steps"].as_array().unwrap();
            let c = block["initial_canvas"].as_array().unwrap().len();
            let mut canvas = u32s(&block["initial_canvas"]);
            let mut history = StabilityHistory::new(stability, c);
            let mut bufs = StepBuffers::new(c);
            let mut order = vec![0u32; c];
            let mut accept = vec![false; c];
            let mut last_argmax = canvas.clone();
            for (s, st) in steps.iter().enumerate() {
                let at = format!("{name} block {b} step {s}");
                steps_total += 1;
                passes += 1;
                let remaining = st["cur_step"].as_u64().unwrap() as u32;
                assert_eq!(remaining, max_steps - s as u32, "{at}: steps count down");
                let t_bits = u32::from_str_radix(st["temperature_f32_hex"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
                assert_eq!(temperature(t_min, t_max, remaining, max_steps).to_bits(), t_bits, "{at}: temperature");
                assert_eq!(u32s(&st["canvas_in"]), canvas, "{at}: canvas fed to the denoiser");

                let sampled = u32s(&st["sampled"]);
                let noise = u32s(&st["noise"]);
                let want_accept = bools(&st["accept"]);
                let want_out = u32s(&st["canvas_out"]);
                let want_argmax = u32s(&st["argmax"]);
                let want_stop = st["stop"].as_bool().unwrap();
                let want_entropy = f32s(&st["entropy"]);

                if let Some(z) = z_of.get(&format!("{name}.block{b}.step{s}.z")) {
                    steps_with_z += 1;
                    let vocab = z.len() / c;
                    let input = StepInput {
                        z,
                        vocab,
                        canvas: &canvas,
                        draws: SampleDraws::Tokens(&sampled),
                        noise: &noise,
                        entropy_bound: bound,
                        confidence_threshold: confidence,
                    };
                    let out = step(&input, &mut history, &mut bufs).unwrap();
                    for (p, (&mine, &want)) in bufs.entropy.iter().zip(&want_entropy).enumerate() {
                        let err = (mine as f64 - want as f64).abs();
                        max_entropy_err = max_entropy_err.max(err);
                        assert!(err <= 1e-5 * (want as f64).max(1.0), "{at} position {p}: entropy {mine} vs {want}");
                    }
                    assert_eq!(bufs.argmax, want_argmax, "{at}: argmax");
                    assert_eq!(bufs.accept, want_accept, "{at}: accept mask");
                    assert_eq!(bufs.next_canvas, want_out, "{at}: next canvas");
                    assert_eq!(out.stop, want_stop, "{at}: stop");
                    canvas = bufs.next_canvas.clone();
                } else {
                    // No z recorded: the rule on the recorded entropies and draws.
                    accept_by_entropy(&want_entropy, bound, &mut order, &mut accept);
                    assert_eq!(accept, want_accept, "{at}: accept mask from recorded entropies");
                    let next: Vec<u32> = (0..c).map(|p| if accept[p] { sampled[p] } else { noise[p] }).collect();
                    assert_eq!(next, want_out, "{at}: next canvas");
                    let stable = history.check_and_push(&want_argmax);
                    let mean = (want_entropy.iter().map(|&h| h as f64).sum::<f64>() / c as f64) as f32;
                    assert_eq!(stable && mean < confidence as f32, want_stop, "{at}: stop");
                    canvas = next;
                }
                last_argmax = want_argmax;
                if want_stop {
                    assert_eq!(s + 1, steps.len(), "{at}: the block ends at the stop");
                }
            }
            // The block's output is the last argmax; tokens after an EOS become pad.
            let mut out = last_argmax;
            if let Some(e) = out.iter().position(|t| eos.contains(t)) {
                out[e + 1..].fill(pad);
            }
            sequence.extend_from_slice(&out);
        }
        assert_eq!(sequence, u32s(&t["sequences"]), "{name}: sequences");
        let generated = sequence[prompt.len()..].iter().filter(|&&x| x != pad).count();
        let tpf = (generated as f64 / passes as f64) as f32;
        let want_bits = u32::from_str_radix(t["tokens_per_forward_f32_hex"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(tpf.to_bits(), want_bits, "{name}: tokens per forward");
    }
    assert!(steps_with_z >= 10, "trace must hold z for some steps ({steps_with_z})");
    eprintln!("replayed {steps_total} steps ({steps_with_z} from z); max |H - H_ref| = {max_entropy_err:.3e}");
}
