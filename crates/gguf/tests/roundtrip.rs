//! Writer -> reader round trip over every value type and a few tensor types.

use dgemma_gguf::{GgmlType, GgufFile, GgufWriter, Value, ValueType};

fn sample() -> Vec<u8> {
    let mut w = GgufWriter::new(Vec::new());
    w.add_str("general.architecture", "diffusion-gemma").unwrap();
    w.add_u8("t.u8", 200).unwrap();
    w.add_i8("t.i8", -5).unwrap();
    w.add_u16("t.u16", 65000).unwrap();
    w.add_i16("t.i16", -32000).unwrap();
    w.add_u32("t.u32", 4_000_000_000).unwrap();
    w.add_i32("t.i32", -2_000_000_000).unwrap();
    w.add_f32("t.f32", 1.5).unwrap();
    w.add_bool("t.bool", true).unwrap();
    w.add_u64("t.u64", u64::MAX).unwrap();
    w.add_i64("t.i64", i64::MIN).unwrap();
    w.add_f64("t.f64", -0.25).unwrap();
    w.add_str_array("t.strs", &["a", "ünï", ""]).unwrap();
    w.add_array("t.i32s", &[1i32, -2, 3]).unwrap();
    w.add_array("t.bools", &[true, false]).unwrap();
    w.add_tensor_info("a", &[3], GgmlType::F32).unwrap();
    w.add_tensor_info("b", &[32, 2], GgmlType::Q8_0).unwrap();
    w.write_tensor_data("a", &[1u8; 12]).unwrap();
    w.write_tensor_data("b", &[2u8; 68]).unwrap();
    w.finish().unwrap()
}

#[test]
fn every_value_type_and_tensor_round_trips() {
    let bytes = sample();
    let f = GgufFile::from_bytes(bytes.clone()).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.n_kv(), 15);
    assert_eq!(f.get_u8("t.u8").unwrap(), 200);
    assert_eq!(f.get_i8("t.i8").unwrap(), -5);
    assert_eq!(f.get_u16("t.u16").unwrap(), 65000);
    assert_eq!(f.get_i16("t.i16").unwrap(), -32000);
    assert_eq!(f.get_u32("t.u32").unwrap(), 4_000_000_000);
    assert_eq!(f.get_i32("t.i32").unwrap(), -2_000_000_000);
    assert_eq!(f.get_f32("t.f32").unwrap(), 1.5);
    assert!(f.get_bool("t.bool").unwrap());
    assert_eq!(f.get_u64("t.u64").unwrap(), u64::MAX);
    assert_eq!(f.get_i64("t.i64").unwrap(), i64::MIN);
    assert_eq!(f.get_f64("t.f64").unwrap(), -0.25);
    assert_eq!(f.get_str_array("t.strs").unwrap(), vec!["a", "ünï", ""]);
    assert_eq!(f.get_array_of::<i32>("t.i32s").unwrap(), vec![1, -2, 3]);
    assert_eq!(f.get_array_of::<bool>("t.bools").unwrap(), vec![true, false]);
    assert_eq!(f.get_uint("t.u16").unwrap(), 65000);
    assert!(f.get_uint("t.i8").is_err());
    let err = f.get_u32("t.f32").unwrap_err().to_string();
    assert!(err.contains("t.f32") && err.contains("FLOAT32") && err.contains("UINT32"), "{err}");
    assert!(f.get_str("nope").unwrap_err().to_string().contains("nope"));
    let keys: Vec<_> = f.metadata().map(|(k, _)| k).collect();
    assert_eq!(keys[0], "general.architecture");
    assert_eq!(keys[14], "t.bools");
    assert_eq!(f.get("t.strs").unwrap().value_type(), ValueType::Array);
    assert!(matches!(f.get("general.architecture"), Some(Value::String("diffusion-gemma"))));

    let a = f.tensor("a").unwrap();
    assert_eq!(a.data, &[1u8; 12]);
    assert_eq!(a.info.offset, 0);
    let b = f.tensor("b").unwrap();
    assert_eq!(b.info.offset, 32);
    assert_eq!(b.info.dims, vec![32, 2]);
    assert_eq!(b.data, &[2u8; 68]);
    assert_eq!(f.data_offset() % 32, 0);
    assert_eq!(bytes.len() as u64, f.data_offset() + 32 + 96);

    // Re-writing everything read gives the same bytes.
    let mut w = GgufWriter::new(Vec::new());
    for (k, v) in f.metadata() {
        w.add_value(k, v).unwrap();
    }
    for t in f.tensors() {
        w.add_tensor_info(&t.name, &t.dims, t.ggml_type).unwrap();
    }
    for t in f.tensor_views() {
        w.write_tensor_data(&t.info.name, t.data).unwrap();
    }
    assert_eq!(w.finish().unwrap(), bytes);
}

#[test]
fn writer_rejects_misuse() {
    let mut w = GgufWriter::new(Vec::new());
    w.add_u32("k", 1).unwrap();
    assert!(w.add_u32("k", 2).is_err());
    assert!(w.add_array::<u32>("e", &[]).is_err());
    assert!(w.add_u32("general.alignment", 48).is_err());
    assert!(w.add_tensor_info("q", &[100], GgmlType::Q4_K).is_err());
    assert!(w.add_tensor_info("x", &[1, 1, 1, 1, 1], GgmlType::F32).is_err());
    w.add_tensor_info("t", &[4], GgmlType::F16).unwrap();
    assert!(w.add_tensor_info("t", &[4], GgmlType::F16).is_err());
    assert!(w.write_tensor_data("other", &[0; 8]).is_err());
    assert!(w.write_tensor_data("t", &[0; 7]).is_err());
    assert!(w.add_u32("late", 1).is_err());
    assert!(GgufWriter::new(Vec::new()).finish().is_ok());
    let mut w = GgufWriter::new(Vec::new());
    w.add_tensor_info("t", &[4], GgmlType::F16).unwrap();
    assert!(w.finish().unwrap_err().to_string().contains("'t'"));
}

