//! Against gguf-py 0.19.0: the files its `GGUFWriter` wrote (tests/fixtures/gguf/make_fixtures.py)
//! read back as described, and our writer reproduces them byte for byte.

mod common;

use common::{add_json_kv, fixture, fixture_json, kv_json, unhex};
use dgemma_gguf::{GgmlType, GgufFile, GgufWriter};

const FIXTURES: [&str; 3] = ["all-types", "aligned-64", "no-tensors"];

fn tensors(desc: &serde_json::Value) -> &Vec<serde_json::Value> {
    desc["tensors"].as_array().unwrap()
}

fn dims(t: &serde_json::Value) -> Vec<u64> {
    t["ne"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect()
}

#[test]
fn reader_finds_exactly_what_gguf_py_wrote() {
    for name in FIXTURES {
        let desc = fixture_json(&format!("{name}.json"));
        let f = GgufFile::open(fixture(&format!("{name}.gguf"))).unwrap();
        assert_eq!(f.version(), 3);
        assert_eq!(f.alignment(), desc["alignment"].as_u64().unwrap(), "{name}");
        let kvs: Vec<_> = f.metadata().map(|(k, v)| kv_json(k, v)).collect();
        assert_eq!(&kvs, desc["kvs"].as_array().unwrap(), "{name}: metadata");
        let expected = tensors(&desc);
        assert_eq!(f.tensors().len(), expected.len(), "{name}");
        for (t, e) in f.tensor_views().zip(expected) {
            assert_eq!(t.info.name, e["name"].as_str().unwrap());
            assert_eq!(t.info.dims, dims(e), "{name}: {}", t.info.name);
            assert_eq!(t.info.ggml_type.id() as u64, e["type"].as_u64().unwrap());
            assert_eq!(t.data, unhex(e["data_hex"].as_str().unwrap()), "{name}: {}", t.info.name);
        }
    }
}

#[test]
fn writer_output_is_byte_identical_to_gguf_py() {
    for name in FIXTURES {
        let desc = fixture_json(&format!("{name}.json"));
        let mut w = GgufWriter::new(Vec::new());
        for kv in desc["kvs"].as_array().unwrap() {
            add_json_kv(&mut w, kv);
        }
        for t in tensors(&desc) {
            let ty = GgmlType::from_id(t["type"].as_u64().unwrap() as u32).unwrap();
            w.add_tensor_info(t["name"].as_str().unwrap(), &dims(t), ty).unwrap();
        }
        for t in tensors(&desc) {
            w.write_tensor_data(t["name"].as_str().unwrap(), &unhex(t["data_hex"].as_str().unwrap())).unwrap();
        }
        let ours = w.finish().unwrap();
        let theirs = std::fs::read(fixture(&format!("{name}.gguf"))).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}: size");
        let first_diff = ours.iter().zip(&theirs).position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "{name}: first differing byte");
    }
}
