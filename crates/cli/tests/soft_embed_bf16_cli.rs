//! `--soft-embed-bf16` on `dgemma run` and `dgemma bench`: it runs and generates text on any
//! CPU (the exact kernels where the CPU has no AVX-512 BF16, with a warning saying so), and the
//! default stays the exact path.

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

fn run(extra: &[&str]) -> Output {
    let m = nano();
    let mut args = vec!["run", "-m", m.to_str().unwrap(), "-p", "The quick brown fox", "-n", "32", "-s", "7", "-t", "2", "--steps", "4"];
    args.extend_from_slice(extra);
    let out = dgemma(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn bf16_soft_embedding_generates_text_and_says_when_the_cpu_cannot() {
    let exact = run(&[]).stdout;
    let bf16 = run(&["--soft-embed-bf16"]);
    assert!(bf16.stdout.iter().any(|b| !b.is_ascii_whitespace()), "no text generated");
    let err = String::from_utf8_lossy(&bf16.stderr);
    if err.contains("no AVX-512 BF16") {
        // The exact kernels ran instead: the same text as without the flag.
        assert_eq!(bf16.stdout, exact);
    }
    // The default is the exact path: the same text run after run.
    assert_eq!(run(&[]).stdout, exact);
}

#[test]
fn bench_accepts_the_flag() {
    let m = nano();
    let out = dgemma(&["bench", "-m", m.to_str().unwrap(), "-p", "8", "--steps", "1", "-r", "1", "--soft-embed-bf16"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ms/step"), "no step time in the table");
}
