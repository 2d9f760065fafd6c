//! `dgemma tokenize` end to end on the interop GGUF: all 1,201 reference strings through
//! `--stdin` give llama.cpp's ids (../shared/interop/reference/tokenize.json); flags work.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn model() -> PathBuf {
    let p = repo().join("tests/fixtures/generated/interop/f32.gguf");
    assert!(p.exists(), "{} is missing: run `bash tests/setup.sh`", p.display());
    p
}

fn dgemma(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dgemma"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dgemma starts");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn stdin_mode_gives_llama_cpp_ids_for_every_reference_string() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("../shared/interop/reference/tokenize.json")).unwrap(),
    )
    .unwrap();
    let strings = reference["strings"].as_array().unwrap();
    let input: String = strings.iter().map(|s| serde_json::to_string(s).unwrap() + "\n").collect();
    let m = model();
    let (code, stdout, stderr) = dgemma(&["tokenize", "-m", m.to_str().unwrap(), "--stdin"], &input);
    assert_eq!(code, 0, "{stderr}");
    let got: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(got.len(), strings.len());
    for (i, (g, want)) in got.iter().zip(reference["ids"].as_array().unwrap()).enumerate() {
        assert_eq!(g, want, "string {i}: {:?}", strings[i]);
    }
}

#[test]
fn flags_change_bos_and_special_parsing_and_errors_are_one_line() {
    let m = model();
    let m = m.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["tokenize", "-m", m, "-p", "Hi<end_of_turn>"];
        args.extend_from_slice(extra);
        let (code, out, err) = dgemma(&args, "");
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Vec<u32>>(out.trim()).unwrap()
    };
    let full = run(&[]);
    assert_eq!(full.first(), Some(&2));
    assert_eq!(full.last(), Some(&106), "<end_of_turn> parsed as one control token");
    let no_bos = run(&["--no-bos"]);
    assert_eq!(no_bos[..], full[1..]);
    let plain = run(&["--no-parse-special"]);
    assert!(plain.len() > full.len() && !plain.contains(&106));

    let (code, _, err) = dgemma(&["tokenize", "-m", "/nonexistent.gguf", "-p", "x"], "");
    assert_ne!(code, 0);
    assert!(err.contains("nonexistent.gguf") && err.lines().count() == 1, "{err}");
    let (code, _, err) = dgemma(&["tokenize", "-m", m, "--stdin"], "not json\n");
    assert_ne!(code, 0);
    assert!(err.contains("line 1"), "{err}");
}
