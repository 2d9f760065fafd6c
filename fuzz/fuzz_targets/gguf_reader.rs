//! Arbitrary bytes into the GGUF reader. Properties: no panic, no out-of-bounds read (ASan),
//! every parse error names an offset inside the input, and every accepted file survives a
//! rewrite with `GgufWriter` with the same metadata and tensor bytes.
#![no_main]

use dgemma_gguf::{GgufFile, GgufWriter, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let f = match GgufFile::from_bytes(data.to_vec()) {
        Ok(f) => f,
        Err(e) => {
            assert!(e.offset().is_some_and(|o| o <= len), "{e} (input {len} bytes)");
            return;
        }
    };
    if f.alignment() > 1 << 16 {
        // Valid (any power-of-two u32 is), but the rewrite would pad to gigabytes in memory.
        return;
    }
    let mut w = GgufWriter::new(Vec::new());
    let mut kept = Vec::new();
    for (k, v) in f.metadata() {
        if let Value::Array(a) = v {
            assert_eq!(a.iter().count(), a.len());
        }
        match w.add_value(k, v) {
            Ok(()) => kept.push(k),
            // The writer refuses empty arrays (gguf-py does too); the reader accepts them.
            Err(e) => assert!(matches!(v, Value::Array(a) if a.is_empty()), "{k}: {e}"),
        }
    }
    for t in f.tensors() {
        w.add_tensor_info(&t.name, &t.dims, t.ggml_type).expect("accepted tensor info");
    }
    for (i, t) in f.tensor_views().enumerate() {
        assert_eq!(t.data.len() as u64, t.info.n_bytes());
        if i % 2 == 0 {
            w.write_tensor_data(&t.info.name, t.data).expect("tensor data");
        } else {
            // Odd tensors go through the chunked path, split at an input-driven point.
            let (a, b) = t.data.split_at(data.len() % (t.data.len() + 1));
            w.write_tensor_chunk(a).expect("first chunk");
            if !b.is_empty() {
                w.write_tensor_chunk(b).expect("second chunk");
            }
        }
    }
    let again = GgufFile::from_bytes(w.finish().expect("finish")).expect("rewritten file parses");
    assert_eq!(again.n_kv(), kept.len());
    for k in kept {
        assert!(same_value(again.get(k), f.get(k)), "{k}");
    }
    for (a, b) in again.tensor_views().zip(f.tensor_views()) {
        assert_eq!((&a.info.name, &a.info.dims, a.info.ggml_type), (&b.info.name, &b.info.dims, b.info.ggml_type));
        assert_eq!(a.data, b.data);
    }
});

/// Equality that compares floats by bits, so NaN values (copied bit-exactly) compare equal.
fn same_value(a: Option<Value<'_>>, b: Option<Value<'_>>) -> bool {
    match (a, b) {
        (Some(Value::F32(x)), Some(Value::F32(y))) => x.to_bits() == y.to_bits(),
        (Some(Value::F64(x)), Some(Value::F64(y))) => x.to_bits() == y.to_bits(),
        (a, b) => a == b,
    }
}
