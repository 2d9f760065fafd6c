//! `--estimate`: exact sizes from a config, through the converter's own tensor list and type
//! decisions. Checked against the published 26B files (sizes from their download manifests,
//! ../shared/spec/gguf.md §4.4) and against real conversions of the interop checkpoint.

mod common;

use common::{fixture, generated, scratch};
use dgemma_convert::{convert, estimate, estimate_from_config, ConvertOptions, HeaderSize, ModelParams, OutType};

/// Data offset of the published Unsloth quantized files.
const PUBLISHED_HEADER: u64 = 15_824_736;

#[test]
fn published_26b_sizes_are_reproduced_to_the_byte() {
    let (_, est, _) = estimate_from_config(&fixture("config-26b/config.json"), Some(PUBLISHED_HEADER)).unwrap();
    let size = |t: OutType| est.iter().find(|e| e.out == t).unwrap().bytes;
    assert_eq!(size(OutType::Q4_K_M), 16_806_810_336);
    assert_eq!(size(OutType::Q6_K), 22_654_490_592);
    assert_eq!(size(OutType::Q8_0), 26_878_831_328);
}

#[test]
fn estimate_equals_the_size_of_every_real_conversion() {
    let ckpt = generated("interop-ckpt");
    let (p, est, with_tok) = estimate_from_config(&ckpt.join("config.json"), None).unwrap();
    assert!(with_tok);
    assert_eq!(p.n_layer, 6);
    for e in &est {
        let file = match e.out {
            OutType::Q8_0 => "interop/q8_0.gguf".to_string(),
            t => format!("interop/{}.gguf", t.name()),
        };
        let real = std::fs::metadata(generated(&file)).unwrap().len();
        assert_eq!(e.bytes, real, "{}", e.out);
    }
}

#[test]
fn direct_kquant_conversion_equals_quantize_of_the_bf16_file() {
    let ckpt = generated("interop-ckpt");
    let dir = scratch("direct");
    for t in [OutType::Q4_K_M, OutType::Q4_0] {
        let out = dir.join(format!("{}.gguf", t.name()));
        convert(&ConvertOptions { input: ckpt.clone(), output: out.clone(), out_type: t, force: true, progress: false }).unwrap();
        let direct = std::fs::read(&out).unwrap();
        let via_bf16 = std::fs::read(generated(&format!("interop/{}.gguf", t.name()))).unwrap();
        assert!(direct == via_bf16, "{t}: direct conversion differs from quantize(bf16)");
    }
}

#[test]
fn a_given_header_adds_only_tensor_bytes() {
    let p = ModelParams::from_file(&fixture("config-26b/config.json")).unwrap();
    let a = estimate(&p, &HeaderSize::Given(0)).unwrap();
    let b = estimate(&p, &HeaderSize::Given(32)).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(y.bytes - x.bytes, 32);
    }
    // BF16 and F16 have the same size; Q4_K_M < Q5_K_M < Q6_K < Q8_0 < BF16 < F32.
    let s = |t: OutType| a.iter().find(|e| e.out == t).unwrap().bytes;
    assert_eq!(s(OutType::BF16), s(OutType::F16));
    assert!(s(OutType::Q4_K_M) < s(OutType::Q5_K_M) && s(OutType::Q5_K_M) < s(OutType::Q6_K));
    assert!(s(OutType::Q6_K) < s(OutType::Q8_0) && s(OutType::Q8_0) < s(OutType::BF16) && s(OutType::BF16) < s(OutType::F32));
}

#[test]
fn mixtures_of_the_26b_follow_the_spec_table() {
    use dgemma_convert::names::expected_tensors;
    use dgemma_convert::plan::file_types;
    use dgemma_quant::GgmlType::*;
    let p = ModelParams::from_file(&fixture("config-26b/config.json")).unwrap();
    let shapes = expected_tensors(&p, p.vocab_size);
    assert_eq!(shapes.len(), 692);
    let types = |out| -> std::collections::HashMap<String, dgemma_quant::GgmlType> {
        shapes.iter().map(|t| t.name.clone()).zip(file_types(out, &shapes, &p)).collect()
    };
    let q4km = types(OutType::Q4_K_M);
    let attn_v_q6k = [0, 1, 2, 6, 9, 13, 16, 20, 24, 25, 26, 27, 28];
    let down_q6k = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29];
    for l in 0..30 {
        if let Some(&t) = q4km.get(&format!("blk.{l}.attn_v.weight")) {
            assert_eq!(t, if attn_v_q6k.contains(&l) { Q6_K } else { Q4_K }, "attn_v {l}");
        }
        let down = if down_q6k.contains(&l) { Q8_0 } else { Q5_0 };
        assert_eq!(q4km[&format!("blk.{l}.ffn_down_exps.weight")], down, "ffn_down_exps {l}");
        assert_eq!(q4km[&format!("blk.{l}.ffn_down.weight")], down, "ffn_down {l}");
        assert_eq!(q4km[&format!("blk.{l}.attn_k.weight")], Q4_K);
        assert_eq!(q4km[&format!("blk.{l}.attn_output.weight")], Q4_K);
        assert_eq!(q4km[&format!("blk.{l}.ffn_gate_up_exps.weight")], Q4_K);
        assert_eq!(q4km[&format!("blk.{l}.ffn_gate_inp.weight")], F32);
    }
    assert_eq!(q4km.values().filter(|&&t| t == Q6_K).count(), 14, "token_embd + 13 attn_v");
    assert_eq!(q4km["token_embd.weight"], Q6_K);
    assert_eq!(q4km["self_cond_down.weight"], Q5_0);
    assert_eq!(q4km["self_cond_gate.weight"], Q4_K);
    let q5km = types(OutType::Q5_K_M);
    assert_eq!(q5km["blk.3.ffn_down_exps.weight"], Q5_1);
    assert_eq!(q5km["blk.3.attn_q.weight"], Q5_K);
    let q8 = types(OutType::Q8_0);
    assert_eq!(q8["token_embd.weight"], Q8_0);
    assert_eq!(q8["blk.0.attn_norm.weight"], F32);
    let q40 = types(OutType::Q4_0);
    assert_eq!(q40["token_embd.weight"], Q6_K);
    assert_eq!(q40["blk.7.ffn_down_exps.weight"], Q4_0);
}
