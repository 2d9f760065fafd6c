//! Which ggml type each tensor gets. One place decides for the converter, `quantize` and
//! `--estimate`:
//!
//! * [`converter_type`]: llama.cpp's HF converter for `--outtype f32/f16/bf16/q8_0`
//!   (../shared/spec/gguf.md §2.7);
//! * [`Mixture`]: llama-quantize's per-tensor choice for a file type (§4, `llama-quant.cpp`),
//!   restricted to the file types dgemma writes, including the 8-expert rules that the interop
//!   checkpoint exercises (attn_k/attn_v -> Q8_0, attn_output -> Q5_K in Q4_K_M).

use dgemma_quant::GgmlType;

use crate::names::layer_of;
use crate::target::OutType;

/// Type llama.cpp's converter writes for a tensor with GGUF name `name` and `ne`.
pub fn converter_type(name: &str, ne: &[u64], out: OutType) -> GgmlType {
    let want = out.default_type();
    if ne.len() <= 1 || name.ends_with("_norm.weight") || name.contains("ffn_gate_inp.weight") || !name.ends_with(".weight") {
        return GgmlType::F32;
    }
    if ne[0] % want.block_size() as u64 != 0 {
        return GgmlType::F16;
    }
    want
}

/// Number of dims as ggml counts them (trailing 1s dropped, at least 1).
fn n_dims(ne: &[u64]) -> usize {
    ne.iter().rposition(|&d| d != 1).map_or(1, |p| p + 1)
}

/// llama-quantize's `tensor_allows_quantization` for the tensors this architecture has.
pub fn allows_quantization(name: &str, ne: &[u64]) -> bool {
    n_dims(ne) >= 2
        && name.ends_with("weight")
        && !name.contains("_norm.weight")
        && name != "output.weight"
        && !name.contains("ffn_gate_inp.weight")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
    TokenEmbd,
    Output,
    AttnV,
    AttnK,
    AttnQ,
    AttnOutput,
    FfnUp,
    FfnGate,
    FfnDown,
    Other,
}

fn category(name: &str) -> Category {
    match name {
        "output.weight" => return Category::Output,
        "token_embd.weight" | "per_layer_token_embd.weight" => return Category::TokenEmbd,
        _ => {}
    }
    let table = [
        ("attn_v.weight", Category::AttnV),
        ("attn_k.weight", Category::AttnK),
        ("attn_q.weight", Category::AttnQ),
        ("attn_output.weight", Category::AttnOutput),
        ("ffn_up", Category::FfnUp),
        ("ffn_gate", Category::FfnGate),
        ("ffn_down", Category::FfnDown),
    ];
    table.iter().find(|(pat, _)| name.contains(pat)).map_or(Category::Other, |&(_, c)| c)
}

fn use_more_bits(i: i64, n: i64) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

fn is_quantized(t: GgmlType) -> bool {
    !matches!(t, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 | GgmlType::F64 | GgmlType::I8 | GgmlType::I16 | GgmlType::I32 | GgmlType::I64)
}

/// llama-quantize's per-file state: the attn_v counter runs over tensors in processing order,
/// so call [`Mixture::pick`] once per tensor in file order.
#[derive(Clone, Debug)]
pub struct Mixture {
    out: OutType,
    n_expert: usize,
    n_layer: usize,
    has_output: bool,
    n_attn_v: i64,
    i_attn_v: i64,
}

