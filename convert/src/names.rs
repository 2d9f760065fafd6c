//! HF checkpoint names -> GGUF tensor roles (../shared/spec/gguf.md §2.5), and the full list
//! of tensors a configuration implies (names and GGUF shapes), shared by the converter's
//! checks and `--estimate`.

use dgemma_gguf::arch::{GlobalTensor, LayerTensor};

use crate::config::ModelParams;

/// Where an HF tensor goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// Written under this GGUF name.
    Tensor(String),
    /// Dropped: part of the vision/audio towers.
    SkipTower,
    /// Dropped: the encoder's weight-tied copy of a decoder tensor.
    SkipTied,
    /// Not a tensor of this architecture.
    Unknown,
}

fn layer_role(suffix: &str) -> Option<LayerTensor> {
    use LayerTensor::*;
    Some(match suffix {
        "input_layernorm.weight" => AttnNorm,
        "self_attn.q_proj.weight" => AttnQ,
        "self_attn.k_proj.weight" => AttnK,
        "self_attn.v_proj.weight" => AttnV,
        "self_attn.o_proj.weight" => AttnOutput,
        "self_attn.q_norm.weight" => AttnQNorm,
        "self_attn.k_norm.weight" => AttnKNorm,
        "post_attention_layernorm.weight" => PostAttentionNorm,
        "pre_feedforward_layernorm.weight" => FfnNorm,
        "mlp.gate_proj.weight" => FfnGate,
        "mlp.up_proj.weight" => FfnUp,
        "mlp.down_proj.weight" => FfnDown,
        "post_feedforward_layernorm_1.weight" => PostFfwNorm1,
        "pre_feedforward_layernorm_2.weight" => PreFfwNorm2,
        "router.proj.weight" => FfnGateInp,
        "router.scale" => FfnGateInpScale,
        "experts.gate_up_proj" => FfnGateUpExps,
        "experts.down_proj" => FfnDownExps,
        "router.per_expert_scale" => FfnDownExpsScale,
        "post_feedforward_layernorm_2.weight" => PostFfwNorm2,
        "post_feedforward_layernorm.weight" => PostFfwNorm,
        "layer_scalar" => LayerOutputScale,
        _ => return None,
    })
}

/// `layers.N.rest` -> (N, rest).
fn split_layer(s: &str) -> Option<(usize, &str)> {
    let rest = s.strip_prefix("layers.")?;
    let (n, rest) = rest.split_once('.')?;
    Some((n.parse().ok()?, rest))
}

/// Maps one HF tensor name. `language_model.` is stripped first, as llama.cpp's converter does.
pub fn map_hf_name(hf: &str) -> Mapping {
    let name = hf.replace("language_model.", "");
    if name.contains("vision") || name.contains("embed_vision") || name.contains("audio") {
        return Mapping::SkipTower;
    }
    if let Some(enc) = name.strip_prefix("model.encoder.") {
        return match split_layer(enc) {
            Some((n, "layer_scalar")) => Mapping::Tensor(LayerTensor::EncLayerOutputScale.name(n)),
            _ => Mapping::SkipTied,
        };
    }
    let Some(dec) = name.strip_prefix("model.decoder.") else { return Mapping::Unknown };
    let global = match dec {
        "embed_tokens.weight" => Some(GlobalTensor::TokenEmbd),
        "norm.weight" => Some(GlobalTensor::OutputNorm),
        "self_conditioning.pre_norm.weight" => Some(GlobalTensor::SelfCondPreNorm),
        "self_conditioning.gate_proj.weight" => Some(GlobalTensor::SelfCondGate),
        "self_conditioning.up_proj.weight" => Some(GlobalTensor::SelfCondUp),
        "self_conditioning.down_proj.weight" => Some(GlobalTensor::SelfCondDown),
        _ => None,
    };
    if let Some(g) = global {
        return Mapping::Tensor(g.name().to_string());
    }
    match split_layer(dec) {
        Some((n, rest)) => match layer_role(rest) {
            Some(role) if role != LayerTensor::EncLayerOutputScale => Mapping::Tensor(role.name(n)),
            _ => Mapping::Unknown,
        },
        None => Mapping::Unknown,
    }
}

/// One tensor of the GGUF file: name and `ne` (innermost first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorShape {
    pub name: String,
    pub ne: Vec<u64>,
}

/// Layer index of a `blk.N.` name (llama.cpp parses it the same way).
pub fn layer_of(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split_once('.')?.0.parse().ok()
}

