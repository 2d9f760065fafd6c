//! `dgemma bench --backend vulkan` on the nano model (lavapipe in CI): the same backend choice
//! as `dgemma run`, the model tests and `--kernel` timings running on the GPU backend.

use std::path::PathBuf;
use std::process::Command;

fn nano() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/generated/nano-q8_0.gguf");
    assert!(p.exists(), "{} is missing: run `bash tests/setup.sh`", p.display());
    p
}

fn bench(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma")).arg("bench").args(args).output().expect("spawn dgemma");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bench_runs_the_model_on_vulkan() {
    let m = nano();
    let (ok, out, err) = bench(&["-m", m.to_str().unwrap(), "--backend", "vulkan", "--steps", "2", "-r", "1", "-p", "8", "-o", "json"]);
    assert!(ok, "dgemma bench --backend vulkan failed:\n{err}");
    assert!(err.contains("gpu: "), "no adapter line on stderr:\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{out}"));
    assert_eq!(doc["backend"], "wgpu", "{out}");
    let tests = doc["tests"].as_array().expect("tests array");
    let step = tests.iter().find(|t| t["unit"] == "ms/step").expect("denoise row");
    assert!(step["best"].as_f64().is_some_and(|v| v > 0.0), "{out}");
}

#[test]
fn bench_times_kernels_on_vulkan() {
    let (ok, out, err) = bench(&["--backend", "vulkan", "--kernel", "q4_k:96x256:1,20", "-r", "2", "-o", "json"]);
    assert!(ok, "dgemma bench --kernel on vulkan failed:\n{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{out}"));
    assert_eq!(doc["backend"], "wgpu", "{out}");
    assert_eq!(doc["kernels"].as_array().map(Vec::len), Some(2), "{out}");
}

#[test]
fn bench_rejects_unknown_backends_by_name() {
    let (ok, _, err) = bench(&["-m", nano().to_str().unwrap(), "--backend", "cuda"]);
    assert!(!ok);
    assert!(err.contains("not built into this binary") && err.contains("vulkan"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
