//! The metadata records of an output file, in the order llama.cpp's converter writes them
//! (../shared/interop/reference/gguf.json), plus llama-quantize's re-appending of
//! `general.quantization_version` and `general.file_type` for the quantized file types.

use dgemma_gguf::arch::{arch_key, keys, ARCH};
use serde_json::Value;

use crate::config::ModelParams;
use crate::meta_value::{MetaValue, Metadata};
use crate::names::TensorShape;
use crate::target::OutType;

/// `general.quantization_version` value (GGML_QNT_VERSION).
pub const QUANTIZATION_VERSION: u32 = 2;

/// gguf-py's `model_weight_count_rounded_notation`.
fn rounded_count(n: u64) -> String {
    let n = n as f64;
    let (scaled, suffix) = if n > 1e12 {
        (n * 1e-12, "T")
    } else if n > 1e9 {
        (n * 1e-9, "B")
    } else if n > 1e6 {
        (n * 1e-6, "M")
    } else {
        (n * 1e-3, "K")
    };
    let int_digits = format!("{}", scaled.round_ties_even() as u64);
    let significant = int_digits.trim_start_matches('0').len();
    let fix = 2usize.saturating_sub(significant);
    format!("{scaled:.fix$}{suffix}")
}

/// `general.size_label` as gguf-py computes it from the tensors written:
/// `<experts>x<shared + one expert's parameters>`.
pub fn size_label(tensors: &[TensorShape], n_expert: usize) -> String {
    let mut total = 0u64;
    let mut expert_total = 0u64;
    let mut per_expert = 0u64;
    for t in tensors {
        let n: u64 = t.ne.iter().product();
        total += n;
        if t.name.contains("_exps.") && t.ne.len() >= 3 {
            expert_total += n;
            per_expert += n / t.ne[2].max(1);
        }
    }
    if n_expert > 0 && expert_total > 0 {
        format!("{n_expert}x{}", rounded_count(total - expert_total + per_expert))
    } else {
        rounded_count(total)
    }
}

/// `general.name` from the checkpoint directory name (gguf-py derives it from the directory too;
/// its heuristics are richer, so this key may differ from llama.cpp's — see docs/interop.md).
pub fn general_name(dir_name: &str) -> String {
    dir_name
        .split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Inputs for [`build`] besides the hyper-parameters.
pub struct MetaInputs<'a> {
    pub general_name: &'a str,
    pub size_label: &'a str,
    /// generation_config.json, if present (source of the `diffusion.eb_*` keys).
    pub generation: Option<&'a Value>,
    /// The `tokenizer.*` records, if a tokenizer is available.
    pub tokenizer: Option<&'a Metadata>,
}

