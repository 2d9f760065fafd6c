//! Property tests: any finite input quantizes without panicking and with the documented
//! invariants, and any bytes dequantize without panicking, for every supported type.

use dgemma_quant::{can_quantize, dequantize, quantize, GgmlType};
use proptest::prelude::*;

fn supported() -> Vec<GgmlType> {
    GgmlType::ALL.into_iter().filter(|t| can_quantize(*t)).collect()
}

/// Finite f32 from any bit pattern (all exponents, subnormals, ±0), NaN/inf mapped to 1.0.
fn finite_f32() -> impl Strategy<Value = f32> {
    any::<u32>().prop_map(|b| {
        let v = f32::from_bits(b);
        if v.is_finite() {
            v
        } else {
            1.0
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_finite_block_quantizes_and_decodes(x in prop::collection::vec(finite_f32(), 512), scale_exp in -40i32..38) {
        // Also a rescaled copy, so whole blocks share one magnitude (the bit patterns alone
        // mostly mix wildly different exponents).
        let s = 10f32.powi(scale_exp);
        let scaled: Vec<f32> = x.iter().map(|v| (v.to_bits() as f32 / u32::MAX as f32 - 0.5) * s).collect();
        for input in [&x, &scaled] {
            for ty in supported() {
                let mut q = vec![0u8; ty.row_bytes(input.len()).unwrap()];
                quantize(ty, input, &mut q).unwrap();
                let mut y = vec![0f32; input.len()];
                dequantize(ty, &q, &mut y).unwrap();
                if ty == GgmlType::F32 {
                    prop_assert!(y.iter().zip(input.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
                }
            }
        }
    }

    #[test]
    fn any_bytes_dequantize(bytes in prop::collection::vec(any::<u8>(), 292 * 2)) {
        for ty in supported() {
            let blocks = bytes.len() / ty.type_size();
            let n = blocks * ty.block_size();
            let mut y = vec![0f32; n];
            dequantize(ty, &bytes[..blocks * ty.type_size()], &mut y).unwrap();
        }
    }
}
