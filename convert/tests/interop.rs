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

use common::{generated, record_bytes, reference, sha256};
use dgemma_gguf::GgufFile;

/// Compares one dgemma file with a reference entry; every tensor and non-general record must match.
fn compare(file: &str, entry: &str) {
    let path = generated(file);
    let reference = reference();
    let want = &reference[entry];
    let ours = GgufFile::open(&path).unwrap();

    // Metadata: same non-general keys, same order, same record bytes.
    let order = common::reference_key_order();
    let want_keys: Vec<&String> = order[entry].iter().collect();
    let ours_keys: Vec<&str> = ours.metadata().map(|(k, _)| k).collect();
    let non_general = |v: Vec<&str>| v.into_iter().filter(|k| !k.starts_with("general.")).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(non_general(ours_keys), non_general(want_keys.iter().map(|k| k.as_str()).collect()), "{file}: metadata keys/order");
    for (k, v) in ours.metadata() {
        let w = &want["metadata"][k];
        if k.starts_with("general.") && k != "general.file_type" && k != "general.quantization_version" {
            continue;
        }
        assert_eq!(sha256(&record_bytes(&v)), w["sha256"].as_str().unwrap(), "{file}: record of {k}");
    }

    // Tensors.
    let want_t = want["tensors"].as_array().unwrap();
    assert_eq!(ours.tensors().len(), want_t.len(), "{file}: tensor count");
    for (i, (t, w)) in ours.tensor_views().zip(want_t).enumerate() {
        let name = &t.info.name;
        assert_eq!(name, w["name"].as_str().unwrap(), "{file}: tensor {i} name/order");
        assert_eq!(t.info.ggml_type.to_string(), w["type"].as_str().unwrap(), "{file}: {name} type");
        let ne: Vec<u64> = w["ne"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        assert_eq!(t.info.dims, ne, "{file}: {name} ne");
        assert_eq!(t.data.len() as u64, w["bytes"].as_u64().unwrap(), "{file}: {name} bytes");
        assert_eq!(sha256(t.data), w["sha256"].as_str().unwrap(), "{file}: {name} ({}) data differs from llama.cpp's", t.info.ggml_type);
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
    let out = GgufFile::open(generated("interop/bf16.gguf")).unwrap();
    let mut checked = 0;
    for src in &ckpt.tensors {
        let dgemma_convert::names::Mapping::Tensor(name) = dgemma_convert::names::map_hf_name(&src.name) else { continue };
        let t = out.require_tensor(&name).unwrap();
        let bytes = ckpt.bytes(src).unwrap();
        match t.info.ggml_type {
            dgemma_quant::GgmlType::BF16 => assert_eq!(t.data, bytes, "{name}"),
            dgemma_quant::GgmlType::F32 => {
                let widened: Vec<u8> = bytes.chunks_exact(2).flat_map(|c| ((u16::from_le_bytes([c[0], c[1]]) as u32) << 16).to_le_bytes()).collect();
                assert_eq!(t.data, &widened[..], "{name}");
            }
            other => panic!("{name}: unexpected type {other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, out.tensors().len() - 1, "every tensor but rope_freqs comes from the checkpoint");
}

#[test]
fn nano_fixtures_for_the_runtime_are_readable() {
    for t in ["f32", "bf16", "q8_0", "q4_k_m"] {
        let g = GgufFile::open(generated(&format!("nano-{t}.gguf"))).unwrap();
        assert_eq!(g.get_str("general.architecture").unwrap(), "diffusion-gemma");
        assert_eq!(g.tensors().len(), 143, "nano-{t}");
    }
}
