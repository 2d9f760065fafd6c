//! Shared by the integration tests: fixture paths and the JSON form of metadata values that
//! tests/fixtures/gguf/make_fixtures.py writes (floats as IEEE bit patterns).
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use dgemma_gguf::{GgufWriter, Value, ValueType};
use serde_json::{json, Value as Json};

/// Path of a generated fixture; panics (fails the test) with the fix if it is missing.
pub fn fixture(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/generated/gguf").join(name);
    assert!(p.exists(), "missing fixture {}: run `bash tests/setup.sh`", p.display());
    p
}

/// A fixture's JSON description.
pub fn fixture_json(name: &str) -> Json {
    let text = std::fs::read_to_string(fixture(name)).expect("read fixture json");
    serde_json::from_str(&text).expect("parse fixture json")
}

fn scalar_json(v: Value<'_>) -> Json {
    match v {
        Value::U8(x) => json!(x),
        Value::I8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::I32(x) => json!(x),
        Value::F32(x) => json!(x.to_bits()),
        Value::Bool(x) => json!(x),
        Value::String(x) => json!(x),
        Value::U64(x) => json!(x),
        Value::I64(x) => json!(x),
        Value::F64(x) => json!(x.to_bits()),
        Value::Array(_) => panic!("nested array"),
    }
}

/// `{"key", "type", ["elem_type",] "value"}` as the generator writes it.
pub fn kv_json(key: &str, v: Value<'_>) -> Json {
    match v {
        Value::Array(a) => json!({
            "key": key, "type": "ARRAY", "elem_type": a.elem_type().name(),
            "value": a.iter().map(scalar_json).collect::<Vec<_>>(),
        }),
        _ => json!({"key": key, "type": v.value_type().name(), "value": scalar_json(v)}),
    }
}

fn value_type(name: &str) -> ValueType {
    *ValueType::ALL.iter().find(|t| t.name() == name).unwrap_or_else(|| panic!("type {name}"))
}

macro_rules! nums {
    ($v:expr, $f:ident, $t:ty) => {
        $v.as_array().unwrap().iter().map(|x| x.$f().unwrap() as $t).collect::<Vec<$t>>()
    };
}

/// Add the KV described by `kv` (generator JSON) to `w`.
pub fn add_json_kv<W: std::io::Write>(w: &mut GgufWriter<W>, kv: &Json) {
    let key = kv["key"].as_str().unwrap();
    let v = &kv["value"];
    let r = match kv["type"].as_str().unwrap() {
        "ARRAY" => match value_type(kv["elem_type"].as_str().unwrap()) {
            ValueType::U8 => w.add_array(key, &nums!(v, as_u64, u8)),
            ValueType::I8 => w.add_array(key, &nums!(v, as_i64, i8)),
            ValueType::U16 => w.add_array(key, &nums!(v, as_u64, u16)),
            ValueType::I16 => w.add_array(key, &nums!(v, as_i64, i16)),
            ValueType::U32 => w.add_array(key, &nums!(v, as_u64, u32)),
            ValueType::I32 => w.add_array(key, &nums!(v, as_i64, i32)),
            ValueType::U64 => w.add_array(key, &nums!(v, as_u64, u64)),
            ValueType::I64 => w.add_array(key, &nums!(v, as_i64, i64)),
            ValueType::F32 => {
                w.add_array(key, &nums!(v, as_u64, u32).into_iter().map(f32::from_bits).collect::<Vec<_>>())
            }
            ValueType::F64 => {
                w.add_array(key, &nums!(v, as_u64, u64).into_iter().map(f64::from_bits).collect::<Vec<_>>())
            }
            ValueType::Bool => w.add_array(
                key,
                &v.as_array().unwrap().iter().map(|b| b.as_bool().unwrap()).collect::<Vec<_>>(),
            ),
            ValueType::String => w.add_str_array(
                key,
                &v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>(),
            ),
            ValueType::Array => panic!("nested array"),
        },
        t => match value_type(t) {
            ValueType::U8 => w.add_u8(key, v.as_u64().unwrap() as u8),
            ValueType::I8 => w.add_i8(key, v.as_i64().unwrap() as i8),
            ValueType::U16 => w.add_u16(key, v.as_u64().unwrap() as u16),
            ValueType::I16 => w.add_i16(key, v.as_i64().unwrap() as i16),
            ValueType::U32 => w.add_u32(key, v.as_u64().unwrap() as u32),
            ValueType::I32 => w.add_i32(key, v.as_i64().unwrap() as i32),
            ValueType::U64 => w.add_u64(key, v.as_u64().unwrap()),
            ValueType::I64 => w.add_i64(key, v.as_i64().unwrap()),
            ValueType::F32 => w.add_f32(key, f32::from_bits(v.as_u64().unwrap() as u32)),
            ValueType::F64 => w.add_f64(key, f64::from_bits(v.as_u64().unwrap())),
            ValueType::Bool => w.add_bool(key, v.as_bool().unwrap()),
            ValueType::String => w.add_str(key, v.as_str().unwrap()),
            ValueType::Array => unreachable!(),
        },
    };
    r.unwrap_or_else(|e| panic!("adding {key}: {e}"));
}

/// Decode a lower-case hex string.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
