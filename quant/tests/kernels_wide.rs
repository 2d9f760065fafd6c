//! The batched shapes of the SIMD kernels (4 tokens on AVX2; 2 weight rows x 8 tokens and
//! 4 tokens on AVX-512) against single-token calls and the scalar reference, on every
//! instruction set this CPU has; and the `DGEMMA_ISA` names.
//!
//! Batched kernels perform, per (weight row, token) pair, the same integer and f32 operations
//! in the same order as the single-token kernel, so for quantized types every way of cutting
//! a batch (8-token groups, 4-token groups, single tokens, gathered token lists, an odd last
//! weight row) must give bit-identical results. Against the scalar kernels only the f32
//! summation order differs: `2e-6 * sum |w_j x_j|` (see tests/kernels.rs).

mod kernels_support;

use dgemma_quant::kernels::{matmul_gather_on, matmul_on, matmul_prepared_on, matvec_on, token_lanes, Activations, Isa, ISA_ENV};
use dgemma_quant::GgmlType;
use kernels_support::{activations, decode_row, weights, Rng};

const QUANTIZED: [GgmlType; 8] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

/// The SIMD levels available here; says on stderr which ones are not (their kernels are then
/// not tested on this machine).
fn simd_isas() -> Vec<Isa> {
    let this_arch: &[Isa] = if cfg!(target_arch = "x86_64") {
        &[Isa::Avx2, Isa::Avx512]
    } else if cfg!(target_arch = "aarch64") {
        &[Isa::Neon]
    } else {
        &[]
    };
    let (have, missing): (Vec<Isa>, Vec<Isa>) = this_arch.iter().partition(|isa| isa.is_available());
    for isa in &missing {
        eprintln!("note: {isa:?} is not available on this CPU; its kernels are not tested here");
    }
    have
}

fn magnitude(w: &[f32], x: &[f32]) -> f64 {
    w.iter().zip(x).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum()
}

/// Every batch size that mixes 8-token groups, 4-token groups and single tokens, with a row
/// count that leaves an odd row in the last 16-row block: identical to per-token matvec on the
/// row-lane kernels; on the token-lane kernels (see [`token_lanes`]) within f32 rounding.
#[test]
fn every_batch_split_equals_per_token_matvec() {
    let mut rng = Rng::new(21);
    for isa in simd_isas() {
        for ty in QUANTIZED {
            let cols = if ty.block_size() == 256 { 512 } else { 704 };
            let rows = 21; // 16 + 5: a pair-kernel block and an odd last row
            let w = weights(&mut rng, ty, rows, cols);
            for n in [2usize, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 31, 33, 45] {
                let x = activations(&mut rng, n * cols);
                let mut y = vec![f32::NAN; n * rows];
                matmul_on(isa, ty, &w, rows, cols, &x, n, &mut y).unwrap();
                let mut yt = vec![f32::NAN; rows];
                for t in 0..n {
                    matvec_on(isa, ty, &w, rows, cols, &x[t * cols..(t + 1) * cols], &mut yt).unwrap();
                    let xt = &x[t * cols..(t + 1) * cols];
                    let row_bytes = w.len() / rows;
                    for r in 0..rows {
                        let (a, b) = (y[t * rows + r], yt[r]);
                        if token_lanes(isa, ty, n) {
                            let tol = 2e-6 * magnitude(&decode_row(ty, &w[r * row_bytes..][..row_bytes]), xt) + 1e-7;
                            assert!((a - b).abs() as f64 <= tol, "{ty} {isa:?} n {n} token {t} row {r}: matmul {a} matvec {b}");
                        } else {
                            assert_eq!(a.to_bits(), b.to_bits(), "{ty} {isa:?} n {n} token {t} row {r}: matmul {a} matvec {b}");
                        }
                    }
                }
            }
        }
    }
}

