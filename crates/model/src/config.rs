//! Hyper-parameters, every one read from GGUF metadata (gguf.md 2.3); nothing is tied to one
//! model size.

use dgemma_gguf::arch::{arch_key, keys, GlobalTensor, ARCH};
use dgemma_gguf::GgufFile;

use crate::error::{ModelError, Result};
use crate::meta::Meta;

/// `final_logit_softcapping` of the reference config class when config.json omits it.
pub const REFERENCE_SOFTCAP: f32 = 30.0;

/// Attention shape and RoPE of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    /// Sliding-window layer (else full attention).
    pub sliding: bool,
    /// K/V heads.
    pub kv_heads: usize,
    /// Head width (Q, K and V).
    pub head_dim: usize,
    /// RoPE base θ.
    pub rope_theta: f32,
}

/// The model's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Vocabulary size (rows of `token_embd`).
    pub vocab: usize,
    /// Residual width `H`.
    pub hidden: usize,
    /// Dense MLP (and self-conditioning MLP) width.
    pub ffn: usize,
    /// Query heads.
    pub heads: usize,
    /// Per-layer attention shapes.
    pub layers: Vec<LayerSpec>,
    /// Sliding window `W`.
    pub window: usize,
    /// RMSNorm ε.
    pub eps: f32,
    /// Experts per layer.
    pub experts: usize,
    /// Experts used per token.
    pub top_k: usize,
    /// Expert MLP width `I`.
    pub expert_ffn: usize,
    /// Final logit softcap (`None` when 0 / absent).
    pub softcap: Option<f32>,
    /// Trained context length.
    pub context_length: usize,
    /// Canvas length `C`.
    pub canvas: usize,
}

