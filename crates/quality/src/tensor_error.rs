//! Per-tensor quantization error (RMSE, SNR) against the source weights, grouped by role.

use dgemma_gguf::arch::{GlobalTensor, LayerTensor};
use dgemma_gguf::GgufFile;
use dgemma_quant::{can_dequantize, dequantize, GgmlType};
use serde::Serialize;

use crate::error::{QualityError, Result};

/// What a tensor does in the model (the groups of the report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Role {
    /// Token embedding (also the tied LM head).
    Embeddings,
    /// Q/K/V/O projections.
    Attention,
    /// The dense (shared) MLP of each layer.
    DenseMlp,
    /// MoE expert weights.
    Experts,
    /// MoE router projection.
    Router,
    /// The self-conditioning MLP.
    SelfConditioning,
    /// RMS-norm weights, per-layer and per-expert scales, rope factors.
    NormsAndScales,
    /// A name this architecture does not define.
    Other,
}

impl Role {
    /// Display name.
    pub fn label(self) -> &'static str {
        match self {
            Role::Embeddings => "embeddings",
            Role::Attention => "attention",
            Role::DenseMlp => "dense MLP",
            Role::Experts => "experts",
            Role::Router => "router",
            Role::SelfConditioning => "self-conditioning",
            Role::NormsAndScales => "norms/scales",
            Role::Other => "other",
        }
    }
}

/// The role of a GGUF tensor name of the `diffusion-gemma` architecture.
pub fn role_of(name: &str) -> Role {
    if let Some(g) = GlobalTensor::ALL.iter().find(|g| g.name() == name) {
        return match g {
            GlobalTensor::TokenEmbd => Role::Embeddings,
            GlobalTensor::SelfCondGate | GlobalTensor::SelfCondUp | GlobalTensor::SelfCondDown => Role::SelfConditioning,
            GlobalTensor::SelfCondPreNorm | GlobalTensor::OutputNorm | GlobalTensor::RopeFreqs => Role::NormsAndScales,
        };
    }
    // `blk.N.<suffix>`
    let suffix = name.strip_prefix("blk.").and_then(|r| r.split_once('.')).map(|(_, s)| s);
    let Some(t) = suffix.and_then(|s| LayerTensor::ALL.iter().find(|t| t.suffix() == s)) else {
        return Role::Other;
    };
    use LayerTensor as L;
    match t {
        L::AttnQ | L::AttnK | L::AttnV | L::AttnOutput => Role::Attention,
        L::FfnGate | L::FfnUp | L::FfnDown => Role::DenseMlp,
        L::FfnGateUpExps | L::FfnDownExps => Role::Experts,
        L::FfnGateInp => Role::Router,
        _ => Role::NormsAndScales,
    }
}

/// Error of one tensor.
#[derive(Clone, Debug, Serialize)]
pub struct TensorError {
    pub name: String,
    /// Type in the quantized file.
    pub ggml_type: String,
    /// Type in the source.
    pub source_type: String,
    pub role: Role,
    pub elements: u64,
    /// `sqrt(mean((q − s)²))`.
    pub rmse: f64,
    /// `sqrt(mean(s²))`: the scale RMSE is relative to.
    pub source_rms: f64,
    /// `10·log10(Σs² / Σ(q − s)²)`; `None` when the tensor is reproduced exactly.
    pub snr_db: Option<f64>,
    /// Sums behind the above (for group totals).
    #[serde(skip)]
    sum_sq_err: f64,
    #[serde(skip)]
    sum_sq_src: f64,
}

/// Error of `quant` against `source` (same length).
pub fn tensor_error(name: &str, ggml_type: &str, source_type: &str, source: &[f32], quant: &[f32]) -> Result<TensorError> {
    if source.len() != quant.len() {
        return Err(QualityError::Shape { what: "dequantized tensor", got: quant.len(), expected: source.len() });
    }
    let (mut se, mut ss) = (0.0f64, 0.0f64);
    for (&s, &q) in source.iter().zip(quant) {
        let d = q as f64 - s as f64;
        se += d * d;
        ss += s as f64 * s as f64;
    }
    let n = source.len().max(1) as f64;
    Ok(TensorError {
        name: name.to_string(),
        ggml_type: ggml_type.to_string(),
        source_type: source_type.to_string(),
        role: role_of(name),
        elements: source.len() as u64,
        rmse: (se / n).sqrt(),
        source_rms: (ss / n).sqrt(),
        snr_db: (se > 0.0).then(|| 10.0 * (ss / se).log10()),
        sum_sq_err: se,
        sum_sq_src: ss,
    })
}

/// Totals of a set of tensors (a role, or a type).
#[derive(Clone, Debug, Serialize)]
pub struct GroupSummary {
    /// Role label or type name.
    pub group: String,
    pub tensors: usize,
    pub elements: u64,
    /// RMSE over all elements of the group.
    pub rmse: f64,
    /// SNR of the group as a whole (`Σs² / Σerr²` over all its elements), dB.
    pub snr_db: Option<f64>,
    /// The lowest per-tensor SNR and its tensor.
    pub min_snr_db: Option<f64>,
    pub worst: Option<String>,
}

