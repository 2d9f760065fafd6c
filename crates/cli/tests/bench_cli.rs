//! `dgemma bench` end to end on the nano Q8_0 fixture (made by tests/fixtures/generate.d/):
//! the JSON report carries every test with positive best/median numbers, one sample per
//! repetition, and bad arguments are refused with a clear error instead of a panic.

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/fixtures/generated").join(name);
    assert!(p.exists(), "{} is missing: run `bash tests/setup.sh`", p.display());
    p.to_str().unwrap().to_string()
}

fn bench(extra: &[&str]) -> std::process::Output {
    let m = fixture("nano-q8_0.gguf");
    let mut args = vec!["bench", "-m", &m, "-t", "2"];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_dgemma")).args(&args).output().expect("dgemma starts")
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn json_report_has_every_test_with_positive_numbers() {
    let out = bench(&["-p", "8", "--steps", "2", "-r", "2", "-o", "json"]);
    assert!(out.status.success(), "dgemma bench failed: {}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(r["model"], "nano-q8_0.gguf");
    assert_eq!(r["threads"], 2);
    assert_eq!(r["repetitions"], 2);
    assert_eq!(r["steps"], 2);
    assert!(num(&r["canvas"]) >= 1.0 && num(&r["vocab"]) >= 1.0);
    assert!(num(&r["size_mib"]) > 0.0);
    assert!(num(&r["peak_rss_mib"]) > 0.0);
    let tests = r["tests"].as_array().expect("tests array");
    let names: Vec<&str> = tests.iter().map(|t| t["test"].as_str().unwrap()).collect();
    assert!(names[0] == "pp8", "{names:?}");
    assert!(names[1].starts_with("denoise") && names[2].starts_with("e2e") && names[3].starts_with("e2e"), "{names:?}");
    for t in tests {
        assert_eq!(t["samples"].as_array().unwrap().len(), 2, "{t}");
        for s in t["samples"].as_array().unwrap() {
            assert!(num(s) > 0.0 && num(s).is_finite(), "{t}");
        }
        assert!(num(&t["best"]) > 0.0 && num(&t["median"]) > 0.0, "{t}");
    }
    // Two fixed steps per canvas: at most canvas / 2 non-pad tokens per forward (the reference
    // metric leaves pad tokens out, which random weights do produce).
    let tpf = &tests[3];
    assert_eq!(tpf["unit"], "tok/forward");
    assert!(num(&tpf["best"]) <= num(&r["canvas"]) / 2.0, "{tpf}");
}

#[test]
fn table_output_and_argument_errors() {
    let out = bench(&["-p", "4", "--steps", "1", "-r", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| pp4 |") && table.contains("ms/step") && table.contains("peak RSS"), "{table}");

    for bad in [&["-r", "0"][..], &["-o", "xml"], &["--steps", "0"], &["-p", "100000000"]] {
        let out = bench(bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(err.contains("dgemma: error:") && !err.contains("panicked"), "{bad:?}: {err}");
    }
}
