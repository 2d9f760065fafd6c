//! Properties of the acceptance rule and the step function (../shared/spec/sampler.md §3, §4).

use dgemma_sampler::{
    accept_by_entropy, step, SampleDraws, StabilityHistory, StepBuffers, StepInput,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn accepted_set_is_a_prefix_of_the_entropy_order_and_never_empty(
        entropy in prop::collection::vec(0.0f32..3.0, 1..64),
        bound in 0.001f64..2.0,
    ) {
        let n = entropy.len();
        let mut order = vec![0u32; n];
        let mut accept = vec![false; n];
        let accepted = accept_by_entropy(&entropy, bound, &mut order, &mut accept);
        prop_assert_eq!(accepted, accept.iter().filter(|&&a| a).count());
        prop_assert!(accepted >= 1);
        // The lowest-entropy position (first on ties) is always accepted.
        let lowest = (0..n).min_by(|&a, &b| entropy[a].total_cmp(&entropy[b]).then(a.cmp(&b))).unwrap();
        prop_assert!(accept[lowest]);
        // Prefix: every accepted position sorts before every rejected one.
        for a in 0..n {
            for r in 0..n {
                if accept[a] && !accept[r] {
                    prop_assert!((entropy[a], a) < (entropy[r], r));
                }
            }
        }
        // The rule itself, naively: entropies strictly before in (H, position) order sum to <= B.
        for p in 0..n {
            let before: f64 = (0..n).filter(|&q| (entropy[q], q) < (entropy[p], p)).map(|q| entropy[q] as f64).sum();
            if (before - bound).abs() > 1e-5 {
                prop_assert_eq!(accept[p], before <= bound, "position {} before-sum {}", p, before);
            }
        }
    }
}

#[test]
fn ties_are_broken_by_position() {
    // Three equal entropies of 0.06 with B = 0.1: ranks 0 and 1 are accepted (0, 0.06 <= 0.1),
    // rank 2 is not (0.12): the two lowest positions win.
    let entropy = [0.06f32, 0.06, 0.06];
    let mut order = [0u32; 3];
    let mut accept = [false; 3];
    assert_eq!(accept_by_entropy(&entropy, 0.1, &mut order, &mut accept), 2);
    assert_eq!(accept, [true, true, false]);
}

/// A row whose softmax puts `p` on `token` and spreads the rest evenly over the other tokens.
fn peaked_row(vocab: usize, token: usize, sharpness: f32) -> Vec<f32> {
    let mut row = vec![0.0f32; vocab];
    row[token] = sharpness;
    row
}

#[test]
fn step_takes_samples_where_accepted_and_noise_elsewhere() {
    let vocab = 8;
    let sharp = [30.0f32, 1.0, 29.0, 0.5];
    let z: Vec<f32> = sharp.iter().enumerate().flat_map(|(p, &s)| peaked_row(vocab, p + 2, s)).collect();
    let canvas = [1u32, 1, 1, 1];
    let noise = [7u32, 7, 7, 7];
    let uniforms = [0.5f32, 0.5, 0.5, 0.5];
    let mut bufs = StepBuffers::new(4);
    let mut history = StabilityHistory::new(1, 4);
    let input = StepInput {
        z: &z,
        vocab,
        canvas: &canvas,
        draws: SampleDraws::Uniform(&uniforms),
        noise: &noise,
        entropy_bound: 0.1,
        confidence_threshold: 0.005,
    };
    let out = step(&input, &mut history, &mut bufs).unwrap();
    assert_eq!(bufs.argmax, vec![2, 3, 4, 5]);
    // Positions 0 and 2 are nearly deterministic (tiny entropy), 1 and 3 are spread out:
    // position 1 (third lowest) only has ~0 entropy before it and is accepted, position 3 has
    // position 1's entropy (> B) before it and is not.
    assert_eq!(bufs.accept, vec![true, true, true, false]);
    assert_eq!(out.accepted, 3);
    // Position 1's weights are 1,1,1,e,1,1,1,1: r = 0.5 reaches half of Z = 7 + e at token 3.
    assert_eq!(bufs.next_canvas, vec![2, 3, 4, 7]);
    assert!(!out.stable && !out.stop, "first step is never stable");
    assert!(out.mean_entropy > 0.005);

    // Same logits again with pre-sampled tokens: stable now, but not confident.
    let tokens = [2u32, 0, 4, 6];
    let input = StepInput { draws: SampleDraws::Tokens(&tokens), ..input };
    let out = step(&input, &mut history, &mut bufs).unwrap();
    assert!(out.stable && !out.stop);
    assert_eq!(bufs.next_canvas, vec![2, 0, 4, 7]);

    // Confident, stable rows stop the block.
    let z: Vec<f32> = (0..4).flat_map(|p| peaked_row(vocab, p + 2, 40.0)).collect();
    let input = StepInput { z: &z, ..input };
    let out = step(&input, &mut history, &mut bufs).unwrap();
    assert!(out.stable && out.stop);
    assert_eq!(out.accepted, 4);
}

#[test]
fn step_rejects_bad_shapes_and_tokens() {
    let mut bufs = StepBuffers::new(2);
    let mut history = StabilityHistory::new(1, 2);
    let z = vec![0.0f32; 6];
    let ok = StepInput {
        z: &z,
        vocab: 3,
        canvas: &[0, 0],
        draws: SampleDraws::Tokens(&[0, 1]),
        noise: &[2, 2],
        entropy_bound: 0.1,
        confidence_threshold: 0.005,
    };
    step(&ok, &mut history, &mut bufs).unwrap();
    assert!(step(&StepInput { z: &z[..5], ..ok }, &mut history, &mut bufs).is_err());
    assert!(step(&StepInput { noise: &[3, 0], ..ok }, &mut history, &mut bufs).is_err());
    assert!(step(&StepInput { draws: SampleDraws::Tokens(&[0]), ..ok }, &mut history, &mut bufs).is_err());
    let nan = vec![f32::NAN; 6];
    assert!(step(&StepInput { z: &nan, ..ok }, &mut history, &mut bufs).is_err());
}