impl Config {
    /// Read the configuration of a `diffusion-gemma` GGUF.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let m = Meta(file);
        let arch = m.str(keys::GENERAL_ARCHITECTURE)?;
        if arch != ARCH {
            return Err(ModelError::WrongArch { found: arch.to_string() });
        }
        let a = |k: &str| arch_key(k);
        let n_layers = m.usize(&a(keys::BLOCK_COUNT))?;
        let heads = m.usize(&a(keys::HEAD_COUNT))?;
        let pattern = m.bools(&a(keys::SLIDING_WINDOW_PATTERN), n_layers)?;
        let kv = m.per_layer(&a(keys::HEAD_COUNT_KV), n_layers)?;
        let hd_full = m.usize(&a(keys::KEY_LENGTH))?;
        let hd_swa = m.usize(&a(keys::KEY_LENGTH_SWA))?;
        m.require_eq(&a(keys::VALUE_LENGTH), hd_full)?;
        m.require_eq(&a(keys::VALUE_LENGTH_SWA), hd_swa)?;
        // Partial rotation is expressed through rope_freqs, never through a shorter n_rot.
        if let Some(n) = m.opt_usize(&a(keys::ROPE_DIMENSION_COUNT))? {
            m.check(&a(keys::ROPE_DIMENSION_COUNT), n == hd_full, || format!("{n} != key_length {hd_full} (unsupported)"))?;
        }
        if let Some(n) = m.opt_usize(&a(keys::ROPE_DIMENSION_COUNT_SWA))? {
            m.check(&a(keys::ROPE_DIMENSION_COUNT_SWA), n == hd_swa, || format!("{n} != key_length_swa {hd_swa} (unsupported)"))?;
        }
        let theta = m.opt_f32(&a(keys::ROPE_FREQ_BASE))?.unwrap_or(10_000.0);
        let theta_swa = m.opt_f32(&a(keys::ROPE_FREQ_BASE_SWA))?.unwrap_or(theta);
        let layers: Vec<LayerSpec> = (0..n_layers)
            .map(|i| LayerSpec {
                sliding: pattern[i],
                kv_heads: kv[i],
                head_dim: if pattern[i] { hd_swa } else { hd_full },
                rope_theta: if pattern[i] { theta_swa } else { theta },
            })
            .collect();
        for (i, l) in layers.iter().enumerate() {
            m.check(&a(keys::HEAD_COUNT_KV), l.kv_heads > 0 && heads % l.kv_heads == 0, || {
                format!("layer {i}: {} kv heads do not divide {heads} heads", l.kv_heads)
            })?;
            m.check(&a(keys::KEY_LENGTH), l.head_dim > 0 && l.head_dim % 2 == 0, || format!("layer {i}: head width {} must be even", l.head_dim))?;
        }
        let experts = m.usize(&a(keys::EXPERT_COUNT))?;
        let top_k = m.usize(&a(keys::EXPERT_USED_COUNT))?;
        m.check(&a(keys::EXPERT_USED_COUNT), top_k >= 1 && top_k <= experts, || format!("{top_k} not in 1..={experts}"))?;
        // Absent: the reference's default (DiffusionGemma text config, 30.0), not llama.cpp's
        // "no capping" — converters skip the key when config.json relies on the default, and
        // dropping the cap changes every logit (docs/architecture.md). An explicit 0 disables it.
        let softcap = match m.opt_f32(&a(keys::FINAL_LOGIT_SOFTCAPPING))? {
            None => Some(REFERENCE_SOFTCAP),
            Some(c) if c == 0.0 => None,
            Some(c) if c > 0.0 => Some(c),
            Some(c) => return Err(ModelError::BadKey { key: a(keys::FINAL_LOGIT_SOFTCAPPING), reason: format!("{c} must be >= 0") }),
        };
        let embd = file
            .tensor(GlobalTensor::TokenEmbd.name())
            .ok_or_else(|| ModelError::MissingTensor { name: GlobalTensor::TokenEmbd.name().to_string() })?;
        let dims = &embd.info.dims;
        let vocab = dims.get(1).copied().unwrap_or(0) as usize;
        let cfg = Config {
            vocab,
            hidden: m.usize(&a(keys::EMBEDDING_LENGTH))?,
            ffn: m.usize(&a(keys::FEED_FORWARD_LENGTH))?,
            heads,
            layers,
            window: m.usize(&a(keys::SLIDING_WINDOW))?,
            eps: m.f32(&a(keys::RMS_EPS))?,
            experts,
            top_k,
            expert_ffn: m.usize(&a(keys::EXPERT_FEED_FORWARD_LENGTH))?,
            softcap,
            context_length: m.usize(&a(keys::CONTEXT_LENGTH))?,
            canvas: m.usize(keys::DIFFUSION_CANVAS_LENGTH)?,
        };
        for (key, v) in [
            (a(keys::EMBEDDING_LENGTH), cfg.hidden),
            (a(keys::FEED_FORWARD_LENGTH), cfg.ffn),
            (a(keys::EXPERT_FEED_FORWARD_LENGTH), cfg.expert_ffn),
            (a(keys::SLIDING_WINDOW), cfg.window),
            (keys::DIFFUSION_CANVAS_LENGTH.to_string(), cfg.canvas),
            (a(keys::BLOCK_COUNT), n_layers),
            (a(keys::HEAD_COUNT), heads),
        ] {
            m.check(&key, v > 0, || "must be > 0".to_string())?;
        }
        if cfg.vocab == 0 {
            return Err(ModelError::BadShape {
                name: GlobalTensor::TokenEmbd.name().to_string(),
                found: dims.clone(),
                expected: vec![cfg.hidden as u64, 0],
            });
        }
        Ok(cfg)
    }

    /// Number of layers.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Widest query projection (`heads · head_dim`) over all layers.
    pub fn max_q_width(&self) -> usize {
        self.layers.iter().map(|l| self.heads * l.head_dim).max().unwrap_or(0)
    }

    /// Widest K/V row (`kv_heads · head_dim`) over all layers.
    pub fn max_kv_width(&self) -> usize {
        self.layers.iter().map(|l| l.kv_heads * l.head_dim).max().unwrap_or(0)
    }

    /// K/V positions a sliding layer keeps (`W − 1`, model.md 5.4).
    pub fn sliding_keep(&self) -> usize {
        self.window.saturating_sub(1)
    }
}
