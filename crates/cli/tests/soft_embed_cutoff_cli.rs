//! `--soft-embed-cutoff` on `dgemma run` and `dgemma bench`: 0 is the exact path (the same text
//! as without the flag), a positive cut runs, and values outside [0, 1] are refused by name.

use std::path::PathBuf;
use std::process::{Command, Output};

fn nano() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/generated/nano-f32.gguf");
    assert!(p.exists(), "missing fixture {}: run `bash tests/setup.sh`", p.display());
    p
}

fn dgemma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dgemma")).args(args).output().expect("dgemma runs")
}

fn run(extra: &[&str]) -> Vec<u8> {
    let m = nano();
    let mut args = vec!["run", "-m", m.to_str().unwrap(), "-p", "The quick brown fox", "-n", "32", "-s", "7", "-t", "2", "--steps", "4"];
    args.extend_from_slice(extra);
    let out = dgemma(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn cutoff_zero_generates_the_same_text_as_no_flag_and_a_positive_cutoff_runs() {
    let exact = run(&[]);
    assert!(exact.iter().any(|b| !b.is_ascii_whitespace()), "no text generated");
    assert_eq!(run(&["--soft-embed-cutoff", "0"]), exact);
    let cut = run(&["--soft-embed-cutoff", "0.5"]);
    assert!(cut.iter().any(|b| !b.is_ascii_whitespace()), "no text generated with a cutoff");
}

#[test]
fn cutoff_outside_zero_to_one_is_refused_by_name() {
    let m = nano();
    for bad in ["1.5", "-0.1", "abc"] {
        for cmd in ["run", "bench"] {
            let flag = format!("--soft-embed-cutoff={bad}");
            let out = dgemma(&[cmd, "-m", m.to_str().unwrap(), "-p", "8", &flag]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{cmd} accepted {bad}");
            assert!(err.contains("--soft-embed-cutoff") && !err.contains("panicked"), "{cmd} {bad}: {err}");
        }
    }
}
