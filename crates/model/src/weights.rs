//! The weights: one field per tensor role, each loaded by its GGUF name (crates/gguf arch.rs),
//! shape-checked against the config and handed to the backend.

use dgemma_backend::{Backend, WeightShape, WeightSource};
use dgemma_gguf::arch::{GlobalTensor, LayerTensor};
use dgemma_gguf::GgufFile;
use dgemma_quant::GgmlType;

use crate::config::{Config, LayerSpec};
use crate::error::{ModelError, Result};

/// One transformer layer (shared by encoder and decoder; only the output scalar differs).
pub struct LayerWeights<'a, B: Backend + 'a> {
    pub attn_norm: B::Buffer,
    pub attn_q: B::Weight<'a>,
    pub attn_k: B::Weight<'a>,
    /// Sliding layers only; full layers take V from the raw K projection.
    pub attn_v: Option<B::Weight<'a>>,
    pub attn_output: B::Weight<'a>,
    pub attn_q_norm: B::Buffer,
    pub attn_k_norm: B::Buffer,
    pub post_attention_norm: B::Buffer,
    pub ffn_norm: B::Buffer,
    pub ffn_gate: B::Weight<'a>,
    pub ffn_up: B::Weight<'a>,
    pub ffn_down: B::Weight<'a>,
    pub post_ffw_norm_1: B::Buffer,
    pub pre_ffw_norm_2: B::Buffer,
    /// Router projection `[E, H]`.
    pub router: B::Weight<'a>,
    /// Router input scale with `H^(-1/2)` folded in, used as the weight of a weightless-norm
    /// (`RMSNorm_no_scale(h) ⊙ s · H^(-1/2)` is one RMSNorm with weight `s · H^(-1/2)`).
    pub router_scale: B::Buffer,
    /// Fused experts `[E, 2I, H]`, gate rows first.
    pub gate_up_exps: B::Weight<'a>,
    /// Experts' down projections `[E, H, I]`.
    pub down_exps: B::Weight<'a>,
    /// Per-expert output multiplier, applied with the routing weight (host: routing is host-side).
    pub expert_scale: Vec<f32>,
    pub post_ffw_norm_2: B::Buffer,
    pub post_ffw_norm: B::Buffer,
    /// Multiplier of the whole residual stream on decoder (canvas) rows.
    pub decoder_scalar: f32,
    /// Multiplier of the whole residual stream on encoder (prompt) rows.
    pub encoder_scalar: f32,
}

/// All weights of a DiffusionGemma model.
pub struct Weights<'a, B: Backend + 'a> {
    /// `[V, H]`: input embedding, tied LM head, and soft-embedding matrix.
    pub token_embd: B::Weight<'a>,
    pub output_norm: B::Buffer,
    /// Per-pair RoPE frequencies of sliding layers, `[head_dim_swa / 2]`.
    pub rope_sliding: B::Buffer,
    /// Per-pair RoPE frequencies of full layers (proportional: `θ^(-2i/d) / rope_freqs[i]`).
    pub rope_full: B::Buffer,
    pub self_cond_pre_norm: B::Buffer,
    pub self_cond_gate: B::Weight<'a>,
    pub self_cond_up: B::Weight<'a>,
    pub self_cond_down: B::Weight<'a>,
    pub layers: Vec<LayerWeights<'a, B>>,
}

/// Tensor lookups with shape and type checks.
struct Loader<'a, 'b, B: Backend> {
    file: &'a GgufFile,
    backend: &'b B,
}

impl<'a, B: Backend> Loader<'a, '_, B> {
    fn view(&self, name: &str) -> Result<dgemma_gguf::TensorView<'a>> {
        self.file.tensor(name).ok_or_else(|| ModelError::MissingTensor { name: name.to_string() })
    }

    fn check_dims(name: &str, found: &[u64], expected: &[usize]) -> Result<()> {
        let exp: Vec<u64> = expected.iter().map(|&d| d as u64).collect();
        if found != exp.as_slice() {
            return Err(ModelError::BadShape { name: name.to_string(), found: found.to_vec(), expected: exp });
        }
        Ok(())
    }

    /// A small f32 vector (norm weights, scales), decoded on the host.
    fn host_vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let t = self.view(name)?;
        Self::check_dims(name, &t.info.dims, &[len])?;
        let data = t.data;
        let out: Vec<f32> = match t.info.ggml_type {
            GgmlType::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            GgmlType::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            GgmlType::BF16 => data.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            ty => return Err(ModelError::UnsupportedType { name: name.to_string(), ty, reason: "vectors must be F32, F16 or BF16" }),
        };
        if out.len() != len {
            return Err(ModelError::BadShape { name: name.to_string(), found: vec![out.len() as u64], expected: vec![len as u64] });
        }
        Ok(out)
    }

    fn vector(&self, name: &str, len: usize) -> Result<B::Buffer> {
        let v = self.host_vector(name, len)?;
        Ok(self.upload(&v))
    }

    fn upload(&self, v: &[f32]) -> B::Buffer {
        let mut buf = self.backend.alloc(v.len());
        self.backend.write(&mut buf, 0, v);
        buf
    }

    fn scalar(&self, name: &str) -> Result<f32> {
        Ok(self.host_vector(name, 1)?[0])
    }

    /// A linear weight `[experts, rows, cols]` (GGUF ne `[cols, rows(, experts)]`).
    fn matrix(&self, name: &str, rows: usize, cols: usize, experts: Option<usize>) -> Result<B::Weight<'a>> {
        let t = self.view(name)?;
        match experts {
            None => Self::check_dims(name, &t.info.dims, &[cols, rows])?,
            Some(e) => Self::check_dims(name, &t.info.dims, &[cols, rows, e])?,
        }
        let ty = t.info.ggml_type;
        if !self.backend.supports(ty) {
            return Err(ModelError::UnsupportedType { name: name.to_string(), ty, reason: "no kernel for this type in the selected backend" });
        }
        let shape = WeightShape { rows, cols, experts: experts.unwrap_or(1) };
        Ok(self.backend.upload_weight(WeightSource { name: &t.info.name, ty, shape, data: t.data })?)
    }
}

