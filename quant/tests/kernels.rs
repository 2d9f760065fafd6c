//! Kernel results against an exact f64 reference on decoded weights, SIMD against scalar,
//! batch against single-token, and refusal of bad arguments.
//!
//! Tolerance against the exact result: activations are rounded to 8 bits per block of 32
//! (Q8 formats) or 256 (K formats) with step `d = amax(block) / 127`, so each activation is off
//! by at most `d / 2` and the dot by at most `sum over blocks of d / 2 * sum |w_j|`. We allow
//! 1.01x that bound plus `1e-5 * sum |w_j x_j|` for f32 accumulation.
//! Against the exact dot of the *rounded* activations (rounding replicated here) only the f32
//! accumulation remains: `1e-5 * sum |w_j x_j|`.
//! SIMD vs scalar differ only in f32 summation order: `2e-6 * sum |w_j x_j|`.

mod kernels_support;

use dgemma_quant::kernels::{
    self, dot_row, matmul, matmul_gather, matmul_on, matmul_prepared, matvec, matvec_on, Activations, Isa,
    KernelError, SUPPORTED_TYPES,
};
use dgemma_quant::GgmlType;
use kernels_support::{activations, decode_row, weights, Rng};

/// Row widths to test for `ty`: the model's real widths where they are whole blocks.
fn widths(ty: GgmlType) -> Vec<usize> {
    [32, 256, 704, 2112, 2816].into_iter().filter(|c| c % ty.block_size() == 0).collect()
}

fn act_block(ty: GgmlType) -> usize {
    match ty {
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 0,
        GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q6_K => 256,
        _ => 32,
    }
}

/// Exact dot (f64) and the allowed deviation of a kernel from it.
fn reference(ty: GgmlType, w: &[f32], x: &[f32]) -> (f64, f64) {
    let exact: f64 = w.iter().zip(x).map(|(&a, &b)| a as f64 * b as f64).sum();
    let magnitude: f64 = w.iter().zip(x).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum();
    let mut bound = 1e-5 * magnitude + 1e-6;
    let blk = act_block(ty);
    if blk > 0 {
        for (wb, xb) in w.chunks(blk).zip(x.chunks(blk)) {
            let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
            let wsum: f64 = wb.iter().map(|v| v.abs() as f64).sum();
            bound += 1.01 * amax / 254.0 * wsum;
        }
    }
    (exact, bound)
}

/// `x` after the kernels' activation rounding (same f32 operations as the quantizer).
fn rounded_activations(ty: GgmlType, x: &[f32]) -> Vec<f32> {
    let blk = act_block(ty);
    if blk == 0 {
        return x.to_vec();
    }
    x.chunks(blk)
        .flat_map(|xb| {
            let d = xb.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            // Round half to even, as the kernels' quantizer does.
            xb.iter().map(move |v| (v * id).round_ties_even() * d)
        })
        .collect()
}

fn magnitude(w: &[f32], x: &[f32]) -> f64 {
    w.iter().zip(x).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum()
}

fn isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
}

#[test]
fn matvec_matches_exact_dot_within_activation_rounding() {
    let mut rng = Rng::new(1);
    for ty in SUPPORTED_TYPES {
        for cols in widths(ty) {
            let rows = 37;
            let w = weights(&mut rng, ty, rows, cols);
            let x = activations(&mut rng, cols);
            let xq = rounded_activations(ty, &x);
            let row_bytes = ty.row_bytes(cols).unwrap();
            let mut per_isa = Vec::new();
            for isa in isas() {
                let mut y = vec![f32::NAN; rows];
                matvec_on(isa, ty, &w, rows, cols, &x, &mut y).unwrap();
                for (r, &got) in y.iter().enumerate() {
                    let wr = decode_row(ty, &w[r * row_bytes..(r + 1) * row_bytes]);
                    let (exact, bound) = reference(ty, &wr, &x);
                    assert!(
                        (got as f64 - exact).abs() <= bound,
                        "{ty} {isa:?} cols {cols} row {r}: got {got}, exact {exact}, bound {bound}"
                    );
                    // With the same activation rounding applied, only f32 summation remains.
                    let (exact_rounded, _) = reference(ty, &wr, &xq);
                    let tol = 1e-5 * magnitude(&wr, &xq) + 1e-6;
                    assert!(
                        (got as f64 - exact_rounded).abs() <= tol,
                        "{ty} {isa:?} cols {cols} row {r}: got {got}, exact on rounded activations {exact_rounded}, tol {tol}"
                    );
                }
                per_isa.push((isa, y));
            }
            let (_, scalar) = &per_isa[0];
            for (isa, y) in &per_isa[1..] {
                for r in 0..rows {
                    let wr = decode_row(ty, &w[r * row_bytes..(r + 1) * row_bytes]);
                    let tol = 2e-6 * magnitude(&wr, &x) + 1e-7;
                    assert!(
                        (y[r] - scalar[r]).abs() as f64 <= tol,
                        "{ty} {isa:?} cols {cols} row {r}: simd {} scalar {} tol {tol}",
                        y[r],
                        scalar[r]
                    );
                }
            }
        }
    }
}