impl Mixture {
    /// `names` are all tensor names of the file (used for the counters and the tied-embedding
    /// test); `n_layer`/`n_expert` come from the model's hyper-parameters.
    pub fn new<'a>(out: OutType, names: impl IntoIterator<Item = &'a str>, n_layer: usize, n_expert: usize) -> Self {
        let mut n_attn_v = 0;
        let mut has_output = false;
        for n in names {
            match category(n) {
                Category::AttnV => n_attn_v += 1,
                Category::Output => has_output = true,
                _ => {}
            }
        }
        Mixture { out, n_expert, n_layer, has_output, n_attn_v, i_attn_v: 0 }
    }

    /// Type for the next tensor (`input` = its type in the input file).
    pub fn pick(&mut self, name: &str, ne: &[u64], input: GgmlType) -> GgmlType {
        if !allows_quantization(name, ne) {
            return input;
        }
        let default = self.out.default_type();
        if !is_quantized(default) {
            return default;
        }
        let chosen = self.rules(name, ne, default);
        fallback(ne[0], chosen)
    }

    fn rules(&mut self, name: &str, ne: &[u64], mut t: GgmlType) -> GgmlType {
        let cat = category(name);
        let k_m = matches!(self.out, OutType::Q4_K_M | OutType::Q5_K_M);
        match cat {
            Category::Output | Category::TokenEmbd if cat == Category::Output || !self.has_output => {
                if ne[0] % t.block_size() as u64 != 0 {
                    t = GgmlType::Q8_0;
                } else if t != GgmlType::Q8_0 {
                    t = GgmlType::Q6_K;
                }
            }
            Category::AttnV => {
                if k_m && use_more_bits(self.i_attn_v, self.n_attn_v) {
                    t = GgmlType::Q6_K;
                }
                if self.n_expert == 8 {
                    t = GgmlType::Q8_0;
                }
                self.i_attn_v += 1;
            }
            Category::AttnK if self.n_expert == 8 => t = GgmlType::Q8_0,
            Category::FfnDown => {
                // With experts, llama.cpp parses the layer from the name; n = n_layer.
                let layer = layer_of(name).unwrap_or(0) as i64;
                if k_m && use_more_bits(layer, self.n_layer as i64) {
                    t = GgmlType::Q6_K;
                }
            }
            Category::AttnOutput if self.n_expert == 8 && self.out == OutType::Q4_K_M => t = GgmlType::Q5_K,
            _ => {}
        }
        t
    }
}

/// Shape fallback applied last: a row that is not a whole number of blocks gets a 32-block type.
pub fn fallback(ne0: u64, t: GgmlType) -> GgmlType {
    if ne0 % t.block_size() as u64 == 0 {
        return t;
    }
    let f = match t {
        GgmlType::Q4_K => GgmlType::Q5_0,
        GgmlType::Q5_K => GgmlType::Q5_1,
        GgmlType::Q6_K => GgmlType::Q8_0,
        GgmlType::Q2_K | GgmlType::Q3_K => GgmlType::Q4_0,
        _ => GgmlType::F16,
    };
    if ne0 % f.block_size() as u64 == 0 { f } else { GgmlType::F16 }
}

/// Types for a whole tensor list in file order: `input` gives each tensor's type in the
/// (real or virtual) BF16/F32 input file.
pub fn assign<'a>(
    out: OutType,
    tensors: impl Iterator<Item = (&'a str, &'a [u64], GgmlType)> + Clone,
    n_layer: usize,
    n_expert: usize,
) -> Vec<GgmlType> {
    let mut mix = Mixture::new(out, tensors.clone().map(|t| t.0), n_layer, n_expert);
    tensors.map(|(name, ne, input)| mix.pick(name, ne, input)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_more_bits_selects_the_spec_layers() {
        let attn_v: Vec<i64> = (0..25).filter(|&i| use_more_bits(i, 25)).collect();
        assert_eq!(attn_v, [0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23, 24]);
        let ffn_down: Vec<i64> = (0..30).filter(|&i| use_more_bits(i, 30)).collect();
        assert_eq!(ffn_down, [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]);
    }

    #[test]
    fn converter_rules_keep_small_tensors_f32() {
        assert_eq!(converter_type("blk.0.attn_norm.weight", &[256], OutType::BF16), GgmlType::F32);
        assert_eq!(converter_type("blk.0.ffn_gate_inp.weight", &[256, 8], OutType::Q8_0), GgmlType::F32);
        assert_eq!(converter_type("blk.0.ffn_gate_inp.scale", &[256], OutType::Q8_0), GgmlType::F32);
        assert_eq!(converter_type("blk.0.ffn_down_exps.weight", &[192, 256, 8], OutType::Q8_0), GgmlType::Q8_0);
        assert_eq!(converter_type("blk.0.attn_q.weight", &[40, 256], OutType::Q8_0), GgmlType::F16);
    }

    #[test]
    fn fallbacks_follow_llama_quantize() {
        assert_eq!(fallback(2112, GgmlType::Q4_K), GgmlType::Q5_0);
        assert_eq!(fallback(704, GgmlType::Q5_K), GgmlType::Q5_1);
        assert_eq!(fallback(704, GgmlType::Q6_K), GgmlType::Q8_0);
        assert_eq!(fallback(2816, GgmlType::Q6_K), GgmlType::Q6_K);
        assert_eq!(fallback(40, GgmlType::Q4_K), GgmlType::F16);
    }
}
