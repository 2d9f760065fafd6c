//! Shared helpers of the wgpu tests: the device (failing loudly when there is none), the CPU
//! reference backend, deterministic random data, weights of every type, error metrics.

#![allow(dead_code)]

use std::sync::OnceLock;

use dgemma_backend::{Backend, WeightShape, WeightSource};
use dgemma_backend_cpu::CpuBackend;
use dgemma_backend_wgpu::{WgpuBackend, WgpuOptions};
use dgemma_quant::GgmlType;

/// The GPU under test: any adapter, software ones included (CI has Mesa lavapipe).
pub fn gpu() -> &'static WgpuBackend {
    static GPU: OnceLock<WgpuBackend> = OnceLock::new();
    GPU.get_or_init(|| open(None))
}

/// The GPU under test with the portable (shared-memory) reductions only.
pub fn gpu_without_subgroups() -> &'static WgpuBackend {
    static GPU: OnceLock<WgpuBackend> = OnceLock::new();
    GPU.get_or_init(|| open_with(WgpuOptions { no_subgroups: true, ..Default::default() }))
}

/// The GPU under test with the previous products (`no_unrolled_tiles`: one row per thread for
/// n > 8, the looped tile for the MoE); the default device runs the unrolled tiles.
pub fn gpu_looped() -> &'static WgpuBackend {
    static GPU: OnceLock<WgpuBackend> = OnceLock::new();
    GPU.get_or_init(|| open_with(WgpuOptions { no_unrolled_tiles: true, ..Default::default() }))
}

/// A second device whose weights are split into parts of at most `bytes`.
pub fn open(max_part: Option<u64>) -> WgpuBackend {
    open_with(WgpuOptions { max_weight_part_bytes: max_part, ..Default::default() })
}

/// A device with these options (software adapters always allowed).
pub fn open_with(opts: WgpuOptions) -> WgpuBackend {
    let opts = WgpuOptions { allow_software: true, ..opts };
    WgpuBackend::new(&opts).unwrap_or_else(|e| {
        panic!("these tests need a GPU adapter and none could be opened: {e}. In CI and on Debian: `apt-get install mesa-vulkan-drivers libvulkan1` (lavapipe)")
    })
}

/// The reference backend.
pub fn cpu() -> &'static CpuBackend {
    static CPU: OnceLock<CpuBackend> = OnceLock::new();
    CPU.get_or_init(|| CpuBackend::new(2).expect("cpu backend"))
}

/// Deterministic xorshift values in [-1, 1).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

/// `values` stored as `ty` (quantized through the quant crate's reference quantizer).
pub fn encode(ty: GgmlType, values: &[f32]) -> Vec<u8> {
    match ty {
        GgmlType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::F16 => values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
        GgmlType::BF16 => values.iter().flat_map(|v| half::bf16::from_f32(*v).to_le_bytes()).collect(),
        ty => {
            let mut out = vec![0u8; ty.bytes_for(values.len() as u64).expect("whole blocks") as usize];
            dgemma_quant::quantize(ty, values, &mut out).expect("quantize");
            out
        }
    }
}

/// What `bytes` decode to (the exact values the kernels should multiply with).
pub fn decode(ty: GgmlType, bytes: &[u8], n: usize) -> Vec<f32> {
    match ty {
        GgmlType::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        GgmlType::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        GgmlType::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        ty => {
            let mut out = vec![0f32; n];
            dgemma_quant::dequantize(ty, bytes, &mut out).expect("dequantize");
            out
        }
    }
}

/// A random weight of `ty` and shape: (bytes, decoded values).
pub fn weight(ty: GgmlType, shape: WeightShape, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let n = shape.rows * shape.cols * shape.experts;
    let vals = Rng::new(seed).vec(n, 1.0);
    let bytes = encode(ty, &vals);
    let dec = decode(ty, &bytes, n);
    (bytes, dec)
}

pub fn source<'a>(name: &'a str, ty: GgmlType, shape: WeightShape, data: &'a [u8]) -> WeightSource<'a> {
    WeightSource { name, ty, shape, data }
}

/// A buffer on `b` holding `data`.
pub fn buf<B: Backend>(b: &B, data: &[f32]) -> B::Buffer {
    let mut x = b.alloc(data.len());
    b.write(&mut x, 0, data);
    x
}

/// The first `n` values of a buffer.
pub fn get<B: Backend>(b: &B, x: &B::Buffer, n: usize) -> Vec<f32> {
    let mut out = vec![0f32; n];
    b.read(x, 0, &mut out);
    out
}

/// Largest absolute difference divided by the largest absolute reference value.
pub fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
    let err = got.iter().zip(want).fold(0f64, |m, (a, b)| {
        let d = (*a as f64 - *b as f64).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            m.max(d)
        }
    });
    err / scale
}

/// Assert `got` is within `tol` (relative to the reference's range) of `want`.
#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f64) {
    let e = rel_err(got, want);
    eprintln!("measured {what}: {e:.2e}");
    assert!(e <= tol, "{what}: error {e:.3e} (relative to range) > {tol:.1e}");
}

/// Assert `|got − want| ≤ tol · bound` element-wise (`bound`: e.g. Σ|terms| of a dot product,
/// the scale of its rounding errors, meaningful even where the result cancels to ~0).
#[track_caller]
pub fn assert_within(what: &str, got: &[f32], want: &[f32], bound: &[f32], tol: f64) {
    let worst = got.iter().zip(want).zip(bound).map(|((a, b), m)| (*a as f64 - *b as f64).abs() / (*m as f64).max(1e-30)).fold(0f64, |m, e| if e.is_nan() { f64::INFINITY } else { m.max(e) });
    eprintln!("measured {what}: {worst:.2e} of Σ|terms|");
    assert!(worst <= tol, "{what}: error {worst:.3e} (relative to Σ|terms|) > {tol:.1e}");
}
