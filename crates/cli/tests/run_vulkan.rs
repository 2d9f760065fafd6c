//! `dgemma run --backend vulkan` end to end on the nano model. CI installs Mesa's lavapipe, a
//! software Vulkan driver, so this runs everywhere; explicitly asking for Vulkan accepts software
//! adapters. A machine without any Vulkan driver fails with the install hint, never a panic.

use std::path::PathBuf;
use std::process::Command;

fn nano(ty: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/fixtures/generated/nano-{ty}.gguf"));
    assert!(p.exists(), "{} is missing: run `bash tests/setup.sh`", p.display());
    p
}

fn run(backend: &str, model: &PathBuf) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma"))
        .args(["run", "-m", model.to_str().unwrap(), "-p", "Hello there", "-n", "16", "--seed", "7", "--steps", "8", "--backend", backend])
        .output()
        .expect("spawn dgemma");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "dgemma run --backend {backend} failed:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn run_on_vulkan_streams_text_and_reports_the_adapter() {
    // Logit-level parity with the CPU backend is tested in crates/backend-wgpu/tests/model.rs;
    // here the whole command path: backend selection, load, prefill, denoise, stream, summary.
    for ty in ["f32", "q4_k_m"] {
        let (text, err) = run("vulkan", &nano(ty));
        assert!(err.contains("gpu: "), "no adapter line on stderr:\n{err}");
        assert!(err.contains("tokens/forward"), "no timing summary:\n{err}");
        assert!(!text.trim().is_empty(), "{ty}: vulkan produced no text\n{err}");
    }
}

#[test]
fn asking_for_metal_on_linux_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_dgemma"))
        .args(["run", "-m", nano("f32").to_str().unwrap(), "-p", "hi", "--backend", "metal"])
        .output()
        .expect("spawn dgemma");
    let err = String::from_utf8_lossy(&out.stderr);
    if cfg!(target_os = "macos") {
        assert!(out.status.success(), "{err}");
    } else {
        assert!(!out.status.success());
        assert!(err.contains("no Metal GPU adapter"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
