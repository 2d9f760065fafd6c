//! Truncated and corrupted real files (gguf-py's fixtures and the header of the llama.cpp file):
//! parsing never panics, every error names a byte offset inside the input, and whatever parses
//! hands out only consistent, in-bounds views.

mod common;

use std::sync::OnceLock;

use common::fixture;
use dgemma_gguf::{GgufFile, Value};
use proptest::prelude::*;

const SMALL: [&str; 3] = ["all-types.gguf", "aligned-64.gguf", "no-tensors.gguf"];

fn seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut v: Vec<Vec<u8>> = SMALL.iter().map(|n| std::fs::read(fixture(n)).unwrap()).collect();
        // The header (metadata incl. the 262k-token vocabulary and all tensor infos) of the real
        // file; the tensor data would only make each case slower.
        let real = GgufFile::open(fixture("gemma-3-270m-q4_k_m.gguf")).unwrap();
        v.push(real.bytes()[..real.data_offset() as usize].to_vec());
        v
    })
}

/// Parse `bytes`; check the error or exercise every accessor of the parsed file.
fn check(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let len = bytes.len() as u64;
    match GgufFile::from_bytes(bytes) {
        Err(e) => {
            let offset = e.offset();
            prop_assert!(offset.is_some_and(|o| o <= len), "error {e} has offset {offset:?}, input {len} bytes");
        }
        Ok(f) => {
            for (k, v) in f.metadata() {
                prop_assert!(f.get(k).is_some());
                if let Value::Array(a) = v {
                    prop_assert_eq!(a.iter().count(), a.len());
                }
            }
            for t in f.tensor_views() {
                prop_assert_eq!(t.data.len() as u64, t.info.n_bytes());
                prop_assert!(f.data_offset() + t.info.offset + t.info.n_bytes() <= len);
            }
        }
    }
    Ok(())
}

#[test]
fn every_truncation_of_the_small_files_fails_cleanly() {
    for (name, full) in SMALL.iter().zip(seeds()) {
        let f = GgufFile::from_bytes(full.clone()).unwrap();
        // Only the zero padding after the last tensor may go missing (docs/decisions.md).
        let data_end = f.tensors().iter().map(|t| f.data_offset() + t.offset + t.n_bytes()).max();
        let needed = data_end.unwrap_or(f.data_offset() - (f.data_offset() - 1) % f.alignment()) as usize;
        for cut in 0..full.len() {
            match GgufFile::from_bytes(full[..cut].to_vec()) {
                Err(e) => assert!(e.offset().is_some_and(|o| o <= cut as u64), "{name}[..{cut}]: {e}"),
                Ok(_) => assert!(cut >= needed, "{name}[..{cut}] accepted, needs {needed} bytes"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn truncations_never_panic(seed in 0..4usize, frac in 0.0..1.0f64) {
        let full = &seeds()[seed];
        let cut = (full.len() as f64 * frac) as usize;
        check(full[..cut].to_vec())?;
    }

    #[test]
    fn bit_flips_never_panic(seed in 0..4usize, flips in prop::collection::vec((any::<prop::sample::Index>(), 0..8u8), 1..8)) {
        let mut b = seeds()[seed].clone();
        for (at, bit) in flips {
            let i = at.index(b.len());
            b[i] ^= 1 << bit;
        }
        check(b)?;
    }

    #[test]
    fn overwritten_words_never_panic(seed in 0..4usize, at in any::<prop::sample::Index>(), word in any::<u64>(), width in prop::sample::select(vec![1usize, 4, 8])) {
        // Writing whole u32/u64 words hits counts, lengths, dims and offsets with wild values.
        let mut b = seeds()[seed].clone();
        let i = at.index(b.len().saturating_sub(width));
        b[i..i + width].copy_from_slice(&word.to_le_bytes()[..width]);
        check(b)?;
    }
}
