//! The block driver over a toy denoiser: block chaining, end-of-generation cut, commits,
//! self-conditioning hand-over and the draw order.

use dgemma_sampler::{
    generate, DenoiseError, Denoiser, EndReason, GenerateConfig, LlamaRng, SamplerParams, SelfCond,
};

/// Predicts a fixed sequence with high confidence: position p of block b wants `script[b][p]`.
struct Scripted {
    script: Vec<Vec<u32>>,
    vocab: usize,
    block: usize,
    commits: Vec<Vec<u32>>,
    self_cond_seen: Vec<bool>,
}

impl Denoiser for Scripted {
    fn denoise(&mut self, _canvas: &[u32], self_cond: Option<SelfCond<'_>>, out: &mut [f32]) -> Result<(), DenoiseError> {
        self.self_cond_seen.push(self_cond.is_some());
        if let Some(sc) = self_cond {
            // z_prev of the same script: its max sits on the scripted token.
            let want = &self.script[self.block];
            for (p, &t) in want.iter().enumerate() {
                assert_eq!(out[p * self.vocab + t as usize], 20.0 / 0.8, "z_prev of step 1 at t_max");
                assert!(sc.stats[p].partition >= 1.0);
            }
        }
        out.fill(0.0);
        for (p, &t) in self.script[self.block].iter().enumerate() {
            out[p * self.vocab + t as usize] = 20.0;
        }
        Ok(())
    }
    fn commit(&mut self, tokens: &[u32]) -> Result<(), DenoiseError> {
        self.commits.push(tokens.to_vec());
        self.block += 1;
        Ok(())
    }
}

fn config(eog: Vec<u32>) -> GenerateConfig {
    GenerateConfig { vocab: 16, canvas_length: 4, end_of_generation: eog, pad_id: 0, repetition_cut: false }
}

#[test]
fn blocks_chain_until_the_end_of_generation_token() {
    let script = vec![vec![5, 6, 7, 8], vec![9, 1, 10, 11], vec![12, 12, 12, 12]];
    let mut model = Scripted { script, vocab: 16, block: 0, commits: vec![], self_cond_seen: vec![] };
    let params = SamplerParams { max_new_tokens: 12, max_steps: 1, ..Default::default() };
    let mut blocks = vec![];
    let mut steps = 0;
    let g = generate(&mut model, &params, &config(vec![1]), &mut LlamaRng::new(0), |_| steps += 1, |b| blocks.push(b.tokens.to_vec())).unwrap();
    assert_eq!(g.tokens, vec![5, 6, 7, 8, 9]);
    assert_eq!(g.end, EndReason::EndOfGeneration(1));
    assert_eq!(model.commits, vec![vec![5, 6, 7, 8]], "the block holding the EOG is never committed");
    assert_eq!(blocks, vec![vec![5, 6, 7, 8], vec![9]]);
    assert_eq!((g.decoder_passes, steps), (2, 2));
    // 4 + 2 (EOG included) non-pad tokens over 2 passes.
    assert_eq!(g.tokens_per_forward, 3.0);
}

#[test]
fn adaptive_stop_and_truncation_to_max_new_tokens() {
    let script = vec![vec![5, 6, 7, 8], vec![9, 2, 10, 11]];
    let mut model = Scripted { script, vocab: 16, block: 0, commits: vec![], self_cond_seen: vec![] };
    let params = SamplerParams { max_new_tokens: 6, ..Default::default() };
    let g = generate(&mut model, &params, &config(vec![1]), &mut LlamaRng::new(3), |_| {}, |_| {}).unwrap();
    // Peaked logits are confident; stability 1 needs a second identical argmax: 2 steps a block.
    assert_eq!(g.steps_per_block, vec![2, 2]);
    assert_eq!(model.self_cond_seen, vec![false, true, false, true]);
    assert_eq!(g.canvas_tokens, 8);
    assert_eq!(g.tokens, vec![5, 6, 7, 8, 9, 2]);
    assert_eq!(g.end, EndReason::Length);
    assert_eq!(model.commits.len(), 1, "the last block is not encoded");
}

#[test]
fn invalid_params_fail_before_any_model_work() {
    let mut model = Scripted { script: vec![vec![0; 4]], vocab: 16, block: 0, commits: vec![], self_cond_seen: vec![] };
    let params = SamplerParams { t_min: 0.9, ..Default::default() };
    assert!(generate(&mut model, &params, &config(vec![1]), &mut LlamaRng::new(0), |_| {}, |_| {}).is_err());
    assert!(model.self_cond_seen.is_empty());
}

#[test]
fn repetition_cut_ends_the_answer_only_when_enabled() {
    let looping = vec![vec![5, 9, 9, 9, 9, 9, 9, 4]];
    let params = SamplerParams { max_new_tokens: 16, max_steps: 1, ..Default::default() };
    let cfg = GenerateConfig { vocab: 16, canvas_length: 8, end_of_generation: vec![1], pad_id: 0, repetition_cut: true };
    let mut model = Scripted { script: looping.clone(), vocab: 16, block: 0, commits: vec![], self_cond_seen: vec![] };
    let g = generate(&mut model, &params, &cfg, &mut LlamaRng::new(0), |_| {}, |_| {}).unwrap();
    assert_eq!(g.tokens, vec![5]);
    assert_eq!(g.end, EndReason::RepetitionLoop);
    assert!(model.commits.is_empty());

    let mut script = looping;
    script.push(vec![2; 8]);
    let mut model = Scripted { script, vocab: 16, block: 0, commits: vec![], self_cond_seen: vec![] };
    let cfg = GenerateConfig { repetition_cut: false, ..cfg };
    let g = generate(&mut model, &params, &cfg, &mut LlamaRng::new(0), |_| {}, |_| {}).unwrap();
    assert_eq!(g.tokens.len(), 16, "off by default: both canvases kept");
    assert_eq!(g.end, EndReason::Length);
}