/// SIMD batches against the scalar kernels at the model's widths, 256 tokens (the canvas).
#[test]
fn simd_batches_match_scalar_at_model_widths() {
    let mut rng = Rng::new(22);
    for isa in simd_isas() {
        for ty in QUANTIZED {
            let cols = if ty.block_size() == 256 { 2816 } else { 2112 };
            let (rows, n) = (18, 40);
            let w = weights(&mut rng, ty, rows, cols);
            let x = activations(&mut rng, n * cols);
            let (mut simd, mut scalar) = (vec![f32::NAN; n * rows], vec![f32::NAN; n * rows]);
            matmul_on(isa, ty, &w, rows, cols, &x, n, &mut simd).unwrap();
            matmul_on(Isa::Scalar, ty, &w, rows, cols, &x, n, &mut scalar).unwrap();
            let row_bytes = w.len() / rows;
            for r in 0..rows {
                let wr = decode_row(ty, &w[r * row_bytes..(r + 1) * row_bytes]);
                for t in 0..n {
                    let tol = 2e-6 * magnitude(&wr, &x[t * cols..(t + 1) * cols]) + 1e-7;
                    let (a, b) = (simd[t * rows + r], scalar[t * rows + r]);
                    assert!((a - b).abs() as f64 <= tol, "{ty} {isa:?} token {t} row {r}: simd {a} scalar {b} tol {tol}");
                }
            }
        }
    }
}

/// The MoE path on every instruction set: token lists with repeats, out of order, of lengths
/// that are not multiples of the 8- or 4-token groups, equal the rows of the full batch.
#[test]
fn gathered_tokens_with_repeats_match_the_full_batch() {
    let mut rng = Rng::new(23);
    let lists: [&[usize]; 4] = [
        &[3, 3, 3, 3, 3, 3, 3, 3, 3],
        &[10, 0, 5, 5, 1, 9, 2, 2, 7, 4, 8, 3, 6],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 4],
        &[6],
    ];
    for isa in simd_isas() {
        for ty in QUANTIZED {
            let (experts, rows, cols, n) = (2, 19, 768, 11);
            let cols = if ty.block_size() == 256 { 512 } else { cols };
            let w = weights(&mut rng, ty, experts * rows, cols);
            let expert = &w[w.len() / experts..];
            let x = activations(&mut rng, n * cols);
            let acts = Activations::quantize(ty, &x, n, cols).unwrap();
            let mut full = vec![f32::NAN; n * rows];
            matmul_prepared_on(isa, ty, expert, rows, &acts, &mut full).unwrap();
            for tokens in lists {
                let mut y = vec![f32::NAN; tokens.len() * rows];
                matmul_gather_on(isa, ty, expert, rows, &acts, tokens, &mut y).unwrap();
                for (i, &t) in tokens.iter().enumerate() {
                    for r in 0..rows {
                        let (a, b) = (y[i * rows + r], full[t * rows + r]);
                        if token_lanes(isa, ty, tokens.len()) == token_lanes(isa, ty, n) {
                            assert_eq!(a.to_bits(), b.to_bits(), "{ty} {isa:?} list {tokens:?} entry {i} row {r}: {a} vs {b}");
                        } else {
                            let row_bytes = expert.len() / rows;
                            let wr = decode_row(ty, &expert[r * row_bytes..][..row_bytes]);
                            let tol = 2e-6 * magnitude(&wr, &x[t * cols..(t + 1) * cols]) + 1e-7;
                            assert!((a - b).abs() as f64 <= tol, "{ty} {isa:?} list {tokens:?} entry {i} row {r}: {a} vs {b}");
                        }
                    }
                }
            }
        }
    }
}

