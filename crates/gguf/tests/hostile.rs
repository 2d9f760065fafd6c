//! Hand-made broken and hostile files: each fails with the right typed error at the right byte,
//! without panicking or allocating what a count claims.

use dgemma_gguf::{GgmlType, GgufError, GgufFile, GgufWriter};

/// Little-endian byte builder for raw GGUF pieces.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        Raw(b"GGUF".to_vec()).u32(version).u64(n_tensors).u64(n_kv)
    }
    fn u32(mut self, v: u32) -> Raw {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Raw {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(mut self, b: &[u8]) -> Raw {
        self.0.extend_from_slice(b);
        self
    }
    fn str(self, s: &str) -> Raw {
        self.u64(s.len() as u64).bytes(s.as_bytes())
    }
    /// A tensor-info record.
    fn tensor(self, name: &str, dims: &[u64], ty: u32, offset: u64) -> Raw {
        let mut r = self.str(name).u32(dims.len() as u32);
        for &d in dims {
            r = r.u64(d);
        }
        r.u32(ty).u64(offset)
    }
    /// Zero padding to `align`, then `n` data bytes.
    fn data(mut self, align: usize, n: usize) -> Raw {
        let padded = self.0.len().next_multiple_of(align);
        self.0.resize(padded + n, 0xAB);
        self
    }
    fn parse(self) -> Result<GgufFile, GgufError> {
        GgufFile::from_bytes(self.0)
    }
}

fn err(r: Raw) -> GgufError {
    let e = r.parse().expect_err("hostile input was accepted");
    assert!(e.offset().is_some(), "parse error without an offset: {e}");
    assert!(e.to_string().starts_with(&format!("at byte {}", e.offset().unwrap())), "{e}");
    e
}

fn msg(r: Raw) -> (u64, String) {
    let e = err(r);
    (e.offset().unwrap(), e.to_string())
}

#[test]
fn header_magic_and_versions() {
    assert!(matches!(err(Raw(b"GGU".to_vec())), GgufError::Truncated { offset: 0, .. }));
    assert!(matches!(err(Raw(b"GGML\x03\0\0\0".to_vec())), GgufError::BadMagic { .. }));
    assert!(matches!(err(Raw::header(1, 0, 0)), GgufError::UnsupportedVersion { version: 1 }));
    assert!(matches!(err(Raw::header(0, 0, 0)), GgufError::UnsupportedVersion { version: 0 }));
    assert!(matches!(err(Raw::header(4, 0, 0)), GgufError::UnsupportedVersion { version: 4 }));
    assert!(matches!(err(Raw::header(3u32.swap_bytes(), 0, 0)), GgufError::ByteSwapped { .. }));
    assert!(matches!(err(Raw(b"GGUF\x03\0\0\0\0\0".to_vec())), GgufError::Truncated { offset: 8, .. }));
    // v2 and v3 share the layout; both parse.
    for v in [2, 3] {
        let f = Raw::header(v, 0, 1).str("k").u32(4).u32(9).parse().unwrap();
        assert_eq!((f.version(), f.get_u32("k").unwrap()), (v, 9));
    }
}

#[test]
fn huge_counts_fail_before_allocating() {
    let (off, m) = msg(Raw::header(3, 0, 1 << 60));
    assert_eq!(off, 16, "{m}");
    assert!(m.contains("metadata KV count 1152921504606846976"), "{m}");
    assert_eq!(msg(Raw::header(3, u64::MAX, 0)).0, 8);
    let (off, m) = msg(Raw::header(3, 0, 1).str("k").u32(9).u32(4).u64(1 << 62));
    assert_eq!(off, 24 + 9 + 4 + 4, "{m}");
    assert!(m.contains("array elements of key 'k'"), "{m}");
    // An array of 2^61 strings: each needs 8 bytes at least.
    assert_eq!(msg(Raw::header(3, 0, 1).str("k").u32(9).u32(8).u64(1 << 61)).0, 24 + 9 + 4 + 4);
}

#[test]
fn huge_or_truncated_strings() {
    let (off, m) = msg(Raw::header(3, 0, 1).u64(u64::MAX).bytes(b"abcdefghijklmn"));
    assert_eq!(off, 32, "{m}");
    assert!(m.contains("key of metadata KV #0"), "{m}");
    let (off, m) = msg(Raw::header(3, 0, 1).str("key").u32(8).u64(1 << 40).bytes(b"xyz"));
    assert_eq!(off, 24 + 11 + 4 + 8, "{m}");
    assert!(m.contains("string value of key 'key'"), "{m}");
    let e = err(Raw::header(3, 0, 1).str("k").u32(8).u64(2).bytes(&[0xff, 0xfe]));
    assert!(matches!(e, GgufError::InvalidUtf8 { offset: 45, .. }), "{e}");
    let e = err(Raw::header(3, 0, 1).u64(2).bytes(&[0xc3, 0x28]).u32(0).bytes(&[1]));
    assert!(matches!(e, GgufError::InvalidUtf8 { offset: 32, .. }), "{e}");
}

#[test]
fn bad_metadata_values() {
    let e = err(Raw::header(3, 0, 1).str("k").u32(13).u32(0));
    assert!(matches!(e, GgufError::UnknownValueType { id: 13, offset: 33, .. }), "{e}");
    let e = err(Raw::header(3, 0, 1).str("k").u32(9).u32(9).u64(1).u32(4).u64(0));
    assert!(matches!(e, GgufError::NestedArray { offset: 37, .. }), "{e}");
    let e = err(Raw::header(3, 0, 1).str("k").u32(9).u32(77).u64(0));
    assert!(matches!(e, GgufError::UnknownValueType { id: 77, .. }), "{e}");
    let e = err(Raw::header(3, 0, 1).str("k").u32(7).bytes(&[2]));
    assert!(matches!(e, GgufError::InvalidBool { offset: 37, byte: 2, .. }), "{e}");
    let e = err(Raw::header(3, 0, 2).str("k").u32(0).bytes(&[1]).str("k").u32(0).bytes(&[2]));
    assert!(matches!(e, GgufError::DuplicateKey { offset: 38, .. }), "{e}");
    for (ty, payload) in [(4u32, 48u32.to_le_bytes().to_vec()), (4, vec![0; 4]), (5, 32i32.to_le_bytes().to_vec())] {
        let e = err(Raw::header(3, 0, 1).str("general.alignment").u32(ty).bytes(&payload));
        assert!(matches!(e, GgufError::BadAlignment { offset: 24, .. }), "{e}");
    }
}

#[test]
fn bad_tensor_infos() {
    let one = |name: &str, dims: &[u64], ty: u32, off: u64| Raw::header(3, 1, 0).tensor(name, dims, ty, off).data(32, 64);
    let m = msg(one("t", &[1, 1, 1, 1, 1], 0, 0)).1;
    assert!(m.contains("n_dims is 5"), "{m}");
    assert!(msg(one("t", &[], 0, 0)).1.contains("n_dims is 0"));
    assert!(msg(one("t", &[1 << 32, 1 << 32, 1 << 32], 0, 0)).1.contains("overflows"));
    assert!(msg(one("t", &[1 << 63], 0, 0)).1.contains("negative"));
    let (off, m) = msg(one("blk.0.attn_q.weight", &[704, 2816], 12, 0));
    assert_eq!(off, 24);
    assert!(m.contains("tensor 'blk.0.attn_q.weight'") && m.contains("q4_K needs ne0 % 256 == 0"), "{m}");
    assert!(msg(one("t", &[4], 4, 0)).1.contains("unknown ggml type id 4"));
    assert!(msg(one("t", &[4], 1000, 0)).1.contains("unknown ggml type id 1000"));
    assert!(msg(one(&"x".repeat(64), &[4], 0, 0)).1.contains("at most 63"));
    let m = msg(one("t", &[4], 0, 4)).1;
    assert!(m.contains("not a multiple of the alignment 32"), "{m}");
    let (off, m) = msg(one("t", &[32], 0, 0));
    assert!(m.contains("past the end"), "{m}");
    assert_eq!(off, 24, "points at the tensor-info record");
    assert!(m.contains("at file byte 64"), "data starts at the aligned end of the infos: {m}");
    assert!(msg(one("t", &[4], 0, u64::MAX - 31)).1.contains("overflows"));
    // Truncated in the middle of a tensor-info record.
    let e = err(Raw::header(3, 1, 0).str("tensor").u32(4).u64(4).u64(4));
    assert!(matches!(e, GgufError::Truncated { offset: 58, .. }), "{e}");
    assert!(e.to_string().contains("dim 2 of tensor 'tensor'"), "{e}");
}

#[test]
fn duplicate_and_overlapping_tensors() {
    let e = err(Raw::header(3, 2, 0).tensor("a", &[4], 0, 0).tensor("a", &[4], 0, 32).data(32, 64));
    assert!(matches!(e, GgufError::DuplicateTensor { offset: 57, .. }), "{e}");
    let m = msg(Raw::header(3, 2, 0).tensor("a", &[16], 0, 0).tensor("b", &[4], 0, 32).data(32, 64)).1;
    assert!(m.contains("overlaps tensor 'a'"), "{m}");
    // An empty tensor inside another does not hide a later real overlap.
    let r = Raw::header(3, 3, 0).tensor("a", &[32], 0, 0).tensor("e", &[0], 0, 32).tensor("b", &[8], 0, 64);
    assert!(msg(r.data(32, 256)).1.contains("overlaps tensor 'a'"));
}

#[test]
fn lenient_where_safe_gaps_and_reordering_are_accepted() {
    // llama.cpp insists on contiguous offsets in info order; we only need them aligned, in bounds
    // and disjoint (docs/decisions.md).
    let f = Raw::header(3, 2, 0).tensor("a", &[4], 0, 64).tensor("b", &[4], 0, 0).data(32, 96).parse().unwrap();
    assert_eq!(f.tensor("a").unwrap().data.len(), 16);
    assert_eq!(f.tensor("b").unwrap().info.offset, 0);
    assert!(f.tensor("zz").is_none());
    assert!(f.require_tensor("zz").unwrap_err().to_string().contains("'zz'"));
    // Found by fuzzing: a tiny file may declare a 2 GiB alignment; with no tensors it is valid
    // (nothing needs the data section), and parsing it allocates nothing for the padding.
    let f = Raw::header(3, 0, 1).str("general.alignment").u32(4).u32(1 << 31).parse().unwrap();
    assert_eq!((f.alignment(), f.data_offset()), (1 << 31, 1 << 31));
}

#[test]
fn writer_files_survive_the_reader_with_custom_alignment() {
    let mut w = GgufWriter::new(Vec::new());
    w.add_u32("general.alignment", 256).unwrap();
    w.add_tensor_info("a", &[3], GgmlType::F32).unwrap();
    w.add_tensor_info("b", &[32], GgmlType::Q8_0).unwrap();
    w.write_tensor_data("a", &[1; 12]).unwrap();
    w.write_tensor_data("b", &[2; 34]).unwrap();
    let bytes = w.finish().unwrap();
    let f = GgufFile::from_bytes(bytes.clone()).unwrap();
    assert_eq!((f.alignment(), f.data_offset() % 256, f.tensor("b").unwrap().info.offset), (256, 0, 256));
    assert_eq!(bytes.len() as u64, f.data_offset() + 512);
}
