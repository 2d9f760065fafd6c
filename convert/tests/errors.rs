//! Bad input gives a typed error naming what is wrong, never a panic: checkpoints derived from
//! the committed nano checkpoint (tests/fixtures/nano) with one defect each.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture, scratch};
use dgemma_convert::{convert, quantize_gguf, ConvertError, ConvertOptions, OutType, QuantizeOptions};
use safetensors::{Dtype, SafeTensors};

type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

fn nano_tensors() -> Tensors {
    let bytes = std::fs::read(fixture("nano/model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Tensors = st.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// A copy of the nano checkpoint in a scratch dir with `tensors` as its weights.
fn checkpoint(name: &str, tensors: &Tensors) -> PathBuf {
    let dir = scratch(name);
    for f in ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixture(&format!("nano/{f}")), dir.join(f)).unwrap();
    }
    write_st(&dir.join("model.safetensors"), tensors);
    dir
}

fn write_st(path: &Path, tensors: &Tensors) {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn run(dir: &Path, ty: OutType) -> Result<dgemma_convert::Summary, ConvertError> {
    convert(&ConvertOptions { input: dir.to_path_buf(), output: dir.join("out.gguf"), out_type: ty, force: true, progress: false })
}

#[test]
fn unmodified_nano_copy_converts() {
    let dir = checkpoint("ok", &nano_tensors());
    let s = run(&dir, OutType::Q8_0).unwrap();
    assert_eq!(s.n_tensors, 143);
    assert_eq!(std::fs::metadata(dir.join("out.gguf")).unwrap().len(), s.bytes);
}

#[test]
fn missing_tensor_is_named() {
    let t: Tensors = nano_tensors().into_iter().filter(|t| t.0 != "model.decoder.layers.3.mlp.up_proj.weight").collect();
    let err = run(&checkpoint("missing", &t), OutType::F32).unwrap_err();
    assert!(matches!(&err, ConvertError::MissingTensor(n) if n == "blk.3.ffn_up.weight"), "{err}");
    assert!(!checkpoint_out_exists("missing"));
}

fn checkpoint_out_exists(name: &str) -> bool {
    let d = common::root().join("target/test-scratch/convert").join(name);
    d.join("out.gguf").exists() || d.join("out.gguf.tmp").exists()
}

#[test]
fn shape_that_disagrees_with_config_is_named() {
    let mut t = nano_tensors();
    let e = t.iter_mut().find(|t| t.0 == "model.decoder.layers.1.self_attn.q_proj.weight").unwrap();
    e.2.reverse();
    let err = run(&checkpoint("shape", &t), OutType::F32).unwrap_err();
    assert!(matches!(&err, ConvertError::ShapeMismatch { name, .. } if name.contains("layers.1.self_attn.q_proj")), "{err}");
}

#[test]
fn non_finite_values_are_counted() {
    let mut t = nano_tensors();
    let e = t.iter_mut().find(|t| t.0 == "model.decoder.layers.0.mlp.gate_proj.weight").unwrap();
    assert_eq!(e.1, Dtype::BF16);
    e.3[0..2].copy_from_slice(&0x7FC0u16.to_le_bytes()); // NaN
    e.3[2..4].copy_from_slice(&0x7F80u16.to_le_bytes()); // +inf
    let err = run(&checkpoint("nan", &t), OutType::Q8_0).unwrap_err();
    assert!(matches!(&err, ConvertError::NonFinite { name, count: 2 } if name == "blk.0.ffn_gate.weight"), "{err}");
    assert!(!checkpoint_out_exists("nan"), "no partial output is left behind");
}

#[test]
fn unknown_and_unsupported_tensors_are_rejected() {
    let mut t = nano_tensors();
    t.push(("model.decoder.layers.0.mystery.weight".into(), Dtype::BF16, vec![2], vec![0; 4]));
    let err = run(&checkpoint("unknown", &t), OutType::F32).unwrap_err();
    assert!(matches!(&err, ConvertError::UnknownTensor(n) if n.contains("mystery")), "{err}");

    let mut t = nano_tensors();
    let e = t.iter_mut().find(|t| t.0 == "model.decoder.norm.weight").unwrap();
    let n: usize = e.2.iter().product();
    e.1 = Dtype::I16;
    e.3 = vec![0; 2 * n];
    let err = run(&checkpoint("dtype", &t), OutType::F32).unwrap_err();
    assert!(matches!(&err, ConvertError::UnsupportedDtype { name, .. } if name == "model.decoder.norm.weight"), "{err}");
}

#[test]
fn truncated_safetensors_is_an_error() {
    let dir = checkpoint("truncated", &nano_tensors());
    let p = dir.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let err = run(&dir, OutType::F32).unwrap_err();
    assert!(matches!(err, ConvertError::Safetensors { .. }), "{err}");
    std::fs::write(&p, &bytes[..5]).unwrap();
    assert!(matches!(run(&dir, OutType::F32).unwrap_err(), ConvertError::Safetensors { .. }));
}

#[test]
fn shards_must_match_the_index() {
    let t = nano_tensors();
    let dir = checkpoint("shards", &t);
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let (a, b) = t.split_at(t.len() / 2);
    write_st(&dir.join("model-00001-of-00002.safetensors"), &a.to_vec());
    write_st(&dir.join("model-00002-of-00002.safetensors"), &b.to_vec());
    let map: serde_json::Map<String, serde_json::Value> = t
        .iter()
        .enumerate()
        .map(|(i, x)| (x.0.clone(), format!("model-0000{}-of-00002.safetensors", 1 + usize::from(i >= a.len())).into()))
        .collect();
    let index = serde_json::json!({ "metadata": {}, "weight_map": map });
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    // Sharded conversion gives the same file as the single-file one.
    run(&dir, OutType::BF16).unwrap();
    let single = checkpoint("single", &t);
    run(&single, OutType::BF16).unwrap();
    let (x, y) = (std::fs::read(dir.join("out.gguf")).unwrap(), std::fs::read(single.join("out.gguf")).unwrap());
    // general.name differs (directory name); compare the data section, which ends both files.
    let tail = 4_000_000.min(x.len());
    assert_eq!(x[x.len() - tail..], y[y.len() - tail..]);

    write_st(&dir.join("model-extra.safetensors"), &a[..1].to_vec());
    let err = run(&dir, OutType::F32).unwrap_err();
    assert!(matches!(&err, ConvertError::ExtraShard { shard, .. } if shard == "model-extra.safetensors"), "{err}");
    std::fs::remove_file(dir.join("model-extra.safetensors")).unwrap();
    std::fs::remove_file(dir.join("model-00002-of-00002.safetensors")).unwrap();
    let err = run(&dir, OutType::F32).unwrap_err();
    assert!(matches!(&err, ConvertError::MissingShard { shard, .. } if shard == "model-00002-of-00002.safetensors"), "{err}");
}

fn edit_config(name: &str, f: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir = checkpoint(name, &nano_tensors());
    let p = dir.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut cfg);
    std::fs::write(&p, cfg.to_string()).unwrap();
    dir
}

#[test]
fn config_problems_are_named() {
    let dir = edit_config("arch", |c| c["architectures"] = serde_json::json!(["LlamaForCausalLM"]));
    assert!(matches!(run(&dir, OutType::F32).unwrap_err(), ConvertError::WrongArchitecture { found, .. } if found == "LlamaForCausalLM"));

    let dir = edit_config("nokey", |c| {
        c["text_config"].as_object_mut().unwrap().remove("hidden_size");
    });
    assert!(matches!(run(&dir, OutType::F32).unwrap_err(), ConvertError::MissingKey { key, .. } if key == "hidden_size"));

    let dir = edit_config("rope", |c| c["text_config"]["rope_parameters"]["full_attention"]["rope_type"] = "yarn".into());
    let err = run(&dir, OutType::F32).unwrap_err();
    assert!(matches!(&err, ConvertError::Unsupported { msg, .. } if msg.contains("yarn")), "{err}");

    let dir = edit_config("ropefactor", |c| c["text_config"]["rope_parameters"]["sliding_attention"]["factor"] = 8.0.into());
    assert!(matches!(run(&dir, OutType::F32).unwrap_err(), ConvertError::Unsupported { .. }));
}

#[test]
fn per_layer_config_spelling_gives_the_same_file() {
    let plain = checkpoint("plc-plain", &nano_tensors());
    run(&plain, OutType::F32).unwrap();
    let plc = edit_config("plc-saved", |c| {
        let t = c["text_config"].as_object_mut().unwrap();
        let hd = t.remove("global_head_dim").unwrap();
        let kv = t.remove("num_global_key_value_heads").unwrap();
        t.insert("per_layer_config".into(), serde_json::json!({
            "2": {"head_dim": hd, "num_key_value_heads": kv},
            "5": {"head_dim": hd, "num_key_value_heads": kv}
        }));
    });
    run(&plc, OutType::F32).unwrap();
    let a = dgemma_gguf::GgufFile::open(plain.join("out.gguf")).unwrap();
    let b = dgemma_gguf::GgufFile::open(plc.join("out.gguf")).unwrap();
    let strip = |f: &dgemma_gguf::GgufFile| f.metadata().filter(|(k, _)| *k != "general.name").map(|(k, v)| (k.to_string(), format!("{v:?}"))).collect::<Vec<_>>();
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a.tensors(), b.tensors());
}

