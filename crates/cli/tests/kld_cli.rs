//! `dgemma kld` and `dgemma quant-error` end to end on the nano fixtures (made by
//! tests/fixtures/generate.d/40-interop.sh): identical models give KL 0 and 100 % agreement,
//! a Q8_0 model gives a small non-zero KL, a saved base file reproduces the live comparison,
//! and Q8_0 tensors carry less error than Q4_K ones.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn fixture(name: &str) -> String {
    let p = repo().join("tests/fixtures/generated").join(name);
    if !p.exists() {
        let why = std::fs::read_to_string(p.with_extension("gguf.error")).unwrap_or_default();
        panic!("{} is missing: run `bash tests/setup.sh` {why}", p.display());
    }
    p.to_str().unwrap().to_string()
}

/// A text file shared by the tests (written once per process).
fn text() -> String {
    let p = std::env::temp_dir().join(format!("dgemma-kld-text-{}.txt", std::process::id()));
    if !p.exists() {
        let s = "The quick brown fox jumps over the lazy dog. A diffusion model writes a canvas at a time, \
                 and quantization moves its distributions a little. "
            .repeat(12);
        std::fs::write(&p, s).unwrap();
    }
    p.to_str().unwrap().to_string()
}

fn dgemma(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma")).args(args).output().expect("dgemma starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dgemma {args:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn kld(extra: &[&str]) -> serde_json::Value {
    let t = text();
    let mut args = vec!["kld", "-f", &t, "--chunks", "2", "-t", "2", "-o", "json"];
    args.extend_from_slice(extra);
    dgemma(&args)
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn identical_models_have_zero_kl_and_full_agreement() {
    let m = fixture("nano-f32.gguf");
    let r = kld(&["--base", &m, "-m", &m]);
    let sections = r["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 4, "encoder + 3 noise ratios");
    for s in sections {
        assert!(f(&s["positions"]) > 0.0);
        assert_eq!(f(&s["kl"]["max"]), 0.0, "{s}");
        assert_eq!(f(&s["top1_pct"]), 100.0, "{s}");
        assert_eq!(f(&s["rms_dp_pct"]), 0.0, "{s}");
        assert_eq!(s["ppl_base"], s["ppl_quant"]);
    }
    let smp = &r["sampler"];
    assert_eq!(f(&smp["canvas_agreement_pct"]), 100.0);
    assert_eq!(smp["steps_base"], smp["steps_quant"]);
    assert_eq!(smp["identical_canvases"], smp["canvases"]);
}

#[test]
fn q8_0_has_small_nonzero_kl_and_saved_base_reproduces_it() {
    let (base, q8) = (fixture("nano-f32.gguf"), fixture("nano-q8_0.gguf"));
    let live = kld(&["--base", &base, "-m", &q8, "--no-sampler"]);
    let enc = &live["sections"][0];
    assert_eq!(enc["name"], "encoder");
    assert!(f(&enc["kl"]["mean"]) > 0.0, "Q8_0 changes the logits: {enc}");
    assert!(f(&enc["kl"]["mean"]) < 0.05, "Q8_0 stays close to F32: {enc}");
    assert!(f(&enc["top1_pct"]) > 90.0, "{enc}");
    for s in live["sections"].as_array().unwrap() {
        assert!(f(&s["kl"]["max"]) >= f(&s["kl"]["p99"]) && f(&s["kl"]["p99"]) >= f(&s["kl"]["median"]), "{s}");
    }

    // --save-base with top-K ≥ vocab keeps whole distributions: same numbers up to f32 storage.
    let file = std::env::temp_dir().join(format!("dgemma-kld-base-{}.bin", std::process::id()));
    let file = file.to_str().unwrap();
    let t = text();
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma"))
        .args(["kld", "-f", &t, "--chunks", "2", "-t", "2", "--no-sampler", "--base", &base, "--save-base", file, "--top-k", "512"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let saved = kld(&["--base-logits", file, "-m", &q8, "--no-sampler"]);
    for (a, b) in live["sections"].as_array().unwrap().iter().zip(saved["sections"].as_array().unwrap()) {
        assert_eq!(a["positions"], b["positions"]);
        assert_eq!(a["top1_pct"], b["top1_pct"]);
        let (ka, kb) = (f(&a["kl"]["mean"]), f(&b["kl"]["mean"]));
        assert!((ka - kb).abs() <= 1e-6 + 1e-3 * ka, "{} live {ka} vs saved {kb}", a["name"]);
    }
    // A file made with other settings is refused.
    let t = text();
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma"))
        .args(["kld", "-f", &t, "--chunks", "2", "--no-sampler", "--seed", "7", "--base-logits", file, "-m", &q8])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match this run") || String::from_utf8_lossy(&out.stderr).contains("made with settings"));
    let _ = std::fs::remove_file(file);
}

#[test]
fn quant_error_ranks_q8_0_above_q4_k() {
    let (base, q4) = (fixture("nano-f32.gguf"), fixture("nano-q4_k_m.gguf"));
    let r = dgemma(&["quant-error", &q4, "--source", &base, "-o", "json"]);
    let tensors = r["tensors"].as_array().unwrap();
    assert!(!tensors.is_empty());
    for t in tensors {
        assert!(f(&t["rmse"]) > 0.0, "{t}");
    }
    let by_type = r["by_type"].as_array().unwrap();
    let snr = |ty: &str| by_type.iter().find(|g| g["group"] == ty).map(|g| f(&g["snr_db"])).unwrap_or_else(|| panic!("no {ty} tensors: {by_type:?}"));
    let (q8, q4k) = (snr("q8_0"), snr("q4_K"));
    assert!(q8 > q4k + 10.0, "Q8_0 SNR {q8} dB vs Q4_K {q4k} dB");
    let roles: Vec<&str> = r["by_role"].as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    for want in ["attention", "dense MLP", "experts"] {
        assert!(roles.contains(&want), "{roles:?}");
    }
}

#[test]
fn quant_error_from_hf_dir_matches_the_f32_gguf_source() {
    let (f32, q8) = (fixture("nano-f32.gguf"), fixture("nano-q8_0.gguf"));
    let hf = repo().join("tests/fixtures/nano");
    let a = dgemma(&["quant-error", &q8, "--source", &f32, "-o", "json"]);
    let b = dgemma(&["quant-error", &q8, "--source", hf.to_str().unwrap(), "-o", "json"]);
    assert_eq!(a["tensors"], b["tensors"]);
    assert_eq!(a["by_role"], b["by_role"]);
    // A source with other shapes is an error naming the tensor, not a panic.
    let other = repo().join("tests/fixtures/generated/interop/f32.gguf");
    if other.exists() {
        let out = Command::new(env!("CARGO_BIN_EXE_dgemma")).args(["quant-error", &q8, "--source", other.to_str().unwrap()]).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("tensor `"), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
