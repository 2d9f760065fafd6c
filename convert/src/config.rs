//! HF `config.json` of a DiffusionGemma checkpoint -> the hyper-parameters the GGUF needs.
//!
//! As llama.cpp's converter does, `text_config` is merged over the root (root-only keys such as
//! `canvas_length` survive). Both spellings of the full-attention layer shape are accepted: the
//! released `global_head_dim` / `num_global_key_value_heads` and transformers' saved form
//! `per_layer_config: {"<layer>": {"head_dim", "num_key_value_heads"}}` (../shared/spec/model.md §2).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{ConvertError, Result};

/// HF architectures llama.cpp's DiffusionGemma converter accepts.
pub const HF_ARCHITECTURES: [&str; 2] =
    ["DiffusionGemmaForBlockDiffusion", "DiffusionGemma4ModelForBlockDiffusion"];

/// Rope of the full-attention layers.
#[derive(Clone, Debug, PartialEq)]
pub struct FullRope {
    /// θ of the full layers.
    pub theta: f32,
    /// Fraction of the head's pairs that rotate ("proportional" rope); 1.0 for default rope.
    pub partial_rotary_factor: f64,
}

/// Everything the converter needs from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelParams {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_ff_exp: usize,
    pub n_expert: usize,
    pub n_expert_used: usize,
    pub n_head: usize,
    /// KV heads per layer (sliding or full value).
    pub n_head_kv: Vec<usize>,
    pub head_dim_swa: usize,
    pub head_dim_full: usize,
    /// `true` = sliding-window layer.
    pub sliding: Vec<bool>,
    pub sliding_window: usize,
    pub rope_full: FullRope,
    pub rope_theta_swa: f32,
    pub rms_eps: f32,
    pub final_logit_softcapping: Option<f32>,
    pub context_length: usize,
    pub vocab_size: usize,
    pub canvas_length: usize,
}

/// Reads a JSON file into a value, naming the file on error.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| ConvertError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| ConvertError::Json { path: path.to_path_buf(), msg: e.to_string() })
}

struct Keys<'a> {
    file: &'a str,
    map: &'a Map<String, Value>,
}

impl Keys<'_> {
    fn missing(&self, key: &str) -> ConvertError {
        ConvertError::MissingKey { file: self.file.to_string(), key: key.to_string() }
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?.ok_or_else(|| self.missing(key))
    }
    fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_u64().map(|x| Some(x as usize)).ok_or_else(|| self.missing(key)),
        }
    }
    fn f64(&self, key: &str) -> Result<f64> {
        self.opt_f64(key)?.ok_or_else(|| self.missing(key))
    }
    fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.missing(key)),
        }
    }
}

impl ModelParams {
    /// Parses `config.json`. `file` names it in errors.
    pub fn from_json(root: &Value, file: &str) -> Result<Self> {
        let unsupported =
            |msg: String| ConvertError::Unsupported { file: file.to_string(), msg };
        let root = root.as_object().ok_or_else(|| ConvertError::MissingKey {
            file: file.to_string(),
            key: "(top-level object)".into(),
        })?;
        check_architecture(root, file)?;
        let mut merged = root.clone();
        if let Some(Value::Object(text)) = root.get("text_config") {
            for (k, v) in text {
                merged.insert(k.clone(), v.clone());
            }
        }
        let k = Keys { file, map: &merged };
        let n_layer = k.usize("num_hidden_layers")?;
        if n_layer == 0 {
            return Err(unsupported("num_hidden_layers is 0".into()));
        }
        let sliding = layer_kinds(&k, n_layer)?;
        let n_head_kv_swa = k.usize("num_key_value_heads")?;
        let head_dim_swa = k.usize("head_dim")?;
        let (head_dim_full, n_head_kv_full) = full_layer_shape(&k, &sliding, head_dim_swa, n_head_kv_swa)?;
        let (rope_full, rope_theta_swa) = rope(&k)?;
        let n_expert = k.usize("num_experts")?;
        let n_expert_used = k.usize("top_k_experts")?;
        if n_expert == 0 || n_expert_used == 0 || n_expert_used > n_expert {
            return Err(unsupported(format!(
                "num_experts {n_expert} / top_k_experts {n_expert_used}: DiffusionGemma needs experts"
            )));
        }
        let canvas_length = k.usize("canvas_length")?;
        if canvas_length == 0 {
            return Err(unsupported("canvas_length must be > 0".into()));
        }
        if matches!(merged.get("tie_word_embeddings"), Some(Value::Bool(false))) {
            return Err(unsupported("untied output head (tie_word_embeddings = false)".into()));
        }
        let final_logit_softcapping = k.opt_f64("final_logit_softcapping")?.map(|v| v as f32);
        Ok(ModelParams {
            n_layer,
            n_embd: k.usize("hidden_size")?,
            n_ff: k.usize("intermediate_size")?,
            n_ff_exp: k.usize("moe_intermediate_size")?,
            n_expert,
            n_expert_used,
            n_head: k.usize("num_attention_heads")?,
            n_head_kv: sliding.iter().map(|&s| if s { n_head_kv_swa } else { n_head_kv_full }).collect(),
            head_dim_swa,
            head_dim_full,
            sliding,
            sliding_window: k.usize("sliding_window")?,
            rope_full,
            rope_theta_swa,
            rms_eps: k.f64("rms_norm_eps")? as f32,
            final_logit_softcapping,
            context_length: k.usize("max_position_embeddings")?,
            vocab_size: k.usize("vocab_size")?,
            canvas_length,
        })
    }

