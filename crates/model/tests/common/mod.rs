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

/// The decoder logits of one golden case (dec0, dec0_sc, dec1, dec1_sc) computed on `file`,
/// with the golden inputs (prompt, canvases, z_prev, committed canvas), as (name, logits).
pub fn decoder_logits(file: &dgemma_gguf::GgufFile, g: &Golden, case: &str, threads: usize) -> Vec<(String, Vec<f32>)> {
    use dgemma_model::{KvCache, Model, Scratch};
    let backend = dgemma_backend_cpu::CpuBackend::new(threads).unwrap();
    let model = Model::load(file, &backend).expect("model loads");
    let cfg = &model.cfg;
    let prompt = g.ids(&format!("{case}.prompt_ids"));
    let mut cache = KvCache::new(&backend, cfg, prompt.len() + 2 * cfg.canvas);
    let mut s = Scratch::new(&backend, cfg, 64, true);
    model.encode(&prompt, &mut cache, &mut s, None).unwrap();
    let mut out = Vec::new();
    for (block, commit) in [("dec0", Some("enc1.ids")), ("dec1", None)] {
        let canvas = g.ids(&format!("{case}.{block}.canvas"));
        let mut logits = vec![0f32; canvas.len() * cfg.vocab];
        model.denoise(&canvas, &cache, None, &mut s, &mut logits, None).unwrap();
        out.push((format!("{case}.{block}.logits"), logits.clone()));
        let (z, _) = g.f32(&format!("{case}.{block}_sc.z_prev"));
        model.denoise(&canvas, &cache, Some(&z), &mut s, &mut logits, None).unwrap();
        out.push((format!("{case}.{block}_sc.logits"), logits));
        if let Some(c) = commit {
            model.encode(&g.ids(&format!("{case}.{c}")), &mut cache, &mut s, None).unwrap();
        }
    }
    out
}

/// Mean over rows of KL(softmax(want) ‖ softmax(got)) in nats (f64).
pub fn mean_kld(got: &[f32], want: &[f32], width: usize) -> f64 {
    fn logp(r: &[f32]) -> Vec<f64> {
        let m = r.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
        let lse = m + r.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
        r.iter().map(|&v| v as f64 - lse).collect()
    }
    let rows = want.len() / width;
    let total: f64 = (0..rows)
        .map(|i| {
            let (g, w) = (&got[i * width..(i + 1) * width], &want[i * width..(i + 1) * width]);
            logp(w).into_iter().zip(logp(g)).map(|(lw, lg)| lw.exp() * (lw - lg)).sum::<f64>()
        })
        .sum();
    total / rows as f64
}
