//! The token-lane decoding against the dequantizers, and the independence of each (row, token)
//! result from the rest of the batch. (Accuracy against the scalar kernels is tested with every
//! other kernel in `quant/tests/kernels*.rs`.)

use super::{format, Format, MIN_TOKENS};
use crate::kernels::{matmul_gather_on, matmul_on, matmul_packed_block_on, Activations, Isa, PackedTokens, SUPPORTED_TYPES};
use crate::types::GgmlType;
use crate::{dequantize, quantize};

/// The block types: every supported type but the float ones (checked against `Format::of`
/// below, so a new type without a decoding fails there).
fn lane_types() -> Vec<GgmlType> {
    SUPPORTED_TYPES.into_iter().filter(|t| !matches!(t, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)).collect()
}

/// Deterministic values in [-1, 1) with a few larger ones, so blocks get varied scales.
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            if i % 97 == 0 {
                v * 8.0
            } else {
                v
            }
        })
        .collect()
}

fn quantized(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut w = vec![0u8; ty.row_bytes(cols).unwrap() * rows];
    quantize(ty, &values(seed, rows * cols), &mut w).unwrap();
    w
}

fn avx512() -> bool {
    let ok = Isa::Avx512.is_available();
    if !ok {
        eprintln!("this CPU has no AVX-512 VNNI: the token-lane kernels cannot run here");
    }
    ok
}

#[test]
fn every_type_with_lanes_is_offered_only_on_avx512_batches() {
    for ty in lane_types() {
        assert!(Format::of(ty).is_some(), "{ty}");
        assert!(format(Isa::Avx2, ty, 256).is_none() && format(Isa::Scalar, ty, 256).is_none(), "{ty}");
        assert!(format(Isa::Avx512, ty, MIN_TOKENS - 1).is_none(), "{ty}");
        assert_eq!(format(Isa::Avx512, ty, MIN_TOKENS).is_some(), Isa::Avx512.is_available(), "{ty}");
    }
    for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
        assert!(Format::of(ty).is_none(), "{ty}");
    }
}

/// `scale * (code - K) + offset` reproduces the dequantized values.
#[test]
fn decoded_rows_reproduce_the_dequantizer() {
    if !std::arch::is_x86_feature_detected!("avx2") || !std::arch::is_x86_feature_detected!("f16c") {
        eprintln!("no AVX2/F16C: the decoders cannot run here");
        return;
    }
    let cols = 512;
    for ty in lane_types() {
        let fmt = Format::of(ty).unwrap();
        let w = quantized(ty, 1, cols, 7 + ty as u64);
        let mut want = vec![0f32; cols];
        dequantize(ty, &w, &mut want).unwrap();
        let subs = cols / fmt.sub;
        let (mut codes, mut scale, mut offset) = (vec![0u8; cols], vec![0f32; subs], vec![0f32; subs]);
        // SAFETY: AVX2 and F16C checked above; `w` is one row of `cols` values.
        unsafe { fmt.decode_row(&w, cols, &mut codes, &mut scale, &mut offset) };
        for (j, &v) in want.iter().enumerate() {
            let s = j / fmt.sub;
            let off = if fmt.has_offset { offset[s] } else { 0.0 };
            let got = scale[s] * (codes[j] as i32 - fmt.zero_code) as f32 + off;
            assert!((got - v).abs() <= 1e-6 * v.abs().max(1e-3), "{ty} value {j}: decoded {got} dequantized {v}");
        }
    }
}

/// A token's results are the same bits whatever else is in the batch: another order, repeats,
/// another batch size (all >= 8), another vector width, a gather, or a list packed once for
/// several blocks.
#[test]
fn results_do_not_depend_on_the_rest_of_the_batch() {
    if !avx512() {
        return;
    }
    // 45 tokens: the first 32 on 16-token vectors, the rest (and every list below) on 8-token
    // ones, so the comparison also crosses vector widths.
    let (rows, n) = (13, 45);
    for ty in lane_types() {
        let cols = if ty.block_size() == 256 { 768 } else { 320 };
        let w = quantized(ty, rows, cols, 3 + ty as u64);
        let x = values(11, n * cols);
        let mut full = vec![f32::NAN; n * rows];
        matmul_on(Isa::Avx512, ty, &w, rows, cols, &x, n, &mut full).unwrap();
        let acts = Activations::quantize(ty, &x, n, cols).unwrap();
        let list = [26, 3, 3, 0, 44, 9, 9, 9, 21, 5, 37];
        let mut gathered = vec![f32::NAN; list.len() * rows];
        matmul_gather_on(Isa::Avx512, ty, &w, rows, &acts, &list, &mut gathered).unwrap();
        let mut packed = PackedTokens::new();
        packed.pack(Isa::Avx512, &acts, &list).unwrap();
        // Rows 4..13 of the matrix as one block, against the pre-packed list.
        let row_bytes = w.len() / rows;
        let mut block = vec![f32::NAN; list.len() * (rows - 4)];
        matmul_packed_block_on(Isa::Avx512, ty, &w[4 * row_bytes..], rows - 4, &acts, &packed, &mut block).unwrap();
        for (i, &t) in list.iter().enumerate() {
            for r in 0..rows {
                let want = full[t * rows + r].to_bits();
                assert_eq!(gathered[i * rows + r].to_bits(), want, "{ty} entry {i} (token {t}) row {r}: gather");
                if r >= 4 {
                    assert_eq!(block[i * (rows - 4) + r - 4].to_bits(), want, "{ty} entry {i} row {r}: packed block");
                }
            }
        }
    }
}

/// A packed list is refused with activations it was not packed from.
#[test]
fn packed_lists_are_checked_against_their_activations() {
    let (rows, cols, n) = (4, 64, 9);
    let ty = GgmlType::Q8_0;
    let w = quantized(ty, rows, cols, 1);
    let acts = Activations::quantize(ty, &values(2, n * cols), n, cols).unwrap();
    let other = Activations::quantize(ty, &values(2, 2 * n * cols), 2 * n, cols).unwrap();
    let mut packed = PackedTokens::new();
    packed.pack(Isa::detected(), &acts, &[0, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let mut y = vec![0f32; 9 * rows];
    assert!(matmul_packed_block_on(Isa::detected(), ty, &w, rows, &other, &packed, &mut y).is_err());
    assert!(matmul_packed_block_on(Isa::detected(), ty, &w, rows, &acts, &packed, &mut y).is_ok());
    assert!(packed.pack(Isa::detected(), &acts, &[0, 9]).is_err(), "token 9 of 9 rows");
}