/// `θ^(-2i/d)` for the `d/2` pairs, computed in f64 and rounded once to f32.
fn rope_base(theta: f32, d: usize) -> Vec<f32> {
    (0..d / 2).map(|i| (theta as f64).powf(-2.0 * i as f64 / d as f64) as f32).collect()
}

impl<'a, B: Backend + 'a> Weights<'a, B> {
    /// Load every tensor of the model; the error names the first missing or malformed one.
    pub fn load(file: &'a GgufFile, cfg: &Config, backend: &B) -> Result<Self> {
        let ld = Loader { file, backend };
        let (h, v) = (cfg.hidden, cfg.vocab);
        let sliding = cfg.layers.iter().find(|l| l.sliding);
        let full = cfg.layers.iter().find(|l| !l.sliding);
        let rope_sliding = sliding.map(|l| rope_base(l.rope_theta, l.head_dim)).unwrap_or_default();
        let rope_full = match full {
            Some(l) => {
                let divisors = ld.host_vector(GlobalTensor::RopeFreqs.name(), l.head_dim / 2)?;
                rope_base(l.rope_theta, l.head_dim).iter().zip(&divisors).map(|(f, d)| f / d).collect()
            }
            None => Vec::new(),
        };
        let mut layers = Vec::with_capacity(cfg.n_layers());
        for (i, spec) in cfg.layers.iter().enumerate() {
            layers.push(load_layer(&ld, cfg, i, spec)?);
        }
        Ok(Weights {
            token_embd: ld.matrix(GlobalTensor::TokenEmbd.name(), v, h, None)?,
            output_norm: ld.vector(GlobalTensor::OutputNorm.name(), h)?,
            rope_sliding: ld.upload(&rope_sliding),
            rope_full: ld.upload(&rope_full),
            self_cond_pre_norm: ld.vector(GlobalTensor::SelfCondPreNorm.name(), h)?,
            self_cond_gate: ld.matrix(GlobalTensor::SelfCondGate.name(), cfg.ffn, h, None)?,
            self_cond_up: ld.matrix(GlobalTensor::SelfCondUp.name(), cfg.ffn, h, None)?,
            self_cond_down: ld.matrix(GlobalTensor::SelfCondDown.name(), h, cfg.ffn, None)?,
            layers,
        })
    }
}

fn load_layer<'a, B: Backend + 'a>(ld: &Loader<'a, '_, B>, cfg: &Config, i: usize, spec: &LayerSpec) -> Result<LayerWeights<'a, B>> {
    use LayerTensor as T;
    let n = |t: T| t.name(i);
    let (h, d, e, ie) = (cfg.hidden, spec.head_dim, cfg.experts, cfg.expert_ffn);
    let q_w = cfg.heads * d;
    let kv_w = spec.kv_heads * d;
    let attn_v = if spec.sliding {
        Some(ld.matrix(&n(T::AttnV), kv_w, h, None)?)
    } else {
        if ld.file.tensor(&n(T::AttnV)).is_some() {
            return Err(ModelError::UnexpectedTensor { name: n(T::AttnV), reason: "full-attention layers take V from the K projection" });
        }
        None
    };
    let inv_sqrt_h = (h as f32).powf(-0.5);
    let router_scale: Vec<f32> = ld.host_vector(&n(T::FfnGateInpScale), h)?.iter().map(|s| s * inv_sqrt_h).collect();
    Ok(LayerWeights {
        attn_norm: ld.vector(&n(T::AttnNorm), h)?,
        attn_q: ld.matrix(&n(T::AttnQ), q_w, h, None)?,
        attn_k: ld.matrix(&n(T::AttnK), kv_w, h, None)?,
        attn_v,
        attn_output: ld.matrix(&n(T::AttnOutput), h, q_w, None)?,
        attn_q_norm: ld.vector(&n(T::AttnQNorm), d)?,
        attn_k_norm: ld.vector(&n(T::AttnKNorm), d)?,
        post_attention_norm: ld.vector(&n(T::PostAttentionNorm), h)?,
        ffn_norm: ld.vector(&n(T::FfnNorm), h)?,
        ffn_gate: ld.matrix(&n(T::FfnGate), cfg.ffn, h, None)?,
        ffn_up: ld.matrix(&n(T::FfnUp), cfg.ffn, h, None)?,
        ffn_down: ld.matrix(&n(T::FfnDown), h, cfg.ffn, None)?,
        post_ffw_norm_1: ld.vector(&n(T::PostFfwNorm1), h)?,
        pre_ffw_norm_2: ld.vector(&n(T::PreFfwNorm2), h)?,
        router: ld.matrix(&n(T::FfnGateInp), e, h, None)?,
        router_scale: ld.upload(&router_scale),
        gate_up_exps: ld.matrix(&n(T::FfnGateUpExps), 2 * ie, h, Some(e))?,
        down_exps: ld.matrix(&n(T::FfnDownExps), h, ie, Some(e))?,
        expert_scale: ld.host_vector(&n(T::FfnDownExpsScale), e)?,
        post_ffw_norm_2: ld.vector(&n(T::PostFfwNorm2), h)?,
        post_ffw_norm: ld.vector(&n(T::PostFfwNorm), h)?,
        decoder_scalar: ld.scalar(&n(T::LayerOutputScale))?,
        encoder_scalar: ld.scalar(&n(T::EncLayerOutputScale))?,
    })
}