    /// Reads and parses a `config.json` file.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_json(&read_json(path)?, &path.display().to_string())
    }

    /// Number of rope pairs that rotate on full layers (the rest get divisor 1e30 in rope_freqs).
    pub fn rope_full_rotated_pairs(&self) -> usize {
        (self.rope_full.partial_rotary_factor * self.head_dim_full as f64 / 2.0) as usize
    }
}

fn check_architecture(root: &Map<String, Value>, file: &str) -> Result<()> {
    let archs: Vec<&str> = root
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if archs.iter().any(|a| HF_ARCHITECTURES.contains(a)) {
        return Ok(());
    }
    let found = if archs.is_empty() {
        root.get("model_type").and_then(Value::as_str).unwrap_or("(none)").to_string()
    } else {
        archs.join(", ")
    };
    Err(ConvertError::WrongArchitecture {
        file: file.to_string(),
        found,
        expected: HF_ARCHITECTURES.join(" or "),
    })
}

/// `layer_types`, or transformers' default (layer i is full iff (i+1) % 6 == 0, last forced full).
fn layer_kinds(k: &Keys, n_layer: usize) -> Result<Vec<bool>> {
    let Some(types) = k.get("layer_types") else {
        return Ok((0..n_layer).map(|i| (i + 1) % 6 != 0 && i + 1 != n_layer).collect());
    };
    let types = types.as_array().ok_or_else(|| k.missing("layer_types"))?;
    if types.len() != n_layer {
        return Err(ConvertError::Unsupported {
            file: k.file.to_string(),
            msg: format!("layer_types has {} entries for {n_layer} layers", types.len()),
        });
    }
    types
        .iter()
        .map(|t| match t.as_str() {
            Some("sliding_attention") => Ok(true),
            Some("full_attention") => Ok(false),
            _ => Err(ConvertError::Unsupported {
                file: k.file.to_string(),
                msg: format!("unknown layer type {t}"),
            }),
        })
        .collect()
}

fn full_layer_shape(k: &Keys, sliding: &[bool], hd_swa: usize, kv_swa: usize) -> Result<(usize, usize)> {
    if let Some(hd) = k.opt_usize("global_head_dim")? {
        let kv = k.opt_usize("num_global_key_value_heads")?.unwrap_or(kv_swa);
        return Ok((hd, kv));
    }
    let Some(plc) = k.get("per_layer_config") else {
        // No override at all: full layers have the sliding shape.
        return Ok((hd_swa, k.opt_usize("num_global_key_value_heads")?.unwrap_or(kv_swa)));
    };
    let plc = plc.as_object().ok_or_else(|| k.missing("per_layer_config"))?;
    let mut shape: Option<(usize, usize)> = None;
    for (layer, entry) in plc {
        let idx: usize = layer.parse().map_err(|_| k.missing(&format!("per_layer_config.{layer}")))?;
        if sliding.get(idx) != Some(&false) {
            continue;
        }
        let e = entry.as_object().ok_or_else(|| k.missing(&format!("per_layer_config.{layer}")))?;
        let ek = Keys { file: k.file, map: e };
        let this = (
            ek.opt_usize("head_dim")?.unwrap_or(hd_swa),
            ek.opt_usize("num_key_value_heads")?.unwrap_or(kv_swa),
        );
        if shape.is_some_and(|s| s != this) {
            return Err(ConvertError::Unsupported {
                file: k.file.to_string(),
                msg: "full-attention layers with different shapes in per_layer_config".into(),
            });
        }
        shape = Some(this);
    }
    Ok(shape.unwrap_or((hd_swa, kv_swa)))
}

/// Reads `rope_parameters.{full,sliding}_attention`; anything but default/proportional rope
/// without scaling is rejected (the runtime implements only those).
fn rope(k: &Keys) -> Result<(FullRope, f32)> {
    let params = k.get("rope_parameters").and_then(Value::as_object).ok_or_else(|| k.missing("rope_parameters"))?;
    let get = |kind: &str| -> Result<(f32, f64)> {
        let key = format!("rope_parameters.{kind}");
        let p = params.get(kind).and_then(Value::as_object).ok_or_else(|| k.missing(&key))?;
        let pk = Keys { file: k.file, map: p };
        let ty = p.get("rope_type").and_then(Value::as_str).unwrap_or("default");
        let partial = pk.opt_f64("partial_rotary_factor")?.unwrap_or(1.0);
        let ok_type = ty == "default" || (ty == "proportional" && kind == "full_attention");
        let factor = pk.opt_f64("factor")?.unwrap_or(1.0);
        if !ok_type || factor != 1.0 || !(partial > 0.0 && partial <= 1.0) {
            return Err(ConvertError::Unsupported {
                file: k.file.to_string(),
                msg: format!(
                    "{key}: rope_type `{ty}`, factor {factor}, partial_rotary_factor {partial} \
                     (supported: default, or proportional on full layers, without scaling)"
                ),
            });
        }
        let theta = pk.opt_f64("rope_theta")?.ok_or_else(|| k.missing(&format!("{key}.rope_theta")))?;
        Ok((theta as f32, partial))
    };
    let (theta_full, partial) = get("full_attention")?;
    let (theta_swa, partial_swa) = get("sliding_attention")?;
    if partial_swa != 1.0 {
        return Err(ConvertError::Unsupported {
            file: k.file.to_string(),
            msg: format!("rope_parameters.sliding_attention: partial_rotary_factor {partial_swa} (only 1 is supported)"),
        });
    }
    Ok((FullRope { theta: theta_full, partial_rotary_factor: partial }, theta_swa))
}
