//! The `diffusion-gemma` architecture as llama.cpp stores it: metadata keys and tensor names.
//!
//! This is the one place these strings are spelled; the converter writes them, the loader reads
//! them. Source: ../shared/spec/gguf.md §2 (llama.cpp's DiffusionGemma branch).

/// `general.architecture` value.
pub const ARCH: &str = "diffusion-gemma";

/// Metadata keys. `arch_key(k)` prefixes the per-architecture ones with `diffusion-gemma.`.
pub mod keys {
    pub const GENERAL_ARCHITECTURE: &str = "general.architecture";
    pub const GENERAL_TYPE: &str = "general.type";
    pub const GENERAL_NAME: &str = "general.name";
    pub const GENERAL_SIZE_LABEL: &str = "general.size_label";
    pub const GENERAL_ALIGNMENT: &str = "general.alignment";
    pub const GENERAL_FILE_TYPE: &str = "general.file_type";
    pub const GENERAL_QUANTIZATION_VERSION: &str = "general.quantization_version";

    // Per-architecture keys (append to "diffusion-gemma.").
    pub const BLOCK_COUNT: &str = "block_count";
    pub const CONTEXT_LENGTH: &str = "context_length";
    pub const EMBEDDING_LENGTH: &str = "embedding_length";
    pub const FEED_FORWARD_LENGTH: &str = "feed_forward_length";
    pub const HEAD_COUNT: &str = "attention.head_count";
    pub const HEAD_COUNT_KV: &str = "attention.head_count_kv";
    pub const ROPE_FREQ_BASE: &str = "rope.freq_base";
    pub const ROPE_FREQ_BASE_SWA: &str = "rope.freq_base_swa";
    pub const RMS_EPS: &str = "attention.layer_norm_rms_epsilon";
    pub const EXPERT_COUNT: &str = "expert_count";
    pub const EXPERT_USED_COUNT: &str = "expert_used_count";
    pub const KEY_LENGTH: &str = "attention.key_length";
    pub const VALUE_LENGTH: &str = "attention.value_length";
    pub const FINAL_LOGIT_SOFTCAPPING: &str = "final_logit_softcapping";
    pub const SLIDING_WINDOW: &str = "attention.sliding_window";
    pub const SHARED_KV_LAYERS: &str = "attention.shared_kv_layers";
    pub const EMBEDDING_LENGTH_PER_LAYER_INPUT: &str = "embedding_length_per_layer_input";
    pub const SLIDING_WINDOW_PATTERN: &str = "attention.sliding_window_pattern";
    pub const KEY_LENGTH_SWA: &str = "attention.key_length_swa";
    pub const VALUE_LENGTH_SWA: &str = "attention.value_length_swa";
    pub const EXPERT_FEED_FORWARD_LENGTH: &str = "expert_feed_forward_length";
    pub const ROPE_DIMENSION_COUNT: &str = "rope.dimension_count";
    pub const ROPE_DIMENSION_COUNT_SWA: &str = "rope.dimension_count_swa";
    pub const CAUSAL: &str = "attention.causal";

    // Diffusion keys: no architecture prefix.
    pub const DIFFUSION_CANVAS_LENGTH: &str = "diffusion.canvas_length";
    pub const DIFFUSION_EB_MAX_STEPS: &str = "diffusion.eb_max_steps";
    pub const DIFFUSION_EB_T_MIN: &str = "diffusion.eb_t_min";
    pub const DIFFUSION_EB_T_MAX: &str = "diffusion.eb_t_max";
    pub const DIFFUSION_EB_ENTROPY_BOUND: &str = "diffusion.eb_entropy_bound";
    pub const DIFFUSION_EB_STABILITY: &str = "diffusion.eb_stability_threshold";
    pub const DIFFUSION_EB_CONFIDENCE: &str = "diffusion.eb_confidence_threshold";
    pub const DIFFUSION_SHIFT_LOGITS: &str = "diffusion.shift_logits";

    // Tokenizer keys.
    pub const TOKENIZER_MODEL: &str = "tokenizer.ggml.model";
    pub const TOKENIZER_TOKENS: &str = "tokenizer.ggml.tokens";
    pub const TOKENIZER_SCORES: &str = "tokenizer.ggml.scores";
    pub const TOKENIZER_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
    pub const TOKENIZER_MERGES: &str = "tokenizer.ggml.merges";
    pub const TOKENIZER_BOS_ID: &str = "tokenizer.ggml.bos_token_id";
    pub const TOKENIZER_EOS_ID: &str = "tokenizer.ggml.eos_token_id";
    pub const TOKENIZER_UNK_ID: &str = "tokenizer.ggml.unknown_token_id";
    pub const TOKENIZER_PAD_ID: &str = "tokenizer.ggml.padding_token_id";
    pub const TOKENIZER_MASK_ID: &str = "tokenizer.ggml.mask_token_id";
    pub const TOKENIZER_CHAT_TEMPLATE: &str = "tokenizer.chat_template";
    pub const TOKENIZER_ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";
    pub const TOKENIZER_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
    pub const TOKENIZER_ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
    pub const TOKENIZER_ADD_SEP: &str = "tokenizer.ggml.add_sep_token";
    /// gguf-py's spelling (sic).
    pub const TOKENIZER_SEP_ID: &str = "tokenizer.ggml.seperator_token_id";
    pub const TOKENIZER_CLS_ID: &str = "tokenizer.ggml.cls_token_id";
}