/// Extreme activations (one huge value per block, all-equal blocks, zeros) through the
/// offset-folding kernels: Q8_0 on AVX-512 runs as `q + 128` with the offset subtracted in
/// f32, which must stay within the f32-summation tolerance of the exact signed product.
#[test]
fn offset_folding_survives_extreme_activations() {
    let mut rng = Rng::new(24);
    let (rows, cols, n) = (17, 2816, 9);
    for isa in simd_isas() {
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0] {
            let w = weights(&mut rng, ty, rows, cols);
            let mut x = activations(&mut rng, n * cols);
            for (t, xt) in x.chunks_mut(cols).enumerate() {
                match t % 3 {
                    0 => xt.iter_mut().step_by(32).for_each(|v| *v = 1e4),
                    1 => xt.fill(0.75),
                    _ => xt[..cols / 2].fill(0.0),
                }
            }
            let (mut simd, mut scalar) = (vec![f32::NAN; n * rows], vec![f32::NAN; n * rows]);
            matmul_on(isa, ty, &w, rows, cols, &x, n, &mut simd).unwrap();
            matmul_on(Isa::Scalar, ty, &w, rows, cols, &x, n, &mut scalar).unwrap();
            let row_bytes = w.len() / rows;
            for r in 0..rows {
                let wr = decode_row(ty, &w[r * row_bytes..(r + 1) * row_bytes]);
                for t in 0..n {
                    let tol = 2e-6 * magnitude(&wr, &x[t * cols..(t + 1) * cols]) + 1e-6;
                    let (a, b) = (simd[t * rows + r], scalar[t * rows + r]);
                    assert!((a - b).abs() as f64 <= tol, "{ty} {isa:?} token {t} row {r}: simd {a} scalar {b} tol {tol}");
                }
            }
        }
    }
}

#[test]
fn isa_names_round_trip_and_the_best_available_is_detected() {
    for isa in Isa::ALL {
        assert_eq!(Isa::from_name(isa.name()), Some(isa));
        assert_eq!(Isa::from_name(&isa.name().to_uppercase()), Some(isa));
    }
    assert_eq!(Isa::from_name("avx10"), None);
    assert_eq!(ISA_ENV, "DGEMMA_ISA");
    // Unless this process was told otherwise, the best available level is the default.
    if std::env::var_os(ISA_ENV).is_none() {
        let best = Isa::ALL.into_iter().rev().find(|i| i.is_available()).unwrap();
        assert_eq!(Isa::detected(), best);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vnni");
        assert_eq!(Isa::Avx512.is_available(), avx512);
        if !avx512 {
            eprintln!("note: this CPU lacks AVX-512 F/BW/VL/VNNI; the AVX-512 kernels are not tested here");
        }
    }
}

/// Run in a child process by [`dgemma_isa_overrides_detection`] (with `DGEMMA_ISA` set and
/// `EXPECT_ISA` naming the level that must win); on its own it checks the default.
#[test]
fn isa_env_child() {
    let expected = match std::env::var("EXPECT_ISA") {
        Ok(name) => Isa::from_name(&name).expect("EXPECT_ISA names a level"),
        Err(_) if std::env::var_os(ISA_ENV).is_some() => return,
        Err(_) => Isa::ALL.into_iter().rev().find(|i| i.is_available()).unwrap(),
    };
    assert_eq!(Isa::detected(), expected);
}

#[test]
fn dgemma_isa_overrides_detection() {
    let best = Isa::ALL.into_iter().rev().find(|i| i.is_available()).unwrap();
    // (value of DGEMMA_ISA, level that must be detected): available levels win, unknown
    // names fall back to the best level.
    let cases = [("scalar", Isa::Scalar), ("no-such-isa", best), (best.name(), best)];
    for (value, expected) in cases {
        let run = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "isa_env_child", "--test-threads", "1", "--nocapture"])
            .env(ISA_ENV, value)
            .env("EXPECT_ISA", expected.name())
            .output();
        let out = match run {
            Ok(out) => out,
            // Only under a user-mode emulator (cross tests via qemu) the binary cannot start itself.
            Err(e) if e.raw_os_error() == Some(8) => {
                eprintln!("note: cannot re-run this test binary ({e}); the {ISA_ENV} override is not checked here");
                return;
            }
            Err(e) => panic!("cannot re-run this test binary: {e}"),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !stdout.contains("running 1 test") {
            // The same binary runs this test, so a child that never reaches the harness means the
            // binary cannot start itself here (cross tests under a user-mode emulator).
            eprintln!("note: re-running this test binary failed to start ({}); {ISA_ENV} override not checked", out.status);
            return;
        }
        assert!(out.status.success() && stdout.contains("1 passed"), "{ISA_ENV}={value}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        if value == "no-such-isa" {
            assert!(String::from_utf8_lossy(&out.stderr).contains("warning: DGEMMA_ISA=no-such-isa"));
        }
    }
}