/// Every tensor the configuration implies, with its GGUF shape, in llama-quantize's order
/// (non-block tensors first, then by layer number, then by name bytes; spec §2.9).
pub fn expected_tensors(p: &ModelParams, n_vocab: usize) -> Vec<TensorShape> {
    let e = p.n_embd as u64;
    let f = p.n_ff as u64;
    let x = p.n_expert as u64;
    let i = p.n_ff_exp as u64;
    let mut out: Vec<TensorShape> = Vec::new();
    let mut push = |name: String, ne: Vec<u64>| out.push(TensorShape { name, ne });
    for g in GlobalTensor::ALL {
        let ne = match g {
            GlobalTensor::TokenEmbd => vec![e, n_vocab as u64],
            GlobalTensor::OutputNorm | GlobalTensor::SelfCondPreNorm => vec![e],
            GlobalTensor::RopeFreqs => vec![p.head_dim_full as u64 / 2],
            GlobalTensor::SelfCondGate | GlobalTensor::SelfCondUp => vec![e, f],
            GlobalTensor::SelfCondDown => vec![f, e],
        };
        push(g.name().to_string(), ne);
    }
    for l in 0..p.n_layer {
        let sliding = p.sliding[l];
        let hd = if sliding { p.head_dim_swa } else { p.head_dim_full } as u64;
        let kv = p.n_head_kv[l] as u64;
        let q = p.n_head as u64 * hd;
        for t in LayerTensor::ALL {
            if !t.present(sliding) {
                continue;
            }
            use LayerTensor::*;
            let ne = match t {
                AttnQ => vec![e, q],
                AttnK | AttnV => vec![e, kv * hd],
                AttnOutput => vec![q, e],
                AttnQNorm | AttnKNorm => vec![hd],
                FfnGate | FfnUp => vec![e, f],
                FfnDown => vec![f, e],
                FfnGateInp => vec![e, x],
                FfnGateUpExps => vec![e, 2 * i, x],
                FfnDownExps => vec![i, e, x],
                FfnDownExpsScale => vec![x],
                LayerOutputScale | EncLayerOutputScale => vec![1],
                AttnNorm | PostAttentionNorm | FfnNorm | PostFfwNorm1 | PreFfwNorm2
                | FfnGateInpScale | PostFfwNorm2 | PostFfwNorm => vec![e],
            };
            push(t.name(l), ne);
        }
    }
    sort_llama_quantize(&mut out, |t| &t.name);
    out
}

/// llama.cpp's weight order: (layer or -1, name bytes).
pub fn sort_llama_quantize<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| {
        let (na, nb) = (name(a), name(b));
        let la = layer_of(na).map_or(-1, |l| l as i64);
        let lb = layer_of(nb).map_or(-1, |l| l as i64);
        la.cmp(&lb).then_with(|| na.as_bytes().cmp(nb.as_bytes()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_map_as_the_reference_converter_does() {
        let t = |s: &str| Mapping::Tensor(s.to_string());
        assert_eq!(map_hf_name("model.decoder.embed_tokens.weight"), t("token_embd.weight"));
        assert_eq!(map_hf_name("model.decoder.layers.7.experts.gate_up_proj"), t("blk.7.ffn_gate_up_exps.weight"));
        assert_eq!(map_hf_name("model.decoder.layers.3.router.scale"), t("blk.3.ffn_gate_inp.scale"));
        assert_eq!(map_hf_name("model.decoder.layers.3.router.per_expert_scale"), t("blk.3.ffn_down_exps.scale"));
        assert_eq!(map_hf_name("model.decoder.layers.3.layer_scalar"), t("blk.3.layer_output_scale.weight"));
        assert_eq!(
            map_hf_name("model.encoder.language_model.layers.12.layer_scalar"),
            t("blk.12.enc_layer_output_scale.weight")
        );
        assert_eq!(map_hf_name("model.encoder.language_model.layers.1.self_attn.q_proj.weight"), Mapping::SkipTied);
        assert_eq!(map_hf_name("model.encoder.vision_tower.patch_embedder.input_proj.weight"), Mapping::SkipTower);
        assert_eq!(map_hf_name("model.encoder.embed_vision.embedding_projection.weight"), Mapping::SkipTower);
        assert_eq!(map_hf_name("model.decoder.layers.1.self_attn.v_norm.weight"), Mapping::Unknown);
        assert_eq!(map_hf_name("lm_head.weight"), Mapping::Unknown);
    }

    #[test]
    fn llama_quantize_order_compares_layers_numerically() {
        let mut v = vec!["blk.10.a", "blk.2.b", "token_embd.weight", "blk.2.a", "output_norm.weight"];
        sort_llama_quantize(&mut v, |s| s);
        assert_eq!(v, ["output_norm.weight", "token_embd.weight", "blk.2.a", "blk.2.b", "blk.10.a"]);
    }
}