/// Summaries of `errors` grouped by `key` (in order of first appearance after sorting keys).
pub fn summarize_by<K: Ord + Clone>(errors: &[TensorError], key: impl Fn(&TensorError) -> K, label: impl Fn(&K) -> String) -> Vec<GroupSummary> {
    let mut keys: Vec<K> = errors.iter().map(&key).collect();
    keys.sort();
    keys.dedup();
    keys.iter()
        .map(|k| {
            let members: Vec<&TensorError> = errors.iter().filter(|e| key(e) == *k).collect();
            let (se, ss, n) = members.iter().fold((0.0, 0.0, 0u64), |(a, b, c), e| (a + e.sum_sq_err, b + e.sum_sq_src, c + e.elements));
            let worst = members.iter().filter(|e| e.snr_db.is_some()).min_by(|a, b| a.snr_db.unwrap_or(f64::INFINITY).total_cmp(&b.snr_db.unwrap_or(f64::INFINITY)));
            GroupSummary {
                group: label(k),
                tensors: members.len(),
                elements: n,
                rmse: (se / n.max(1) as f64).sqrt(),
                snr_db: (se > 0.0).then(|| 10.0 * (ss / se).log10()),
                min_snr_db: worst.and_then(|e| e.snr_db),
                worst: worst.map(|e| e.name.clone()),
            }
        })
        .collect()
}

/// A tensor's data as F32.
fn dequantized(file: &GgufFile, name: &str) -> Result<(Vec<f32>, GgmlType)> {
    let view = file.tensor(name).ok_or_else(|| QualityError::Tensor { name: name.into(), reason: "missing".into() })?;
    let ty = view.info.ggml_type;
    if !can_dequantize(ty) {
        return Err(QualityError::Tensor { name: name.into(), reason: format!("type {} cannot be dequantized", ty.name()) });
    }
    let mut out = vec![0f32; view.info.n_elements() as usize];
    dequantize(ty, view.data, &mut out).map_err(|e| QualityError::Tensor { name: name.into(), reason: e.to_string() })?;
    Ok((out, ty))
}

/// Error of every tensor of `model` whose type differs from its counterpart in `source` (same
/// name, same shape), in file order. `on_tensor` is told each tensor as it is done.
pub fn compare_files(model: &GgufFile, source: &GgufFile, mut on_tensor: impl FnMut(&TensorError)) -> Result<Vec<TensorError>> {
    let mut out = Vec::new();
    for info in model.tensors() {
        let src = source.tensor_info(&info.name).ok_or_else(|| QualityError::Tensor { name: info.name.clone(), reason: "not in the source".into() })?;
        if src.dims != info.dims {
            return Err(QualityError::Tensor { name: info.name.clone(), reason: format!("shape {:?} in the model, {:?} in the source", info.dims, src.dims) });
        }
        if src.ggml_type == info.ggml_type {
            continue; // stored as in the source: nothing was quantized
        }
        let (q, qt) = dequantized(model, &info.name)?;
        let (s, st) = dequantized(source, &info.name)?;
        let e = tensor_error(&info.name, qt.name(), st.name(), &s, &q)?;
        on_tensor(&e);
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_arch_table() {
        assert_eq!(role_of(GlobalTensor::TokenEmbd.name()), Role::Embeddings);
        assert_eq!(role_of(GlobalTensor::SelfCondUp.name()), Role::SelfConditioning);
        assert_eq!(role_of(&LayerTensor::AttnV.name(3)), Role::Attention);
        assert_eq!(role_of(&LayerTensor::FfnDown.name(0)), Role::DenseMlp);
        assert_eq!(role_of(&LayerTensor::FfnGateUpExps.name(11)), Role::Experts);
        assert_eq!(role_of(&LayerTensor::FfnGateInp.name(1)), Role::Router);
        assert_eq!(role_of(&LayerTensor::AttnNorm.name(1)), Role::NormsAndScales);
        assert_eq!(role_of("blk.x"), Role::Other);
        assert_eq!(role_of("something.else"), Role::Other);
    }

    #[test]
    fn rmse_and_snr_of_known_error() {
        let s = [1.0f32, -1.0, 1.0, -1.0];
        let q = [1.1f32, -0.9, 0.9, -1.1];
        let e = tensor_error("x", "Q8_0", "F32", &s, &q).unwrap();
        assert!((e.rmse - 0.1).abs() < 1e-6);
        assert!((e.snr_db.unwrap() - 20.0).abs() < 1e-4);
        assert!(tensor_error("x", "Q8_0", "F32", &s, &s).unwrap().snr_db.is_none());
        let g = summarize_by(&[e.clone(), e], |e| e.role, |r| r.label().to_string());
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].tensors, 2);
        assert!((g[0].snr_db.unwrap() - 20.0).abs() < 1e-4);
    }
}
