//! `matmul_gather_block_on` (one block of weight rows, on the calling thread) against
//! `matmul_gather_on` over the whole matrix: every value must be bit-identical, for every
//! supported type, every available instruction set, arbitrary row ranges and token lists.

// Shared with the other kernel tests; this file needs only part of it.
#[allow(dead_code)]
mod kernels_support;

use dgemma_quant::kernels::{matmul_gather_block_on, matmul_gather_on, Activations, Isa, KernelError, SUPPORTED_TYPES};
use dgemma_quant::GgmlType;
use kernels_support::{activations, weights, Rng};

fn isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
}

/// Row ranges that start and end anywhere: single rows, odd lengths (the two-row kernel's
/// repeated last row), the whole matrix.
fn row_ranges(rows: usize, rng: &mut Rng) -> Vec<(usize, usize)> {
    let mut out = vec![(0, rows), (0, 1), (rows - 1, rows), (1, rows - 2), (3, 10)];
    for _ in 0..4 {
        let a = rng.next_u64() as usize % rows;
        let b = a + 1 + rng.next_u64() as usize % (rows - a);
        out.push((a, b));
    }
    out
}

/// Token lists of every length 1..=19 (every tail of the 8- and 4-token groups), with repeats
/// and out-of-order indices.
fn token_lists(n: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    (1..=19).map(|len| (0..len).map(|_| rng.next_u64() as usize % n).collect()).collect()
}

#[test]
fn block_entry_is_bit_identical_to_the_parallel_gather() {
    let mut rng = Rng::new(12);
    let (rows, n) = (23, 21);
    for ty in SUPPORTED_TYPES {
        let cols = if ty.block_size() == 256 { 512 } else { 704 };
        let w = weights(&mut rng, ty, rows, cols);
        let row_bytes = w.len() / rows;
        let x = activations(&mut rng, n * cols);
        let acts = Activations::quantize(ty, &x, n, cols).unwrap();
        let lists = token_lists(n, &mut rng);
        let ranges = row_ranges(rows, &mut rng);
        for isa in isas() {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
            for tokens in &lists {
                let mut full = vec![f32::NAN; tokens.len() * rows];
                pool.install(|| matmul_gather_on(isa, ty, &w, rows, &acts, tokens, &mut full)).unwrap();
                for &(r0, r1) in &ranges {
                    let m = r1 - r0;
                    let mut y = vec![f32::NAN; tokens.len() * m];
                    let wb = &w[r0 * row_bytes..r1 * row_bytes];
                    matmul_gather_block_on(isa, ty, wb, m, &acts, tokens, &mut y).unwrap();
                    for t in 0..tokens.len() {
                        for i in 0..m {
                            let (a, b) = (y[t * m + i], full[t * rows + r0 + i]);
                            assert_eq!(
                                a.to_bits(),
                                b.to_bits(),
                                "{ty} {isa:?} rows {r0}..{r1} tokens {tokens:?}: position {t} row {i}: block {a} gather {b}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn block_entry_refuses_bad_arguments() {
    let mut rng = Rng::new(13);
    let (ty, rows, cols, n) = (GgmlType::Q8_0, 4, 64, 3);
    let w = weights(&mut rng, ty, rows, cols);
    let acts = Activations::quantize(ty, &activations(&mut rng, n * cols), n, cols).unwrap();
    let isa = Isa::Scalar;
    let mut y = vec![0.0; 2 * rows];
    assert_eq!(
        matmul_gather_block_on(isa, ty, &w, rows, &acts, &[0, 3], &mut y),
        Err(KernelError::TokenIndex { index: 3, n })
    );
    assert!(matches!(
        matmul_gather_block_on(isa, ty, &w[..w.len() - 1], rows, &acts, &[0, 1], &mut y),
        Err(KernelError::Length { .. })
    ));
    assert!(matches!(
        matmul_gather_block_on(isa, ty, &w, rows, &acts, &[0, 1], &mut y[..5]),
        Err(KernelError::Length { .. })
    ));
    assert!(matches!(
        matmul_gather_block_on(isa, GgmlType::Q4_K, &w, rows, &acts, &[0], &mut y[..rows]),
        Err(KernelError::PartialBlock { .. } | KernelError::Length { .. } | KernelError::ActivationMismatch { .. })
    ));
    // No tokens: nothing to write, not an error.
    assert_eq!(matmul_gather_block_on(isa, ty, &w, rows, &acts, &[], &mut []), Ok(()));
}

/// The batched driver sizes its row blocks by the thread count (16-64 rows); every value must
/// keep its bits whatever the blocks, including odd block boundaries for the two-row kernels.
#[test]
fn row_blocks_sized_by_thread_count_keep_every_bit() {
    let mut rng = Rng::new(14);
    let (rows, n) = (301, 13);
    for ty in [GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_0, GgmlType::BF16] {
        let cols = if ty.block_size() == 256 { 512 } else { 704 };
        let w = weights(&mut rng, ty, rows, cols);
        let x = activations(&mut rng, n * cols);
        let acts = Activations::quantize(ty, &x, n, cols).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut y = vec![f32::NAN; n * rows];
            pool.install(|| dgemma_quant::kernels::matmul_prepared(ty, &w, rows, &acts, &mut y)).unwrap();
            y
        };
        // Blocks of 64 (1 thread), 36 (2), 24 (3), 16 (5 and 7).
        let one = run(1);
        assert!(one.iter().all(|v| v.is_finite()) && one.iter().any(|&v| v != 0.0), "{ty}");
        for threads in [2, 3, 5, 7] {
            assert!(one.iter().zip(run(threads)).all(|(a, b)| a.to_bits() == b.to_bits()), "{ty}: 1 vs {threads} threads");
        }
    }
}
