//! The inputs both models see: encoder chunks of the text, canvases cut from it with a fraction
//! of positions replaced by random tokens, and prompts for the sampler-level comparison.
//! Everything is a pure function of the token ids and the seed, so a base-logits file made
//! today matches a quantized run tomorrow.

use dgemma_sampler::Mt19937;
use serde::Serialize;

/// A canvas cut from the text, behind its prompt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CanvasProbe {
    /// Tokens encoded before the canvas (the chunk's head).
    pub prompt: Vec<u32>,
    /// The text's tokens at the canvas positions.
    pub original: Vec<u32>,
}

/// A canvas with some positions replaced by random tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct NoisedCanvas {
    /// The fraction asked for.
    pub ratio: f64,
    /// Canvas tokens the denoiser sees.
    pub tokens: Vec<u32>,
    /// Positions that were replaced (their reference is `original`).
    pub noised: Vec<bool>,
}

/// Split `tokens` (without BOS) into up to `max_chunks` chunks of `chunk_len` tokens, each
/// prefixed with `bos` when given. A shorter last chunk is kept when it has ≥ 2 tokens.
pub fn encoder_chunks(tokens: &[u32], bos: Option<u32>, chunk_len: usize, max_chunks: usize) -> Vec<Vec<u32>> {
    let body = chunk_len.saturating_sub(bos.is_some() as usize).max(1);
    tokens
        .chunks(body)
        .filter(|c| c.len() >= 2)
        .take(max_chunks)
        .map(|c| bos.into_iter().chain(c.iter().copied()).collect())
        .collect()
}

/// The canvas probe of a chunk: its last `canvas_len` tokens behind the rest as prompt; `None`
/// when the chunk leaves less than one prompt token.
pub fn canvas_probe(chunk: &[u32], canvas_len: usize) -> Option<CanvasProbe> {
    (chunk.len() > canvas_len).then(|| {
        let split = chunk.len() - canvas_len;
        CanvasProbe { prompt: chunk[..split].to_vec(), original: chunk[split..].to_vec() }
    })
}

/// Replace exactly `round(ratio · C)` positions (chosen by a partial Fisher–Yates shuffle) with
/// uniform random tokens of `0..vocab`.
pub fn noise_canvas(original: &[u32], ratio: f64, vocab: u32, rng: &mut Mt19937) -> NoisedCanvas {
    let c = original.len();
    let k = ((ratio.clamp(0.0, 1.0) * c as f64).round() as usize).min(c);
    let mut order: Vec<usize> = (0..c).collect();
    for i in 0..k {
        let j = i + rng.uniform_below((c - i) as u32) as usize;
        order.swap(i, j);
    }
    let mut tokens = original.to_vec();
    let mut noised = vec![false; c];
    for &p in &order[..k] {
        tokens[p] = rng.uniform_below(vocab);
        noised[p] = true;
    }
    NoisedCanvas { ratio, tokens, noised }
}

/// FNV-1a of token ids: identifies the inputs a base-logits file was made from.
pub fn fingerprint(tokens: &[u32]) -> u64 {
    tokens.iter().flat_map(|t| t.to_le_bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_have_bos_and_bounded_length() {
        let t: Vec<u32> = (10..35).collect();
        let c = encoder_chunks(&t, Some(2), 10, 100);
        assert_eq!(c.len(), 3); // 9 + 9 + 7 body tokens
        assert!(c.iter().all(|c| c[0] == 2 && c.len() <= 10));
        assert_eq!(c[2].len(), 8);
        assert_eq!(encoder_chunks(&t, None, 10, 2).len(), 2);
    }

    #[test]
    fn noise_replaces_the_asked_fraction_deterministically() {
        let orig: Vec<u32> = (0..16).collect();
        let a = noise_canvas(&orig, 0.25, 1000, &mut Mt19937::new(7));
        let b = noise_canvas(&orig, 0.25, 1000, &mut Mt19937::new(7));
        assert_eq!(a, b);
        assert_eq!(a.noised.iter().filter(|&&n| n).count(), 4);
        for (i, (&t, &n)) in a.tokens.iter().zip(&a.noised).enumerate() {
            if !n {
                assert_eq!(t, orig[i]);
            }
        }
        assert_eq!(noise_canvas(&orig, 0.9, 1000, &mut Mt19937::new(1)).noised.iter().filter(|&&n| n).count(), 14);
    }

    #[test]
    fn canvas_probe_needs_a_prompt() {
        assert!(canvas_probe(&[1, 2, 3], 3).is_none());
        let p = canvas_probe(&[1, 2, 3, 4], 3).unwrap();
        assert_eq!((p.prompt, p.original), (vec![1], vec![2, 3, 4]));
    }
}
