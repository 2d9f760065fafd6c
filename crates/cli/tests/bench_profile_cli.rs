//! `dgemma bench --profile` and `--kernel` end to end: the JSON profile of a denoiser step on the
//! nano Q8_0 fixture names the model's phases with non-negative times that fit inside the
//! measured step, and the kernel mode times each requested (type, shape, batch) case.

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/fixtures/generated").join(name);
    assert!(p.exists(), "{} is missing: run `bash tests/setup.sh`", p.display());
    p.to_str().unwrap().to_string()
}

fn dgemma_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma")).args(args).output().expect("dgemma starts");
    assert!(out.status.success(), "dgemma {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn profile_names_every_phase_within_the_step_time() {
    let m = fixture("nano-q8_0.gguf");
    let r = dgemma_json(&["bench", "-m", &m, "-t", "2", "-p", "8", "--steps", "2", "-r", "2", "-o", "json", "--profile"]);
    let p = &r["profile"];
    let step = num(&p["denoise_ms_per_step"]);
    assert!(step > 0.0, "{p}");
    let phases = p["phases"].as_array().expect("phases array");
    let names: Vec<&str> = phases.iter().map(|x| x["phase"].as_str().unwrap()).collect();
    for want in ["embed", "attn.qkv", "attn.core", "attn.out", "mlp.dense", "moe.router", "moe.experts", "lm_head.matmul", "self_cond.soft_embed", "self_cond.mlp"] {
        assert!(names.contains(&want), "phase {want} missing from {names:?}");
    }
    let mut sum = 0.0;
    for x in phases {
        let ms = num(&x["ms_per_step"]);
        assert!(ms >= 0.0 && ms.is_finite(), "{x}");
        assert!(num(&x["calls_per_step"]) > 0.0, "{x}");
        sum += ms;
    }
    // The phases are op times inside the measured step: together they cannot exceed it by more
    // than the rounding of medians taken phase by phase.
    assert!(sum <= step * 1.10, "phases sum to {sum} ms, step is {step} ms");
    assert!(num(&p["sampler_ms_per_step"]) >= 0.0, "{p}");
    // The denoise row of the ordinary report is still there.
    assert!(r["tests"][1]["test"].as_str().unwrap().starts_with("denoise"));
}

#[test]
fn kernel_mode_times_each_case() {
    let r = dgemma_json(&["bench", "-t", "1", "-r", "2", "-o", "json", "--kernel", "q8_0:64x256:1,3", "--kernel", "q4_K:32x512:2"]);
    let k = r["kernels"].as_array().expect("kernels array");
    let got: Vec<(String, u64, u64, u64)> = k
        .iter()
        .map(|c| (c["type"].as_str().unwrap().to_string(), c["rows"].as_u64().unwrap(), c["cols"].as_u64().unwrap(), c["n"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, [("q8_0".into(), 64, 256, 1), ("q8_0".into(), 64, 256, 3), ("q4_K".into(), 32, 512, 2)]);
    for c in k {
        assert!(c["calls"].as_u64().unwrap() >= 2, "{c}");
        assert!(num(&c["us_min"]) > 0.0 && num(&c["us_median"]) >= num(&c["us_min"]), "{c}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma")).args(["bench", "--kernel", "q4_K:2816x704:1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("704 columns") && !err.contains("panicked"), "{err}");
}
