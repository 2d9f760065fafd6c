//! `DGEMMA_WGPU_UNROLLED_TILES=0` turns the wgpu backend's unrolled tiled products (the default)
//! off for `run` (and `bench`, same opening code); any other value, or none, leaves them on. Both
//! must give the same text. Runs on
//! lavapipe like `run_vulkan.rs`; the kernel's numerics are tested in crates/backend-wgpu.

use std::path::PathBuf;
use std::process::Command;

fn nano_q8_0() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/generated/nano-q8_0.gguf");
    assert!(p.exists(), "{} is missing: run `bash tests/setup.sh`", p.display());
    p
}

/// `dgemma run --backend vulkan` on the nano model with the variable set to `value` (or unset).
fn run(value: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dgemma"));
    cmd.args(["run", "-m", nano_q8_0().to_str().unwrap(), "-p", "Hello there", "-n", "32", "--seed", "7"])
        .args(["--steps", "4", "--backend", "vulkan"]);
    match value {
        Some(v) => cmd.env("DGEMMA_WGPU_UNROLLED_TILES", v),
        None => cmd.env_remove("DGEMMA_WGPU_UNROLLED_TILES"),
    };
    let out = cmd.output().expect("spawn dgemma");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "dgemma run (DGEMMA_WGPU_UNROLLED_TILES={value:?}) failed:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn unrolled_tiles_switch_is_reported_and_gives_the_same_text() {
    let (looped, err) = run(Some("0"));
    assert!(err.contains(", looped tiles)"), "the gpu: line does not report the switch:\n{err}");
    assert!(!looped.trim().is_empty(), "no text with looped tiles\n{err}");
    for value in [None, Some("1"), Some("yes")] {
        let (text, err) = run(value);
        assert!(err.contains("gpu: "), "no adapter line:\n{err}");
        assert!(!err.contains("looped tiles"), "{value:?} must keep the unrolled tiles:\n{err}");
        assert_eq!(text, looped, "{value:?}: unrolled and looped tiles wrote different text\n{err}");
    }
}