/// Batched row-lane kernels decode a weight block once for several tokens but perform, per
/// token, the same integer and f32 operations in the same order as the single-token kernel, so
/// quantized types must agree exactly; float types may sum in another order, and batches on the
/// token-lane kernels ([`kernels::token_lanes`]) scale per sub-block (tolerance as SIMD/scalar).
#[test]
fn matmul_equals_per_token_matvec_for_odd_batches() {
    let mut rng = Rng::new(2);
    for ty in SUPPORTED_TYPES {
        let cols = if ty.block_size() == 256 { 2816 } else { 2112 };
        let rows = 19; // not a multiple of the 16-row block
        let w = weights(&mut rng, ty, rows, cols);
        let row_bytes = ty.row_bytes(cols).unwrap();
        let decoded: Vec<Vec<f32>> =
            (0..rows).map(|r| decode_row(ty, &w[r * row_bytes..(r + 1) * row_bytes])).collect();
        for n in [1usize, 3, 256] {
            let x = activations(&mut rng, n * cols);
            for isa in isas() {
                let mut y = vec![f32::NAN; n * rows];
                matmul_on(isa, ty, &w, rows, cols, &x, n, &mut y).unwrap();
                let mut yt = vec![0.0; rows];
                for t in 0..n {
                    let xt = &x[t * cols..(t + 1) * cols];
                    matvec_on(isa, ty, &w, rows, cols, xt, &mut yt).unwrap();
                    for r in 0..rows {
                        let (a, b) = (y[t * rows + r], yt[r]);
                        let rounding_only = act_block(ty) == 0 || kernels::token_lanes(isa, ty, n);
                        let tol = if rounding_only { 2e-6 * magnitude(&decoded[r], xt) } else { 0.0 };
                        assert!(
                            (a - b).abs() as f64 <= tol,
                            "{ty} {isa:?} n {n} token {t} row {r}: matmul {a} matvec {b}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_pool() {
    let mut rng = Rng::new(3);
    let (ty, rows, cols, n) = (GgmlType::Q4_K, 70, 2816, 5);
    let w = weights(&mut rng, ty, rows, cols);
    let x = activations(&mut rng, n * cols);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut y = vec![0.0; n * rows];
        pool.install(|| matmul(ty, &w, rows, cols, &x, n, &mut y)).unwrap();
        y
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert!(one.iter().any(|v| *v != 0.0));
}

#[test]
fn prepared_activations_are_shared_by_types_with_the_same_format() {
    let mut rng = Rng::new(4);
    let (rows, cols, n) = (5, 704, 2);
    let x = activations(&mut rng, n * cols);
    let acts = Activations::quantize(GgmlType::Q8_0, &x, n, cols).unwrap();
    for ty in [GgmlType::Q4_0, GgmlType::Q5_1] {
        let w = weights(&mut rng, ty, rows, cols);
        let (mut a, mut b) = (vec![0.0; n * rows], vec![0.0; n * rows]);
        matmul_prepared(ty, &w, rows, &acts, &mut a).unwrap();
        matmul(ty, &w, rows, cols, &x, n, &mut b).unwrap();
        assert_eq!(a, b, "{ty}");
    }
    let wk = weights(&mut rng, GgmlType::Q4_K, rows, 256);
    let acts_k = Activations::quantize(GgmlType::Q8_0, &x[..512], 2, 256).unwrap();
    let mut y = vec![0.0; 2 * rows];
    assert_eq!(
        matmul_prepared(GgmlType::Q4_K, &wk, rows, &acts_k, &mut y),
        Err(KernelError::ActivationMismatch { prepared: GgmlType::Q8_0, ty: GgmlType::Q4_K })
    );
}

#[test]
fn dot_row_agrees_with_matvec() {
    let mut rng = Rng::new(5);
    for ty in SUPPORTED_TYPES {
        let cols = widths(ty)[0];
        let w = weights(&mut rng, ty, 1, cols);
        let x = activations(&mut rng, cols);
        let mut y = [0.0];
        matvec(ty, &w, 1, cols, &x, &mut y).unwrap();
        assert_eq!(dot_row(ty, &w, &x).unwrap(), y[0], "{ty}");
    }
}

#[test]
fn bad_arguments_are_typed_errors() {
    let x = vec![1.0f32; 256];
    let w = vec![0u8; GgmlType::Q4_K.row_bytes(256).unwrap() * 2];
    let mut y = vec![0.0f32; 2];
    // Weights one byte short.
    assert!(matches!(
        matvec(GgmlType::Q4_K, &w[1..], 2, 256, &x, &mut y),
        Err(KernelError::Length { .. })
    ));
    // Output too short, activations too long.
    assert!(matches!(
        matvec(GgmlType::Q4_K, &w, 2, 256, &x, &mut y[..1]),
        Err(KernelError::Length { .. })
    ));
    assert!(matches!(
        matmul(GgmlType::Q4_K, &w, 2, 256, &x, 2, &mut [0.0; 4]),
        Err(KernelError::Length { .. })
    ));
    // 704 is not a whole number of 256-blocks.
    assert_eq!(
        matvec(GgmlType::Q4_K, &w, 2, 704, &vec![0.0; 704], &mut y),
        Err(KernelError::PartialBlock { ty: GgmlType::Q4_K, cols: 704, block: 256 })
    );
    for ty in [GgmlType::Q2_K, GgmlType::IQ4_NL, GgmlType::I32] {
        assert_eq!(matvec(ty, &w, 2, 256, &x, &mut y), Err(KernelError::UnsupportedType(ty)));
    }
    // Sizes whose product overflows usize.
    assert!(matches!(
        matmul(GgmlType::F32, &[], usize::MAX / 2, 4, &[], usize::MAX / 2, &mut []),
        Err(KernelError::Overflow { .. })
    ));
    assert!(!kernels::is_supported(GgmlType::Q8_K));
}

#[test]
fn unaligned_weights_are_accepted() {
    let mut rng = Rng::new(6);
    let (ty, rows, cols) = (GgmlType::Q6_K, 3, 512);
    let w = weights(&mut rng, ty, rows, cols);
    let mut shifted = vec![0u8; w.len() + 1];
    shifted[1..].copy_from_slice(&w);
    let x = activations(&mut rng, cols);
    let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows]);
    matvec(ty, &w, rows, cols, &x, &mut a).unwrap();
    matvec(ty, &shifted[1..], rows, cols, &x, &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn zero_rows_or_tokens_are_fine() {
    let mut y: Vec<f32> = vec![];
    matvec(GgmlType::Q8_0, &[], 0, 64, &[0.0; 64], &mut y).unwrap();
    matmul(GgmlType::Q8_0, &[0u8; 68], 1, 64, &[], 0, &mut y).unwrap();
    // Zero-width rows: every output is an empty sum.
    let mut y = vec![f32::NAN; 6];
    matmul(GgmlType::Q4_K, &[], 3, 0, &[], 2, &mut y).unwrap();
    assert_eq!(y, vec![0.0; 6]);
}

/// Weights made by the crate's own reference quantizer from smooth data (not random bits):
/// the kernels must reproduce the f32 dot of the dequantized weights.
#[test]
fn kernels_agree_with_dequantized_reference_quantizer_output() {
    let mut rng = Rng::new(7);
    let (rows, cols) = (9, 2816);
    let source: Vec<f32> = (0..rows * cols).map(|i| (i as f32 * 0.37).sin() * 0.05 + rng.uniform() * 0.01).collect();
    let x = activations(&mut rng, cols);
    for ty in SUPPORTED_TYPES {
        let mut w = vec![0u8; ty.row_bytes(cols).unwrap() * rows];
        dgemma_quant::quantize(ty, &source, &mut w).unwrap();
        let mut y = vec![0.0; rows];
        matvec(ty, &w, rows, cols, &x, &mut y).unwrap();
        let row_bytes = w.len() / rows;
        for r in 0..rows {
            let wr = decode_row(ty, &w[r * row_bytes..(r + 1) * row_bytes]);
            let (exact, bound) = reference(ty, &wr, &x);
            assert!((y[r] as f64 - exact).abs() <= bound, "{ty} row {r}: got {}, exact {exact}, bound {bound}", y[r]);
        }
    }
}

/// The MoE path: prepare all tokens once, multiply an expert's slice with a subset of them.
#[test]
fn gathered_tokens_match_full_batch_rows() {
    let mut rng = Rng::new(8);
    let (experts, rows, cols, n) = (3, 11, 704, 9);
    for ty in [GgmlType::Q8_0, GgmlType::Q5_1, GgmlType::BF16] {
        let w = weights(&mut rng, ty, experts * rows, cols);
        let x = activations(&mut rng, n * cols);
        let acts = Activations::quantize(ty, &x, n, cols).unwrap();
        let expert_bytes = w.len() / experts;
        let e1 = &w[expert_bytes..2 * expert_bytes];
        let mut full = vec![0.0; n * rows];
        matmul_prepared(ty, e1, rows, &acts, &mut full).unwrap();
        // Nine entries: like the full batch, on the token-lane kernels where the CPU has them.
        let tokens = [8, 0, 3, 3, 7, 1, 2, 8, 4];
        let mut y = vec![f32::NAN; tokens.len() * rows];
        matmul_gather(ty, e1, rows, &acts, &tokens, &mut y).unwrap();
        for (i, &t) in tokens.iter().enumerate() {
            for r in 0..rows {
                let (a, b) = (y[i * rows + r], full[t * rows + r]);
                // Float rows may be summed by the 4-token or the 1-token kernel in either run.
                let tol = if ty == GgmlType::BF16 { 1e-5 * (1.0 + b.abs()) } else { 0.0 };
                assert!((a - b).abs() <= tol, "{ty} token {t} row {r}: gathered {a} full {b}");
            }
        }
        assert_eq!(
            matmul_gather(ty, e1, rows, &acts, &[2, 9], &mut y[..2 * rows]),
            Err(KernelError::TokenIndex { index: 9, n })
        );
    }
}
