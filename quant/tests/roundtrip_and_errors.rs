//! Properties of the public quantize/dequantize API that need no reference fixtures: size and
//! type checks return typed errors, the NaN/inf policy of docs/formats.md, round-trip error
//! bounds per format, and the rayon variants producing identical bytes.

use dgemma_quant::{
    can_dequantize, can_quantize, dequantize, dequantize_par, quantize, quantize_par, quantize_rows_par,
    GgmlType, QuantError,
};

/// Deterministic xorshift normal-ish values (sum of uniforms), enough for error-bound checks.
fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..n).map(|_| ((0..4).map(|_| next()).sum::<f32>() - 2.0) * scale).collect()
}

const QUANTIZABLE: [GgmlType; 14] = [
    GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
    GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
    GgmlType::Q6_K, GgmlType::Q8_K,
];

/// Relative RMS error (vs the RMS of the data) each format must stay below on Gaussian data.
fn rms_bound(ty: GgmlType) -> f32 {
    use GgmlType::*;
    match ty {
        F32 => 0.0,
        F16 => 1e-3,
        BF16 => 4e-3,
        Q8_0 | Q8_K => 0.01,
        Q6_K => 0.03,
        Q5_0 | Q5_1 | Q5_K => 0.06,
        Q4_0 | Q4_1 | Q4_K => 0.12,
        Q3_K => 0.25,
        Q2_K => 0.45,
        _ => unreachable!(),
    }
}

#[test]
fn every_listed_type_round_trips_within_its_error_bound() {
    let x = data(256 * 12, 7, 0.05);
    let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    for ty in QUANTIZABLE {
        assert!(can_quantize(ty) && can_dequantize(ty), "{ty}");
        let mut q = vec![0u8; ty.row_bytes(x.len()).unwrap()];
        quantize(ty, &x, &mut q).unwrap();
        let mut y = vec![f32::NAN; x.len()];
        dequantize(ty, &q, &mut y).unwrap();
        let err = (x.iter().zip(&y).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / x.len() as f32).sqrt();
        assert!(err <= rms_bound(ty) * rms, "{ty}: relative rms error {}", err / rms);
    }
}

#[test]
fn parallel_variants_give_identical_results() {
    let x = data(256 * 200, 3, 1.0);
    for ty in QUANTIZABLE {
        let n = ty.row_bytes(x.len()).unwrap();
        let (mut a, mut b, mut c) = (vec![0u8; n], vec![1u8; n], vec![2u8; n]);
        quantize(ty, &x, &mut a).unwrap();
        quantize_par(ty, &x, &mut b).unwrap();
        quantize_rows_par(ty, &x, 256 * 8, &mut c).unwrap();
        assert!(a == b && a == c, "{ty}");
        let (mut ya, mut yb) = (vec![0f32; x.len()], vec![1f32; x.len()]);
        dequantize(ty, &a, &mut ya).unwrap();
        dequantize_par(ty, &a, &mut yb).unwrap();
        assert!(ya.iter().zip(&yb).all(|(p, q)| p.to_bits() == q.to_bits()), "{ty}");
    }
}

#[test]
fn bad_sizes_and_types_are_typed_errors() {
    let x = vec![0.5f32; 64];
    let mut q = vec![0u8; 1000];
    assert_eq!(
        quantize(GgmlType::Q4_K, &x, &mut q),
        Err(QuantError::PartialBlock { ty: GgmlType::Q4_K, elements: 64, block: 256 })
    );
    assert!(matches!(
        quantize(GgmlType::Q8_0, &x, &mut q),
        Err(QuantError::Length { expected: 68, got: 1000, .. })
    ));
    assert_eq!(quantize(GgmlType::IQ2_XXS, &x, &mut q), Err(QuantError::QuantizeUnsupported(GgmlType::IQ2_XXS)));
    let mut y = vec![0f32; 64];
    assert!(matches!(dequantize(GgmlType::Q8_0, &q[..67], &mut y), Err(QuantError::Length { expected: 68, got: 67, .. })));
    assert!(matches!(dequantize(GgmlType::Q4_0, &q, &mut y[..33]), Err(QuantError::PartialBlock { .. })));
    assert_eq!(dequantize(GgmlType::IQ1_M, &q, &mut y), Err(QuantError::DequantizeUnsupported(GgmlType::IQ1_M)));
    assert!(matches!(quantize_rows_par(GgmlType::Q8_0, &x, 48, &mut q[..68]), Err(QuantError::BadRows { .. })));
    assert!(matches!(quantize_rows_par(GgmlType::Q8_0, &x, 0, &mut q[..68]), Err(QuantError::BadRows { .. })));
    assert!(!can_quantize(GgmlType::IQ4_XS) && !can_quantize(GgmlType::Q8_1));
}

#[test]
fn block_formats_refuse_non_finite_input_and_float_formats_keep_it() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = data(256, 1, 1.0);
        x[77] = bad;
        for ty in QUANTIZABLE {
            let mut q = vec![0u8; ty.row_bytes(256).unwrap()];
            let r = quantize(ty, &x, &mut q);
            if matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16) {
                r.unwrap();
                let mut y = vec![0f32; 256];
                dequantize(ty, &q, &mut y).unwrap();
                assert!(y[77].is_nan() == bad.is_nan() && (bad.is_nan() || y[77] == bad), "{ty}");
            } else {
                match r {
                    Err(QuantError::NonFinite { ty: t, index: 77, value }) => {
                        assert_eq!(t, ty);
                        assert_eq!(value.to_bits(), bad.to_bits());
                    }
                    other => panic!("{ty}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn huge_finite_values_do_not_panic() {
    // Sums of squares overflow to inf inside the K-quant searches; the output is unspecified
    // (as in ggml) but the call must not panic.
    let mut x = data(512, 9, 1e38);
    x[3] = f32::MAX;
    x[300] = -f32::MAX;
    for ty in QUANTIZABLE {
        let mut q = vec![0u8; ty.row_bytes(x.len()).unwrap()];
        quantize(ty, &x, &mut q).unwrap();
        let mut y = vec![0f32; x.len()];
        dequantize(ty, &q, &mut y).unwrap();
    }
}

#[test]
fn random_bytes_dequantize_without_panicking() {
    let bytes: Vec<u8> = data(292 * 4, 11, 1e4).iter().map(|v| v.to_bits() as u8).collect();
    for ty in QUANTIZABLE {
        let n = bytes.len() / ty.type_size() * ty.block_size();
        let n = n / ty.block_size() * ty.block_size();
        let mut y = vec![0f32; n];
        dequantize(ty, &bytes[..ty.row_bytes(n).unwrap()], &mut y).unwrap();
    }
}