/// All records of a file of type `out`, in the order the reference tools write them.
pub fn build(p: &ModelParams, inputs: &MetaInputs, out: OutType) -> Metadata {
    let mut m = Metadata::new();
    let a = |k: &str| arch_key(k);
    let u = |v: usize| MetaValue::U32(v as u32);
    m.set(keys::GENERAL_ARCHITECTURE, MetaValue::Str(ARCH.into()));
    m.set(keys::GENERAL_TYPE, MetaValue::Str("model".into()));
    m.set(keys::GENERAL_NAME, MetaValue::Str(inputs.general_name.into()));
    m.set(keys::GENERAL_SIZE_LABEL, MetaValue::Str(inputs.size_label.into()));
    m.set(a(keys::BLOCK_COUNT), u(p.n_layer));
    m.set(a(keys::CONTEXT_LENGTH), u(p.context_length));
    m.set(a(keys::EMBEDDING_LENGTH), u(p.n_embd));
    m.set(a(keys::FEED_FORWARD_LENGTH), u(p.n_ff));
    m.set(a(keys::HEAD_COUNT), u(p.n_head));
    m.set(a(keys::HEAD_COUNT_KV), MetaValue::ArrI32(p.n_head_kv.iter().map(|&k| k as i32).collect()));
    m.set(a(keys::ROPE_FREQ_BASE), MetaValue::F32(p.rope_full.theta));
    m.set(a(keys::ROPE_FREQ_BASE_SWA), MetaValue::F32(p.rope_theta_swa));
    m.set(a(keys::RMS_EPS), MetaValue::F32(p.rms_eps));
    m.set(a(keys::EXPERT_COUNT), u(p.n_expert));
    m.set(a(keys::EXPERT_USED_COUNT), u(p.n_expert_used));
    m.set(a(keys::KEY_LENGTH), u(p.head_dim_full));
    m.set(a(keys::VALUE_LENGTH), u(p.head_dim_full));
    // The converter's file type: quantized mixtures start from the BF16 file.
    let base = if out.is_converter_type() { out } else { OutType::BF16 };
    m.set(keys::GENERAL_FILE_TYPE, MetaValue::U32(base.file_type()));
    if let Some(cap) = p.final_logit_softcapping {
        m.set(a(keys::FINAL_LOGIT_SOFTCAPPING), MetaValue::F32(cap));
    }
    m.set(a(keys::SLIDING_WINDOW), u(p.sliding_window));
    m.set(a(keys::SHARED_KV_LAYERS), u(0));
    m.set(a(keys::EMBEDDING_LENGTH_PER_LAYER_INPUT), u(0));
    m.set(a(keys::SLIDING_WINDOW_PATTERN), MetaValue::ArrBool(p.sliding.clone()));
    m.set(a(keys::KEY_LENGTH_SWA), u(p.head_dim_swa));
    m.set(a(keys::VALUE_LENGTH_SWA), u(p.head_dim_swa));
    m.set(a(keys::EXPERT_FEED_FORWARD_LENGTH), u(p.n_ff_exp));
    m.set(a(keys::ROPE_DIMENSION_COUNT), u(p.head_dim_full));
    m.set(a(keys::ROPE_DIMENSION_COUNT_SWA), u(p.head_dim_swa));
    m.set(a(keys::CAUSAL), MetaValue::Bool(false));
    m.set(keys::DIFFUSION_CANVAS_LENGTH, u(p.canvas_length));
    if let Some(g) = inputs.generation {
        eb_keys(&mut m, g);
    }
    m.set(keys::GENERAL_QUANTIZATION_VERSION, MetaValue::U32(QUANTIZATION_VERSION));
    if let Some(tok) = inputs.tokenizer {
        for (k, v) in tok.entries() {
            m.set(k.clone(), v.clone());
        }
    }
    if !out.is_converter_type() {
        set_quantized_file_type(&mut m, out);
    }
    m
}

/// What llama-quantize does to the copied KVs: re-set (remove + append) the two keys.
pub fn set_quantized_file_type(m: &mut Metadata, out: OutType) {
    m.set(keys::GENERAL_QUANTIZATION_VERSION, MetaValue::U32(QUANTIZATION_VERSION));
    m.set(keys::GENERAL_FILE_TYPE, MetaValue::U32(out.file_type()));
}

/// `diffusion.eb_*` from generation_config.json: only the fields present, as the converter does
/// (entropy_bound is read from `sampler_config`).
fn eb_keys(m: &mut Metadata, g: &Value) {
    let num = |v: Option<&Value>| v.and_then(Value::as_f64);
    if let Some(v) = num(g.get("max_denoising_steps")) {
        m.set(keys::DIFFUSION_EB_MAX_STEPS, MetaValue::U32(v as u32));
    }
    if let Some(v) = num(g.get("t_min")) {
        m.set(keys::DIFFUSION_EB_T_MIN, MetaValue::F32(v as f32));
    }
    if let Some(v) = num(g.get("t_max")) {
        m.set(keys::DIFFUSION_EB_T_MAX, MetaValue::F32(v as f32));
    }
    if let Some(v) = num(g.get("sampler_config").and_then(|s| s.get("entropy_bound"))) {
        m.set(keys::DIFFUSION_EB_ENTROPY_BOUND, MetaValue::F32(v as f32));
    }
    if let Some(v) = num(g.get("stability_threshold")) {
        m.set(keys::DIFFUSION_EB_STABILITY, MetaValue::U32(v as u32));
    }
    if let Some(v) = num(g.get("confidence_threshold")) {
        m.set(keys::DIFFUSION_EB_CONFIDENCE, MetaValue::F32(v as f32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounded_counts_match_gguf_py() {
        assert_eq!(rounded_count(2_591_423_548), "2.6B");
        assert_eq!(rounded_count(71_000_000), "71M");
        assert_eq!(rounded_count(1_500), "1.5K");
    }

    #[test]
    fn directory_names_become_title_case() {
        assert_eq!(general_name("ckpt"), "Ckpt");
        assert_eq!(general_name("interop-ckpt"), "Interop Ckpt");
    }
}
