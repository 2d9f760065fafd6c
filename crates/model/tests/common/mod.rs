//! Shared helpers of the golden tests: fixture paths (failing loudly when missing), golden
//! tensor reading, and error metrics.

#![allow(dead_code)]

use std::path::PathBuf;

/// Repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixture that must exist; the panic tells the reader how to make it.
pub fn fixture(rel: &str) -> PathBuf {
    let p = repo_root().join(rel);
    assert!(p.exists(), "missing fixture {rel}: run `bash tests/setup.sh`");
    p
}

/// The golden tensors of one checkpoint.
pub struct Golden {
    bytes: Vec<u8>,
}

impl Golden {
    /// Read `dir/golden.safetensors`.
    pub fn open(dir: &str) -> Self {
        let p = fixture(&format!("{dir}/golden.safetensors"));
        Self { bytes: std::fs::read(p).expect("read golden.safetensors") }
    }

    fn view(&self) -> safetensors::SafeTensors<'_> {
        safetensors::SafeTensors::deserialize(&self.bytes).expect("golden.safetensors parses")
    }

    /// Whether a tensor exists.
    pub fn has(&self, name: &str) -> bool {
        self.view().tensor(name).is_ok()
    }

    /// A tensor as f32 with its shape.
    pub fn f32(&self, name: &str) -> (Vec<f32>, Vec<usize>) {
        let st = self.view();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("golden tensor {name} missing"));
        let v = match t.dtype() {
            safetensors::Dtype::F32 => t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
            d => panic!("golden tensor {name}: dtype {d:?}, expected F32"),
        };
        (v, t.shape().to_vec())
    }

    /// An integer tensor (I64 or I32) as token ids.
    pub fn ids(&self, name: &str) -> Vec<u32> {
        let st = self.view();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("golden tensor {name} missing"));
        match t.dtype() {
            safetensors::Dtype::I64 => t.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as u32).collect(),
            safetensors::Dtype::I32 => t.data().chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as u32).collect(),
            d => panic!("golden tensor {name}: dtype {d:?}, expected an integer type"),
        }
    }
}

/// `max |a − b| / max |b|`: error relative to the golden tensor's range.
pub fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let scale = want.iter().fold(0f64, |m, &v| m.max((v as f64).abs())).max(1e-30);
    let diff = got.iter().zip(want).fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
    diff / scale
}

/// Fraction of rows whose argmax agrees.
pub fn argmax_agreement(got: &[f32], want: &[f32], width: usize) -> f64 {
    let am = |r: &[f32]| r.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
    let rows = want.len() / width;
    let same = (0..rows).filter(|&r| am(&got[r * width..(r + 1) * width]) == am(&want[r * width..(r + 1) * width])).count();
    same as f64 / rows as f64
}

/// `[heads, T, d]` (the reference cache layout) to `[T, heads · d]` (dgemma's).
pub fn heads_first_to_rows(x: &[f32], heads: usize, t: usize, d: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for h in 0..heads {
        for i in 0..t {
            out[i * heads * d + h * d..i * heads * d + (h + 1) * d].copy_from_slice(&x[(h * t + i) * d..(h * t + i + 1) * d]);
        }
    }
    out
}
