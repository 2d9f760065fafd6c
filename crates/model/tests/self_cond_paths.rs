//! The two ways into the decoder's self-conditioning (z_prev as a separate slice, or in place in
//! the logits buffer with the sampler's row statistics) and the opt-in soft-embedding cutoff, on
//! the nano checkpoint and the golden `z_prev` of transformers.

mod common;

use common::{fixture, Golden};
use dgemma_backend_cpu::CpuBackend;
use dgemma_gguf::GgufFile;
use dgemma_model::{KvCache, Model, Scratch};
use dgemma_sampler::{blocks_per_row, row_stats, RowStats};

const GOLDEN: &str = "tests/fixtures/golden/nano";

/// Logits of one self-conditioned denoiser step on the "short" case: `(exact via z, in place
/// via stats, with each cutoff)`.
fn logits_with(cutoffs: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<Vec<f32>>) {
    let file = GgufFile::open(fixture("tests/fixtures/generated/nano-f32.gguf")).unwrap();
    let g = Golden::open(GOLDEN);
    let backend = CpuBackend::new(2).unwrap();
    let model = Model::load(&file, &backend).expect("model loads");
    let (v, c) = (model.cfg.vocab, model.cfg.canvas);
    let prompt = g.ids("short.prompt_ids");
    let mut cache = KvCache::new(&backend, &model.cfg, prompt.len() + c);
    let mut s = Scratch::new(&backend, &model.cfg, 64, true);
    model.encode(&prompt, &mut cache, &mut s, None).unwrap();
    let canvas = g.ids("short.dec0.canvas");
    let (z, _) = g.f32("short.dec0_sc.z_prev");
    assert_eq!(z.len(), c * v);

    let mut exact = vec![0f32; c * v];
    model.denoise(&canvas, &cache, Some(&z), &mut s, &mut exact, None).unwrap();

    let mut sums = vec![0.0; blocks_per_row(v)];
    let stats: Vec<RowStats> = z.chunks(v).enumerate().map(|(p, row)| row_stats(row, p, &mut sums).unwrap()).collect();
    let mut in_place = z.clone();
    model.denoise_in_place(&canvas, &cache, Some(&stats), &mut s, &mut in_place, None).unwrap();

    let cut = cutoffs
        .iter()
        .map(|&x| {
            s.set_soft_embed_cutoff(x);
            let mut out = vec![0f32; c * v];
            model.denoise(&canvas, &cache, Some(&z), &mut s, &mut out, None).unwrap();
            out
        })
        .collect();
    (exact, in_place, cut)
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn in_place_self_conditioning_with_sampler_stats_equals_the_z_slice_path_bit_for_bit() {
    let (exact, in_place, _) = logits_with(&[]);
    assert!(exact.iter().all(|v| v.is_finite()));
    assert_eq!(bits(&exact), bits(&in_place));
}

#[test]
fn soft_embed_cutoff_zero_or_below_every_weight_changes_nothing_and_a_real_cut_changes_the_logits() {
    // exp(z − max) is either 0 or at least e^-87 > f32::MIN_POSITIVE, so that cut drops nothing.
    let (exact, _, cut) = logits_with(&[0.0, f32::MIN_POSITIVE, 0.5]);
    assert_eq!(bits(&cut[0]), bits(&exact), "cutoff 0 must be the exact path");
    assert_eq!(bits(&cut[1]), bits(&exact), "a cutoff under every weight must drop nothing");
    assert!(cut[2].iter().all(|v| v.is_finite()));
    let changed = cut[2].iter().zip(&exact).filter(|(a, b)| a != b).count();
    assert!(changed > exact.len() / 2, "cutoff 0.5 changed only {changed} of {} logits", exact.len());
}

#[test]
fn bad_self_conditioning_inputs_are_errors() {
    let file = GgufFile::open(fixture("tests/fixtures/generated/nano-f32.gguf")).unwrap();
    let backend = CpuBackend::new(1).unwrap();
    let model = Model::load(&file, &backend).expect("model loads");
    let (v, c) = (model.cfg.vocab, model.cfg.canvas);
    let cache = KvCache::new(&backend, &model.cfg, c);
    let mut s = Scratch::new(&backend, &model.cfg, 8, true);
    let canvas = vec![3u32; c];
    let mut logits = vec![0f32; c * v];
    // A NaN row in z_prev.
    let mut z = vec![0f32; c * v];
    z[v + 2] = f32::NAN;
    assert!(model.denoise(&canvas, &cache, Some(&z), &mut s, &mut logits, None).is_err());
    // Too few row statistics.
    let stats = vec![RowStats { max: 0.0, argmax: 0, partition: v as f64, entropy: 0.0 }; c - 1];
    assert!(model.denoise_in_place(&canvas, &cache, Some(&stats), &mut s, &mut logits, None).is_err());
    // Wrong z length.
    assert!(model.denoise(&canvas, &cache, Some(&z[1..]), &mut s, &mut logits, None).is_err());
}
