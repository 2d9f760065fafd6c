//! Byte-for-byte (quantize) and bit-for-bit (dequantize) agreement with ggml's C reference
//! functions and gguf-py, on the cases written by tests/fixtures/quant/make_quant_fixtures.py.
//! Every mismatch is reported with its first differing block.

mod common;

use dgemma_quant::{dequantize, quantize, GgmlType};
use serde_json::Value;

fn ggml_type(name: &str) -> GgmlType {
    GgmlType::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .unwrap_or_else(|| panic!("manifest names unknown type {name}"))
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// A file of the block fixtures (manifest paths are relative to `blocks/`).
fn block_file(rel: &str) -> Vec<u8> {
    common::read(&format!("blocks/{rel}"))
}

fn field<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry[key].as_str().unwrap_or_else(|| panic!("manifest entry without {key}: {entry}"))
}

/// The entries of one manifest list, with a check that every `types` entry is covered.
fn entries(list: &str, types: &[&str]) -> Vec<Value> {
    let manifest = common::read_json("blocks/manifest.json");
    let list = manifest[list].as_array().cloned().unwrap_or_default();
    for ty in types {
        let n = list.iter().filter(|e| e["type"] == *ty).count();
        assert!(n >= 3, "manifest has only {n} entries for {ty}; regenerate the fixtures");
    }
    list
}

const QUANTIZED: [&str; 13] =
    ["f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K"];

#[test]
fn quantize_matches_ggml_c_and_gguf_py_byte_for_byte() {
    let mut failures = Vec::new();
    let list = entries("quantize", &QUANTIZED);
    for e in &list {
        let ty = ggml_type(field(e, "type"));
        let x = f32s(&block_file(field(e, "input")));
        let want = block_file(field(e, "expected"));
        let mut got = vec![0u8; want.len()];
        if let Err(err) = quantize(ty, &x, &mut got) {
            failures.push(format!("{ty} {}: {err}", field(e, "case")));
            continue;
        }
        if let Some(pos) = got.iter().zip(&want).position(|(a, b)| a != b) {
            let (bs, ts) = (ty.block_size(), ty.type_size());
            let blk = pos / ts;
            failures.push(format!(
                "{ty} {} (vs {}): block {blk} differs first at byte {}\n  expected {:02x?}\n  got      {:02x?}\n  input    {:?}",
                field(e, "case"),
                field(e, "source"),
                pos % ts,
                &want[blk * ts..(blk + 1) * ts],
                &got[blk * ts..(blk + 1) * ts],
                &x[blk * bs..(blk + 1) * bs],
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} quantize cases differ:\n{}", failures.len(), list.len(), failures.join("\n"));
}

#[test]
fn dequantize_matches_gguf_py_and_ggml_c_bit_for_bit() {
    let mut failures = Vec::new();
    let list = entries("dequantize", &QUANTIZED);
    let mut random_cases = 0;
    for e in &list {
        let ty = ggml_type(field(e, "type"));
        let src = block_file(field(e, "input"));
        let want = f32s(&block_file(field(e, "expected")));
        random_cases += usize::from(field(e, "case") == "random_bytes");
        let mut got = vec![0f32; want.len()];
        if let Err(err) = dequantize(ty, &src, &mut got) {
            failures.push(format!("{ty} {}: {err}", field(e, "case")));
            continue;
        }
        let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        if let Some(i) = got.iter().zip(&want).position(|(a, b)| !same(*a, *b)) {
            let (bs, ts) = (ty.block_size(), ty.type_size());
            let blk = i / bs;
            failures.push(format!(
                "{ty} {} (vs {}): element {i} (block {blk}): expected {:e} ({:#010x}), got {:e} ({:#010x})\n  block bytes {:02x?}",
                field(e, "case"),
                field(e, "source"),
                want[i],
                want[i].to_bits(),
                got[i],
                got[i].to_bits(),
                &src[blk * ts..(blk + 1) * ts],
            ));
        }
    }
    assert!(random_cases >= QUANTIZED.len(), "random-byte dequantize cases missing");
    assert!(failures.is_empty(), "{} of {} dequantize cases differ:\n{}", failures.len(), list.len(), failures.join("\n"));
}
