//! Tensor-for-tensor interop with llama.cpp (this file lives in convert/tests so that
//! `cargo test --workspace` runs it; its gguf-py half is tests/interop/check_gguf.py): dgemma's outputs for the interop checkpoint
//! (made by tests/fixtures/generate.d/40-interop.sh) against what llama.cpp's converter and
//! llama-quantize wrote for the same checkpoint (../shared/interop/reference/gguf.json): tensor
//! names and order, ggml types, `ne`, sha256 of the data, and every non-`general.*` metadata
//! record (type + sha256 of its bytes) in order. Each file is also read back by dgemma's
//! reader (dgemma-gguf) here and by gguf-py's GGUFReader in the generator (its report,
//! `NAME.check.json`, is asserted on).
//!
//! Every byte is asserted: tensor data of every type (K-quants included, see docs/interop.md),
//! all types, all non-`general.*` metadata records and their order.

mod common;

use std::collections::HashMap;

use common::{generated, reference, sha256};
use dgemma_convert::gguf_read::GgufInput;
use dgemma_convert::meta_value::MetaValue;
use dgemma_gguf::GgufFile;

/// Compares one dgemma file with a reference entry; every tensor and non-general record must match.
fn compare(file: &str, entry: &str) {
    let path = generated(file);
    let reference = reference();
    let want = &reference[entry];
    let ours = GgufInput::open(&path).unwrap();

    // Metadata: same non-general keys, same order, same record bytes.
    let order = common::reference_key_order();
    let want_keys: Vec<&String> = order[entry].iter().collect();
    let ours_keys: Vec<&String> = ours.metadata.entries().iter().map(|(k, _)| k).collect();
    let non_general = |v: &Vec<&String>| v.iter().filter(|k| !k.starts_with("general.")).map(|k| k.to_string()).collect::<Vec<_>>();
    assert_eq!(non_general(&ours_keys), non_general(&want_keys), "{file}: metadata keys/order");
    for (k, v) in ours.metadata.entries() {
        let MetaValue::Raw(bytes) = v else { unreachable!() };
        let w = &want["metadata"][k];
        if k.starts_with("general.") && k != "general.file_type" && k != "general.quantization_version" {
            continue;
        }
        assert_eq!(sha256(bytes), w["sha256"].as_str().unwrap(), "{file}: record of {k}");
    }

    // Tensors.
    let want_t = want["tensors"].as_array().unwrap();
    assert_eq!(ours.tensors.len(), want_t.len(), "{file}: tensor count");
    for (i, (t, w)) in ours.tensors.iter().zip(want_t).enumerate() {
        assert_eq!(t.name, w["name"].as_str().unwrap(), "{file}: tensor {i} name/order");
        assert_eq!(t.ty.to_string(), w["type"].as_str().unwrap(), "{file}: {} type", t.name);
        let ne: Vec<u64> = w["ne"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        assert_eq!(t.ne, ne, "{file}: {} ne", t.name);
        assert_eq!(ours.data(i).len() as u64, w["bytes"].as_u64().unwrap(), "{file}: {} bytes", t.name);
        assert_eq!(sha256(ours.data(i)), w["sha256"].as_str().unwrap(), "{file}: {} ({}) data differs from llama.cpp's", t.name, t.ty);
    }

    // dgemma's own reader sees the same table and metadata.
    let g = GgufFile::open(&path).unwrap();
    assert_eq!(g.n_kv(), ours.metadata.len(), "{file}: dgemma-gguf key count");
    for (a, b) in g.tensors().iter().zip(&ours.tensors) {
        assert_eq!((&a.name, &a.dims, a.ggml_type), (&b.name, &b.ne, b.ty), "{file}: dgemma-gguf tensor");
    }

    // gguf-py's read-back report from the generator.
    let report_path = generated(&file.replace(".gguf", ".check.json"));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report_path).unwrap()).unwrap();
    assert_eq!(report["tensors"].as_u64(), Some(want_t.len() as u64), "{file}: gguf-py tensor count");
    assert_eq!(report["keys"].as_u64(), Some(want_keys.len() as u64), "{file}: gguf-py key count");
    assert_eq!(report["failures"].as_array().unwrap().len(), 0, "{file}: gguf-py check failed: {}", report["failures"]);
}

#[test]
fn converter_types_match_llama_cpp_byte_for_byte() {
    for t in ["f32", "f16", "bf16", "q8_0"] {
        compare(&format!("interop/{t}.gguf"), &format!("interop-{t}.gguf"));
    }
}

#[test]
fn quantize_of_bf16_matches_llama_quantize_byte_for_byte() {
    for (file, entry) in [
        ("q4_0", "Q4_0"),
        ("quant-q8_0", "Q8_0"),
        ("q4_k_m", "Q4_K_M"),
        ("q5_k_m", "Q5_K_M"),
        ("q6_k", "Q6_K"),
    ] {
        compare(&format!("interop/{file}.gguf"), &format!("interop-bf16-{entry}.gguf"));
    }
}

#[test]
fn bf16_output_is_bit_exact_to_the_source_checkpoint() {
    let ckpt = dgemma_convert::source::Checkpoint::open(&generated("interop-ckpt")).unwrap();
    let out = GgufInput::open(&generated("interop/bf16.gguf")).unwrap();
    let index: HashMap<&str, usize> = out.tensors.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    let mut checked = 0;
    for src in &ckpt.tensors {
        let dgemma_convert::names::Mapping::Tensor(name) = dgemma_convert::names::map_hf_name(&src.name) else { continue };
        let i = index[name.as_str()];
        let bytes = ckpt.bytes(src).unwrap();
        match out.tensors[i].ty {
            dgemma_quant::GgmlType::BF16 => assert_eq!(out.data(i), bytes, "{name}"),
            dgemma_quant::GgmlType::F32 => {
                let widened: Vec<u8> = bytes.chunks_exact(2).flat_map(|c| ((u16::from_le_bytes([c[0], c[1]]) as u32) << 16).to_le_bytes()).collect();
                assert_eq!(out.data(i), &widened[..], "{name}");
            }
            other => panic!("{name}: unexpected type {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, out.tensors.len() - 1, "every tensor but rope_freqs comes from the checkpoint");
}

#[test]
fn nano_fixtures_for_the_runtime_are_readable() {
    for t in ["f32", "bf16", "q8_0", "q4_k_m"] {
        let g = GgufFile::open(generated(&format!("nano-{t}.gguf"))).unwrap();
        assert_eq!(g.get_str("general.architecture").unwrap(), "diffusion-gemma");
        assert_eq!(g.tensors().len(), 143, "nano-{t}");
    }
}