/// `diffusion-gemma.<key>`.
pub fn arch_key(key: &str) -> String {
    format!("{ARCH}.{key}")
}

/// Tensors that exist once per model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlobalTensor {
    TokenEmbd,
    OutputNorm,
    RopeFreqs,
    SelfCondPreNorm,
    SelfCondGate,
    SelfCondUp,
    SelfCondDown,
}

impl GlobalTensor {
    pub const ALL: [GlobalTensor; 7] = [
        Self::TokenEmbd, Self::OutputNorm, Self::RopeFreqs, Self::SelfCondPreNorm,
        Self::SelfCondGate, Self::SelfCondUp, Self::SelfCondDown,
    ];

    /// GGUF tensor name.
    pub fn name(self) -> &'static str {
        match self {
            Self::TokenEmbd => "token_embd.weight",
            Self::OutputNorm => "output_norm.weight",
            Self::RopeFreqs => "rope_freqs.weight",
            Self::SelfCondPreNorm => "self_cond_pre_norm.weight",
            Self::SelfCondGate => "self_cond_gate.weight",
            Self::SelfCondUp => "self_cond_up.weight",
            Self::SelfCondDown => "self_cond_down.weight",
        }
    }
}

/// Tensors that exist once per layer (`blk.N.` + suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerTensor {
    AttnNorm,
    AttnQ,
    AttnK,
    /// Sliding layers only: full layers reuse the raw K projection as V.
    AttnV,
    AttnOutput,
    AttnQNorm,
    AttnKNorm,
    PostAttentionNorm,
    FfnNorm,
    FfnGate,
    FfnUp,
    FfnDown,
    PostFfwNorm1,
    PreFfwNorm2,
    /// Router projection, always F32.
    FfnGateInp,
    /// Router input scale.
    FfnGateInpScale,
    /// Fused expert gate+up `[H, 2I, E]`.
    FfnGateUpExps,
    FfnDownExps,
    /// Per-expert output scale.
    FfnDownExpsScale,
    PostFfwNorm2,
    PostFfwNorm,
    /// Decoder (canvas rows) per-layer scalar.
    LayerOutputScale,
    /// Encoder (prompt rows) per-layer scalar.
    EncLayerOutputScale,
}

impl LayerTensor {
    pub const ALL: [LayerTensor; 23] = [
        Self::AttnNorm, Self::AttnQ, Self::AttnK, Self::AttnV, Self::AttnOutput, Self::AttnQNorm,
        Self::AttnKNorm, Self::PostAttentionNorm, Self::FfnNorm, Self::FfnGate, Self::FfnUp,
        Self::FfnDown, Self::PostFfwNorm1, Self::PreFfwNorm2, Self::FfnGateInp,
        Self::FfnGateInpScale, Self::FfnGateUpExps, Self::FfnDownExps, Self::FfnDownExpsScale,
        Self::PostFfwNorm2, Self::PostFfwNorm, Self::LayerOutputScale, Self::EncLayerOutputScale,
    ];

    /// Name without the `blk.N.` prefix.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::AttnNorm => "attn_norm.weight",
            Self::AttnQ => "attn_q.weight",
            Self::AttnK => "attn_k.weight",
            Self::AttnV => "attn_v.weight",
            Self::AttnOutput => "attn_output.weight",
            Self::AttnQNorm => "attn_q_norm.weight",
            Self::AttnKNorm => "attn_k_norm.weight",
            Self::PostAttentionNorm => "post_attention_norm.weight",
            Self::FfnNorm => "ffn_norm.weight",
            Self::FfnGate => "ffn_gate.weight",
            Self::FfnUp => "ffn_up.weight",
            Self::FfnDown => "ffn_down.weight",
            Self::PostFfwNorm1 => "post_ffw_norm_1.weight",
            Self::PreFfwNorm2 => "pre_ffw_norm_2.weight",
            Self::FfnGateInp => "ffn_gate_inp.weight",
            Self::FfnGateInpScale => "ffn_gate_inp.scale",
            Self::FfnGateUpExps => "ffn_gate_up_exps.weight",
            Self::FfnDownExps => "ffn_down_exps.weight",
            Self::FfnDownExpsScale => "ffn_down_exps.scale",
            Self::PostFfwNorm2 => "post_ffw_norm_2.weight",
            Self::PostFfwNorm => "post_ffw_norm.weight",
            Self::LayerOutputScale => "layer_output_scale.weight",
            Self::EncLayerOutputScale => "enc_layer_output_scale.weight",
        }
    }

    /// Full GGUF name for layer `layer`.
    pub fn name(self, layer: usize) -> String {
        format!("blk.{layer}.{}", self.suffix())
    }

    /// Whether the tensor exists on a layer of this kind.
    pub fn present(self, sliding: bool) -> bool {
        sliding || self != Self::AttnV
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_26b_model_has_692_tensors() {
        // 7 global + 25 sliding x 23 + 5 full x 22 (gguf.md 2.6).
        let per_layer = |sliding| LayerTensor::ALL.iter().filter(|t| t.present(sliding)).count();
        assert_eq!(GlobalTensor::ALL.len() + 25 * per_layer(true) + 5 * per_layer(false), 692);
        assert_eq!(LayerTensor::AttnV.name(5), "blk.5.attn_v.weight");
        assert_eq!(arch_key(keys::HEAD_COUNT_KV), "diffusion-gemma.attention.head_count_kv");
    }
}
