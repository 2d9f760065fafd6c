//! Shared helpers of the converter's integration tests: fixture paths (failing with the setup
//! hint when a generated fixture is missing), the reference JSON, sha256 of byte slices.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `tests/fixtures/generated/<rel>`, which must exist.
pub fn generated(rel: &str) -> PathBuf {
    let p = root().join("tests/fixtures/generated").join(rel);
    if !p.exists() {
        let err = p.with_file_name(format!("{}.error", p.file_name().unwrap().to_string_lossy()));
        let why = std::fs::read_to_string(&err).map(|e| format!("\nthe generator failed making it:\n{e}")).unwrap_or_default();
        panic!("missing fixture {}: run `bash tests/setup.sh`{why}", p.display());
    }
    p
}

/// `tests/fixtures/<rel>` (committed).
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// ../shared/interop/reference/gguf.json, parsed.
pub fn reference() -> serde_json::Value {
    let p = root().join("../shared/interop/reference/gguf.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e} (the shared interop data must sit beside the repository)", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// Hex sha256.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A scratch directory under target/, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let d = root().join("target/test-scratch/convert").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Metadata key order of every entry of reference/gguf.json (serde_json's map is sorted, so
/// the order is read with a visitor that keeps it).
pub fn reference_key_order() -> std::collections::HashMap<String, Vec<String>> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                    let mut v = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, IgnoredAny>()? {
                        v.push(k);
                    }
                    Ok(Keys(v))
                }
            }
            d.deserialize_map(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        metadata: Keys,
    }
    let p = root().join("../shared/interop/reference/gguf.json");
    let entries: std::collections::HashMap<String, Entry> = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    entries.into_iter().map(|(k, e)| (k, e.metadata.0)).collect()
}

/// A metadata record's value as stored (type field + payload), the bytes reference/gguf.json hashes.
pub fn record_bytes(v: &dgemma_gguf::Value) -> Vec<u8> {
    use dgemma_gguf::Value;
    let mut out = v.value_type().id().to_le_bytes().to_vec();
    match *v {
        Value::U8(x) => out.push(x),
        Value::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(x)),
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::String(s) => {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            out.extend_from_slice(&a.elem_type().id().to_le_bytes());
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            out.extend_from_slice(a.raw_bytes());
        }
    }
    out
}