#[test]
fn file_writer_renames_on_finish_and_cleans_up_on_drop() {
    let dir = std::env::temp_dir().join(format!("dgemma-gguf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.gguf");
    let tmp = dir.join("x.gguf.tmp");
    {
        let mut w = GgufWriter::create(&path).unwrap();
        w.add_u32("k", 1).unwrap();
        assert!(tmp.exists());
    }
    assert!(!tmp.exists() && !path.exists());
    let mut w = GgufWriter::create(&path).unwrap();
    w.add_u32("k", 7).unwrap();
    w.finish().unwrap();
    assert!(!tmp.exists());
    assert_eq!(GgufFile::open(&path).unwrap().get_u32("k").unwrap(), 7);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn chunked_tensor_data_gives_the_same_file() {
    let whole = sample();
    let mut w = GgufWriter::new(Vec::new());
    let f = GgufFile::from_bytes(whole.clone()).unwrap();
    for (k, v) in f.metadata() {
        w.add_value(k, v).unwrap();
    }
    w.add_tensor_info("a", &[3], GgmlType::F32).unwrap();
    w.add_tensor_info("empty", &[0, 4], GgmlType::F16).unwrap();
    w.add_tensor_info("b", &[32, 2], GgmlType::Q8_0).unwrap();
    w.write_tensor_chunk(&[1u8; 5]).unwrap();
    assert!(w.write_tensor_data("a", &[1u8; 12]).is_err(), "whole write over a partial tensor");
    w.write_tensor_chunk(&[1u8; 7]).unwrap();
    w.write_tensor_chunk(&[]).unwrap(); // completes the empty tensor
    w.write_tensor_chunk(&[2u8; 34]).unwrap();
    assert!(w.write_tensor_chunk(&[2u8; 35]).is_err(), "more than the tensor holds");
    w.write_tensor_chunk(&[2u8; 34]).unwrap();
    assert!(w.write_tensor_chunk(&[0]).is_err(), "past the last tensor");
    let chunked = GgufFile::from_bytes(w.finish().unwrap()).unwrap();
    assert_eq!(chunked.tensor("a").unwrap().data, f.tensor("a").unwrap().data);
    assert_eq!(chunked.tensor("b").unwrap().data, f.tensor("b").unwrap().data);
    assert_eq!(chunked.tensor("empty").unwrap().data.len(), 0);

    let mut w = GgufWriter::new(Vec::new());
    w.add_tensor_info("a", &[3], GgmlType::F32).unwrap();
    w.write_tensor_chunk(&[0; 4]).unwrap();
    let e = w.finish().unwrap_err().to_string();
    assert!(e.contains("'a'") && e.contains("4 bytes of it"), "{e}");
}

#[test]
fn data_offset_is_known_before_writing_and_matches_the_file() {
    for alignment in [None, Some(64u32)] {
        let mut w = GgufWriter::new(Vec::new());
        if let Some(a) = alignment {
            w.add_u32("general.alignment", a).unwrap();
        }
        w.add_str_array("t.strs", &["a", "ünï", ""]).unwrap();
        w.add_tensor_info("a_rather_long_name", &[3, 1, 1], GgmlType::F32).unwrap();
        w.add_tensor_info("b", &[32, 2], GgmlType::Q8_0).unwrap();
        let predicted = w.data_offset();
        w.write_tensor_chunk(&[1u8; 4]).unwrap();
        assert_eq!(w.data_offset(), predicted, "stays put once data writing started");
        w.write_tensor_chunk(&[1u8; 8]).unwrap();
        w.write_tensor_data("b", &[2u8; 68]).unwrap();
        let f = GgufFile::from_bytes(w.finish().unwrap()).unwrap();
        assert_eq!(f.data_offset(), predicted, "alignment {alignment:?}");
    }
}

#[test]
fn released_tensor_pages_read_back_unchanged() {
    let mut w = GgufWriter::new(Vec::new());
    let big: Vec<u8> = (0..3 * 4096 * 4).map(|i| (i * 7 % 251) as u8).collect();
    w.add_tensor_info("big", &[(big.len() / 4) as u64], GgmlType::F32).unwrap();
    w.write_tensor_data("big", &big).unwrap();
    let path = std::env::temp_dir().join(format!("dgemma-gguf-release-{}.gguf", std::process::id()));
    std::fs::write(&path, w.finish().unwrap()).unwrap();
    let f = GgufFile::open(&path).unwrap();
    let t = f.tensor("big").unwrap();
    assert_eq!(t.data, &big[..]);
    f.release_tensor(t.info);
    assert_eq!(f.tensor("big").unwrap().data, &big[..]);
    // Owned bytes: a no-op.
    let owned = GgufFile::from_bytes(std::fs::read(&path).unwrap()).unwrap();
    owned.release_tensor(&owned.tensors()[0]);
    assert_eq!(owned.tensor("big").unwrap().data, &big[..]);
    std::fs::remove_file(&path).unwrap();
}
