//! `dgemma run` / `dgemma logits` end to end on the nano GGUF: same seed gives the same text
//! across runs and thread counts, and every kind of bad input ends in one clear error line with
//! a non-zero exit (never a panic). Corrupted copies of the file are made in a temp directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nano() -> PathBuf {
    let p = repo().join("tests/fixtures/generated/nano-f32.gguf");
    assert!(p.exists(), "missing fixture {}: run `bash tests/setup.sh`", p.display());
    p
}

fn dgemma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dgemma")).args(args).output().expect("dgemma runs")
}

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dgemma-run-e2e-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Asserts a clean failure: exit ≠ 0, one `dgemma: error:` line containing `needle`, no panic.
fn assert_clean_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("dgemma: error:") && lines[0].contains(needle), "missing '{needle}' in: {err}");
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap_or_else(|| panic!("{:?} not in file", String::from_utf8_lossy(needle)))
}

/// Byte offset of the type field of tensor `name`'s info record.
fn tensor_type_offset(bytes: &[u8], name: &str) -> usize {
    let mut rec = (name.len() as u64).to_le_bytes().to_vec();
    rec.extend_from_slice(name.as_bytes());
    let at = find(bytes, &rec) + rec.len();
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    at + 4 + 8 * n_dims
}

fn corrupt(tag: &str, f: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(nano()).unwrap();
    f(&mut bytes);
    let p = tmp_dir(tag).join("model.gguf");
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Raw stdout bytes (a random model's byte tokens need not form UTF-8).
fn run_text(model: &Path, threads: &str) -> Vec<u8> {
    let out = dgemma(&["run", "-m", model.to_str().unwrap(), "-p", "The quick brown fox", "-n", "24", "-s", "1234", "-t", threads]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn same_seed_gives_the_same_text_across_runs_and_thread_counts() {
    let m = nano();
    let a = run_text(&m, "1");
    assert!(a.iter().any(|b| !b.is_ascii_whitespace()), "no text generated");
    assert_eq!(a, run_text(&m, "1"), "two runs, 1 thread");
    assert_eq!(a, run_text(&m, "2"), "1 thread vs 2 threads");
}

#[test]
fn different_seeds_give_different_canvases() {
    let m = nano();
    let a = dgemma(&["run", "-m", m.to_str().unwrap(), "-p", "hello", "-n", "16", "-s", "1", "--steps", "2"]);
    let b = dgemma(&["run", "-m", m.to_str().unwrap(), "-p", "hello", "-n", "16", "-s", "2", "--steps", "2"]);
    assert!(a.status.success() && b.status.success());
    assert_ne!(a.stdout, b.stdout);
}

#[test]
fn timing_summary_goes_to_stderr() {
    let out = dgemma(&["run", "-m", nano().to_str().unwrap(), "-p", "hi", "-n", "8", "--steps", "3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for key in ["prefill", "steps/canvas", "ms/step", "tok/s", "tokens/forward"] {
        assert!(err.contains(key), "timing summary lacks '{key}': {err}");
    }
}

#[test]
fn wrong_architecture_is_one_clear_error() {
    let p = corrupt("arch", |b| {
        let key = b"general.architecture";
        let at = find(b, key) + key.len() + 4 + 8; // value type u32, string length u64
        b[at..at + 15].copy_from_slice(b"diffusion-gemmX");
    });
    assert_clean_error(&dgemma(&["run", "-m", p.to_str().unwrap(), "-p", "hi"]), "diffusion-gemmX");
}

#[test]
fn missing_tensor_is_named() {
    let p = corrupt("missing", |b| {
        let at = find(b, b"blk.3.attn_q.weight");
        b[at..at + 19].copy_from_slice(b"blk.3.attn_q.weighX");
    });
    assert_clean_error(&dgemma(&["run", "-m", p.to_str().unwrap(), "-p", "hi"]), "blk.3.attn_q.weight");
}

#[test]
fn unsupported_tensor_type_is_named() {
    // F32 -> I32: same byte size, so the file stays valid and only the loader can object.
    let p = corrupt("type", |b| {
        let at = tensor_type_offset(b, "token_embd.weight");
        assert_eq!(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()), 0, "fixture is F32");
        b[at..at + 4].copy_from_slice(&26u32.to_le_bytes());
    });
    assert_clean_error(&dgemma(&["run", "-m", p.to_str().unwrap(), "-p", "hi"]), "token_embd.weight");
}

#[test]
fn truncated_file_is_one_clear_error() {
    let p = corrupt("truncated", |b| b.truncate(b.len() / 2));
    assert_clean_error(&dgemma(&["run", "-m", p.to_str().unwrap(), "-p", "hi"]), "model");
    let p = corrupt("header", |b| b.truncate(100));
    assert_clean_error(&dgemma(&["logits", "-m", p.to_str().unwrap(), "--prompt-ids", "2", "--canvas-ids", "5", "-o", "/dev/null"]), "model");
}

#[test]
fn prompt_longer_than_the_context_is_refused() {
    let d = tmp_dir("long");
    let f = d.join("prompt.txt");
    std::fs::write(&f, "fox ".repeat(5000)).unwrap();
    assert_clean_error(&dgemma(&["run", "-m", nano().to_str().unwrap(), "-f", f.to_str().unwrap()]), "context");
}

#[test]
fn unknown_backend_lists_the_available_ones() {
    assert_clean_error(&dgemma(&["run", "-m", nano().to_str().unwrap(), "-p", "hi", "--backend", "cuda"]), "available: auto, cpu, vulkan, metal");
}

#[test]
fn invalid_sampler_settings_are_refused_before_loading() {
    assert_clean_error(&dgemma(&["run", "-m", nano().to_str().unwrap(), "-p", "hi", "--temp-min", "0.9", "--temp-max", "0.8"]), "t_max");
}

#[test]
fn logits_writes_canvas_by_vocab_f32_and_rejects_bad_ids() {
    let d = tmp_dir("logits");
    let o = d.join("out.safetensors");
    let out = dgemma(&["logits", "-m", nano().to_str().unwrap(), "--prompt-ids", "2,10,20", "--canvas-ids", "5,6,7,8", "-o", o.to_str().unwrap(), "--dump-hidden"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&o).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("logits").unwrap();
    assert_eq!(t.dtype(), safetensors::Dtype::F32);
    assert_eq!(t.shape(), [4, 512]);
    assert!(st.tensor("hidden.6").is_ok(), "hidden states dumped");
    let bad = dgemma(&["logits", "-m", nano().to_str().unwrap(), "--prompt-ids", "2,99999", "--canvas-ids", "5", "-o", o.to_str().unwrap()]);
    assert_clean_error(&bad, "99999");
}

#[test]
fn quantized_models_generate_the_same_text_at_any_thread_count() {
    for ty in ["bf16", "q8_0", "q4_k_m"] {
        let p = repo().join(format!("tests/fixtures/generated/nano-{ty}.gguf"));
        assert!(p.exists(), "missing fixture {}: run `bash tests/setup.sh`", p.display());
        let a = run_text(&p, "1");
        assert!(a.iter().any(|b| !b.is_ascii_whitespace()), "{ty}: no text generated");
        assert_eq!(a, run_text(&p, "2"), "{ty}: 1 thread vs 2 threads");
    }
}