#[test]
fn existing_output_needs_force() {
    let dir = checkpoint("exists", &nano_tensors());
    std::fs::write(dir.join("out.gguf"), b"keep me").unwrap();
    let err = convert(&ConvertOptions { input: dir.clone(), output: dir.join("out.gguf"), out_type: OutType::F32, force: false, progress: false }).unwrap_err();
    assert!(matches!(err, ConvertError::OutputExists(_)));
    assert_eq!(std::fs::read(dir.join("out.gguf")).unwrap(), b"keep me");
}

#[test]
fn quantize_refuses_quantized_input_and_bad_files() {
    let dir = checkpoint("requant", &nano_tensors());
    run(&dir, OutType::Q8_0).unwrap();
    let q = |input: &Path, allow: bool| {
        quantize_gguf(&QuantizeOptions {
            input: input.to_path_buf(),
            output: dir.join("re.gguf"),
            out_type: OutType::Q4_0,
            allow_requantize: allow,
            force: true,
            progress: false,
        })
    };
    let err = q(&dir.join("out.gguf"), false).unwrap_err();
    assert!(matches!(&err, ConvertError::Requantize { from, .. } if from == "Q8_0"), "{err}");
    q(&dir.join("out.gguf"), true).unwrap();

    let bytes = std::fs::read(dir.join("out.gguf")).unwrap();
    for cut in [3, 20, 1000, bytes.len() / 2] {
        std::fs::write(dir.join("cut.gguf"), &bytes[..cut]).unwrap();
        assert!(matches!(q(&dir.join("cut.gguf"), true).unwrap_err(), ConvertError::BadGguf { .. }), "cut at {cut}");
    }
}
