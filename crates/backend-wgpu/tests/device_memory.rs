//! Running out of device memory is a `BackendError::Device` naming the tensor and the numbers,
//! not a panic, and the device stays usable afterwards.

mod common;

use common::*;
use dgemma_backend::{Backend, BackendError, WeightShape};
use dgemma_backend_wgpu::WgpuOptions;
use dgemma_quant::GgmlType;

fn f32_weight(rows: usize, cols: usize, seed: u64) -> (WeightShape, Vec<u8>, Vec<f32>) {
    let shape = WeightShape { rows, cols, experts: 1 };
    let (bytes, dec) = weight(GgmlType::F32, shape, seed);
    (shape, bytes, dec)
}

#[test]
fn weight_budget_refusal_is_a_device_error_with_the_numbers() {
    let g = open_with(WgpuOptions { max_weight_bytes: Some(4096), ..Default::default() });
    let (sa, a, a_dec) = f32_weight(8, 32, 1);
    let wa = g.upload_weight(source("blk.0.small", GgmlType::F32, sa, &a)).expect("fits the budget");
    // 8 rows · 128 bytes + 4 bytes of padding.
    assert_eq!(g.uploaded_bytes(), 1028);

    let (sb, b, _) = f32_weight(32, 32, 2);
    let err = g.upload_weight(source("blk.1.big", GgmlType::F32, sb, &b)).err().expect("over the budget");
    let msg = err.to_string();
    eprintln!("measured error: {msg}");
    match &err {
        BackendError::Device { name, device, requested, uploaded, .. } => {
            assert_eq!(name, "blk.1.big");
            assert_eq!(device, &g.adapter().name);
            assert_eq!((*requested, *uploaded), (4100, 1028));
        }
        other => panic!("expected BackendError::Device, got {other:?}"),
    }
    for part in ["blk.1.big", "4100", "1028", "4096", "budget"] {
        assert!(msg.contains(part), "message lacks `{part}`: {msg}");
    }
    assert_eq!(g.uploaded_bytes(), 1028, "a refused upload must not count");

    // The device still works after the refusal.
    let x = Rng::new(3).vec(32, 1.0);
    let mut y = g.alloc(8);
    g.matmul(&wa, &buf(&g, &x), 1, &mut y);
    let want: Vec<f32> = (0..8).map(|r| (0..32).map(|c| a_dec[r * 32 + c] * x[c]).sum()).collect();
    assert_close("matmul after refusal", &get(&g, &y, 8), &want, 2e-5);

    // Dropping a weight returns its bytes to the budget.
    drop(wa);
    assert_eq!(g.uploaded_bytes(), 0);
    let (sc, c, _) = f32_weight(31, 32, 4);
    let _wc = g.upload_weight(source("blk.1.fits", GgmlType::F32, sc, &c)).expect("31 rows fit once the first weight is gone");
    assert_eq!(g.uploaded_bytes(), 31 * 128 + 4);
}

#[test]
fn row_larger_than_a_binding_is_a_device_error() {
    let g = open(Some(64));
    let (s, w, _) = f32_weight(2, 32, 5);
    let err = g.upload_weight(source("token_embd.weight", GgmlType::F32, s, &w)).err().expect("row over the binding");
    let msg = err.to_string();
    eprintln!("measured error: {msg}");
    assert!(matches!(err, BackendError::Device { .. }), "{err:?}");
    for part in ["token_embd.weight", "128 bytes", "64 bytes"] {
        assert!(msg.contains(part), "message lacks `{part}`: {msg}");
    }
}
