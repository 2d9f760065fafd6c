//! The f32 graph against transformers' golden tensors (made by tests/fixtures/make_oracle.py)
//! for the nano checkpoint and tiny-gemma-vocab (nano's shape family with the real 262,144-token
//! vocabulary): encoder hidden states, logits and routes, the K/V cache, denoiser logits with and
//! without self-conditioning, and a second block after a committed canvas.

mod common;

use common::{fixture, heads_first_to_rows, rel_err, Golden};
use dgemma_backend_cpu::CpuBackend;
use dgemma_gguf::GgufFile;
use dgemma_model::{KvCache, Model, Scratch, Trace};

const GOLDEN: &str = "tests/fixtures/golden/nano";
const GOLDEN_TGV: &str = "tests/fixtures/generated/golden/tiny-gemma-vocab";
/// F32 weights: everything f32 on both sides; what remains is summation order.
const F32_TOL: f64 = 1e-4;

fn check(what: &str, got: &[f32], want: &[f32], tol: f64) {
    let e = rel_err(got, want);
    eprintln!("{what}: {e:.2e}");
    assert!(e <= tol, "{what}: relative error {e:.3e} > {tol:.0e}");
}

/// Runs every stage of one golden case on `file` and checks it with tolerance `tol`.
fn run_case(file: &GgufFile, g: &Golden, case: &str, threads: usize, batch: usize) {
    let backend = CpuBackend::new(threads).unwrap();
    let model = Model::load(file, &backend).expect("model loads");
    let cfg = &model.cfg;
    let (v, c) = (cfg.vocab, cfg.canvas);
    let prompt = g.ids(&format!("{case}.prompt_ids"));
    let p = prompt.len();
    let mut cache = KvCache::new(&backend, cfg, p + 2 * c);
    let mut s = Scratch::new(&backend, cfg, batch, true);

    // Prefill: hidden states after every layer, encoder logits, routes, cache.
    let mut trace = Trace { want_logits: true, ..Default::default() };
    model.encode(&prompt, &mut cache, &mut s, Some(&mut trace)).unwrap();
    let (emb, _) = g.f32(&format!("{case}.enc.embed"));
    check(&format!("{case}.enc.embed"), &trace.hidden[0], &emb, F32_TOL);
    for l in 0..cfg.n_layers() {
        let (want, _) = g.f32(&format!("{case}.enc.layer{l}.out"));
        check(&format!("{case}.enc.layer{l}.out"), &trace.hidden[l + 1], &want, F32_TOL);
        let ids = g.ids(&format!("{case}.enc.layer{l}.router_topk_ids"));
        let got: Vec<u32> = trace.routes[l].iter().flat_map(|r| r.experts[..r.rows * r.k].iter().copied()).collect();
        assert_eq!(got, ids, "{case}.enc.layer{l} routes");
    }
    let (want, _) = g.f32(&format!("{case}.enc.logits"));
    check(&format!("{case}.enc.logits"), &trace.logits, &want, F32_TOL);
    check_cache(&backend, &cache, g, &format!("{case}.cache0"), &model);

    // First block: without, then with self-conditioning.
    let mut logits = vec![0f32; c * v];
    let canvas0 = g.ids(&format!("{case}.dec0.canvas"));
    model.denoise(&canvas0, &cache, None, &mut s, &mut logits, None).unwrap();
    check(&format!("{case}.dec0.logits"), &logits, &g.f32(&format!("{case}.dec0.logits")).0, F32_TOL);
    let (z, _) = g.f32(&format!("{case}.dec0_sc.z_prev"));
    model.denoise(&canvas0, &cache, Some(&z), &mut s, &mut logits, None).unwrap();
    check(&format!("{case}.dec0_sc.logits"), &logits, &g.f32(&format!("{case}.dec0_sc.logits")).0, F32_TOL);

    // Commit, then the second block.
    let committed = g.ids(&format!("{case}.enc1.ids"));
    let mut trace = Trace { want_logits: true, ..Default::default() };
    model.encode(&committed, &mut cache, &mut s, Some(&mut trace)).unwrap();
    check(&format!("{case}.enc1.logits"), &trace.logits, &g.f32(&format!("{case}.enc1.logits")).0, F32_TOL);
    check_cache(&backend, &cache, g, &format!("{case}.cache1"), &model);
    let canvas1 = g.ids(&format!("{case}.dec1.canvas"));
    model.denoise(&canvas1, &cache, None, &mut s, &mut logits, None).unwrap();
    check(&format!("{case}.dec1.logits"), &logits, &g.f32(&format!("{case}.dec1.logits")).0, F32_TOL);
    let (z, _) = g.f32(&format!("{case}.dec1_sc.z_prev"));
    model.denoise(&canvas1, &cache, Some(&z), &mut s, &mut logits, None).unwrap();
    check(&format!("{case}.dec1_sc.logits"), &logits, &g.f32(&format!("{case}.dec1_sc.logits")).0, F32_TOL);
}

fn check_cache(backend: &CpuBackend, cache: &KvCache<CpuBackend>, g: &Golden, tag: &str, model: &Model<'_, CpuBackend>) {
    for (l, spec) in model.cfg.layers.iter().enumerate() {
        let (k, v, _) = cache.read_layer(backend, l);
        for (name, got) in [("k", &k), ("v", &v)] {
            let (want, shape) = g.f32(&format!("{tag}.layer{l}.{name}"));
            assert_eq!(shape[0], spec.kv_heads, "{tag}.layer{l}.{name} heads");
            assert_eq!(got.len(), want.len(), "{tag}.layer{l}.{name}: cached rows {} vs golden {:?}", got.len() / (spec.kv_heads * spec.head_dim), shape);
            let want = heads_first_to_rows(&want, shape[0], shape[1], shape[2]);
            check(&format!("{tag}.layer{l}.{name}"), got, &want, F32_TOL);
        }
    }
}

#[test]
fn f32_gguf_matches_transformers_on_a_prompt_shorter_than_the_window() {
    let file = GgufFile::open(fixture("tests/fixtures/generated/nano-f32.gguf")).unwrap();
    let g = Golden::open(GOLDEN);
    run_case(&file, &g, "short", 2, 64);
}

#[test]
fn f32_gguf_matches_transformers_on_a_prompt_longer_than_the_window_encoded_in_chunks() {
    let file = GgufFile::open(fixture("tests/fixtures/generated/nano-f32.gguf")).unwrap();
    let g = Golden::open(GOLDEN);
    // Chunks of 5 rows: sliding layers must carry the window across chunk boundaries.
    run_case(&file, &g, "long", 1, 5);
}

#[test]
fn tiny_gemma_vocab_f32_gguf_matches_transformers_with_the_real_vocabulary() {
    let file = GgufFile::open(fixture("tests/fixtures/generated/tiny-gemma-vocab-f32.gguf")).unwrap();
    let g = Golden::open(GOLDEN_TGV);
    run_case(&file, &g, "long", 2, 64);
}
