//! The output tensor list of a conversion: which checkpoint tensor feeds which GGUF tensor, in
//! which order, with which type. Validates the checkpoint against the configuration first
//! (missing, unexpected and mis-shaped tensors are errors naming the tensor).

use std::collections::HashMap;

use dgemma_quant::GgmlType;

use crate::config::ModelParams;
use crate::error::{ConvertError, Result};
use crate::mixture::{converter_type, Mixture};
use crate::names::{expected_tensors, map_hf_name, sort_llama_quantize, Mapping, TensorShape};
use crate::source::Checkpoint;
use crate::target::OutType;

/// Where a GGUF tensor's values come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Feed {
    /// Checkpoint tensor `Checkpoint::tensors[i]` (first `ne[1]` rows if the vocabulary is trimmed).
    Checkpoint(usize),
    /// Generated values (rope_freqs).
    Values(Vec<f32>),
}

/// One output tensor.
#[derive(Clone, Debug)]
pub struct PlannedTensor {
    pub name: String,
    pub ne: Vec<u64>,
    pub ty: GgmlType,
    pub feed: Feed,
}

/// The whole plan plus what was dropped (for the user-facing note).
#[derive(Clone, Debug)]
pub struct Plan {
    pub tensors: Vec<PlannedTensor>,
    /// Every tensor of the file with its shape (for size_label / estimates).
    pub shapes: Vec<TensorShape>,
    pub dropped_tower: usize,
    pub dropped_tied: usize,
}

/// Types for every tensor of a file of type `out`, given in file order. Converter types follow
/// llama.cpp's converter; the others are what llama-quantize makes of the converter's BF16 file.
/// This one function decides for `convert`, and `--estimate`.
pub fn file_types(out: OutType, shapes: &[TensorShape], p: &ModelParams) -> Vec<GgmlType> {
    if out.is_converter_type() {
        return shapes.iter().map(|t| converter_type(&t.name, &t.ne, out)).collect();
    }
    let mut mix = Mixture::new(out, shapes.iter().map(|t| t.name.as_str()), p.n_layer, p.n_expert);
    shapes.iter().map(|t| mix.pick(&t.name, &t.ne, converter_type(&t.name, &t.ne, OutType::BF16))).collect()
}

/// rope_freqs: per-pair divisors for the full layers' "proportional" rope: 1 for the rotated
/// pairs, 1e30 (no rotation) for the rest (../shared/spec/gguf.md §2.8).
pub fn rope_freqs(p: &ModelParams) -> Vec<f32> {
    let n = p.head_dim_full / 2;
    let rot = p.rope_full_rotated_pairs().min(n);
    (0..n).map(|i| if i < rot { 1.0 } else { 1e30 }).collect()
}

/// Builds the plan: `n_vocab` = token count of the tokenizer (embedding rows beyond it are
/// trimmed, as the reference converter does).
pub fn plan(p: &ModelParams, ckpt: &Checkpoint, n_vocab: usize, out: OutType) -> Result<Plan> {
    let expected = expected_tensors(p, n_vocab);
    let by_name: HashMap<&str, &TensorShape> = expected.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut tensors = vec![PlannedTensor {
        name: dgemma_gguf::arch::GlobalTensor::RopeFreqs.name().to_string(),
        ne: vec![(p.head_dim_full / 2) as u64],
        ty: GgmlType::F32,
        feed: Feed::Values(rope_freqs(p)),
    }];
    let (mut dropped_tower, mut dropped_tied) = (0, 0);
    let mut seen = std::collections::HashSet::new();
    for (i, src) in ckpt.tensors.iter().enumerate() {
        let name = match map_hf_name(&src.name) {
            Mapping::Tensor(n) => n,
            Mapping::SkipTower => {
                dropped_tower += 1;
                continue;
            }
            Mapping::SkipTied => {
                dropped_tied += 1;
                continue;
            }
            Mapping::Unknown => return Err(ConvertError::UnknownTensor(src.name.clone())),
        };
        if !seen.insert(name.clone()) {
            return Err(ConvertError::DuplicateTensor(name));
        }
        let want = by_name.get(name.as_str()).ok_or_else(|| ConvertError::UnknownTensor(src.name.clone()))?;
        let mut hf_ne: Vec<u64> = src.shape.iter().rev().copied().collect();
        let is_embd = name == dgemma_gguf::arch::GlobalTensor::TokenEmbd.name();
        if is_embd && hf_ne.len() == 2 && hf_ne[1] >= want.ne[1] {
            hf_ne[1] = want.ne[1]; // vocabulary trimmed to the tokenizer's size
        }
        if hf_ne != want.ne {
            return Err(ConvertError::ShapeMismatch { name: src.name.clone(), found: src.shape.clone(), expected: want.ne.iter().rev().copied().collect() });
        }
        if let Some(d) = &src.unsupported_dtype {
            return Err(ConvertError::UnsupportedDtype { name: src.name.clone(), dtype: d.clone() });
        }
        tensors.push(PlannedTensor { name, ne: want.ne.clone(), ty: GgmlType::F32, feed: Feed::Checkpoint(i) });
    }
    let have: HashMap<&str, ()> = tensors.iter().map(|t| (t.name.as_str(), ())).collect();
    if let Some(missing) = expected.iter().find(|t| !have.contains_key(t.name.as_str())) {
        return Err(ConvertError::MissingTensor(missing.name.clone()));
    }
    if !out.is_converter_type() {
        sort_llama_quantize(&mut tensors, |t| &t.name);
    }
    let shapes: Vec<TensorShape> = tensors.iter().map(|t| TensorShape { name: t.name.clone(), ne: t.ne.clone() }).collect();
    for (t, ty) in tensors.iter_mut().zip(file_types(out, &shapes, p)) {
        t.ty = ty;
    }
    Ok(Plan { tensors, shapes, dropped_tower, dropped_tied })
}
