//! Property: whatever content the writer accepts, the reader returns exactly (values bit for bit,
//! key and tensor order, shapes, types, data), at any alignment, whole or chunked tensor writes.

use dgemma_gguf::{GgmlType, GgufFile, GgufWriter, Value, ValueType};
use proptest::prelude::*;

const NUMERIC: [ValueType; 11] = [
    ValueType::U8, ValueType::I8, ValueType::U16, ValueType::I16, ValueType::U32, ValueType::I32,
    ValueType::F32, ValueType::Bool, ValueType::U64, ValueType::I64, ValueType::F64,
];
const TENSOR_TYPES: [GgmlType; 8] = [
    GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
    GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::I8,
];

#[derive(Clone, Debug)]
enum Content {
    Num(ValueType, u64),
    Str(String),
    NumArr(ValueType, Vec<u64>),
    StrArr(Vec<String>),
}

/// Keep only the bits a value of type `t` stores.
fn truncate(t: ValueType, bits: u64) -> u64 {
    match t.fixed_size() {
        _ if t == ValueType::Bool => bits & 1,
        Some(8) | None => bits,
        Some(n) => bits & ((1u64 << (8 * n)) - 1),
    }
}

fn bits_of(v: Value<'_>) -> Option<u64> {
    Some(match v {
        Value::U8(x) => x.into(),
        Value::I8(x) => (x as u8).into(),
        Value::U16(x) => x.into(),
        Value::I16(x) => (x as u16).into(),
        Value::U32(x) => x.into(),
        Value::I32(x) => (x as u32).into(),
        Value::F32(x) => x.to_bits().into(),
        Value::Bool(x) => x.into(),
        Value::U64(x) => x,
        Value::I64(x) => x as u64,
        Value::F64(x) => x.to_bits(),
        Value::String(_) | Value::Array(_) => return None,
    })
}

fn add_num<W: std::io::Write>(w: &mut GgufWriter<W>, key: &str, t: ValueType, b: u64) -> dgemma_gguf::Result<()> {
    match t {
        ValueType::U8 => w.add_u8(key, b as u8),
        ValueType::I8 => w.add_i8(key, b as u8 as i8),
        ValueType::U16 => w.add_u16(key, b as u16),
        ValueType::I16 => w.add_i16(key, b as u16 as i16),
        ValueType::U32 => w.add_u32(key, b as u32),
        ValueType::I32 => w.add_i32(key, b as u32 as i32),
        ValueType::F32 => w.add_f32(key, f32::from_bits(b as u32)),
        ValueType::Bool => w.add_bool(key, b & 1 == 1),
        ValueType::U64 => w.add_u64(key, b),
        ValueType::I64 => w.add_i64(key, b as i64),
        ValueType::F64 => w.add_f64(key, f64::from_bits(b)),
        ValueType::String | ValueType::Array => unreachable!(),
    }
}

fn add_num_arr<W: std::io::Write>(w: &mut GgufWriter<W>, key: &str, t: ValueType, b: &[u64]) -> dgemma_gguf::Result<()> {
    macro_rules! arr {
        ($f:expr) => {
            w.add_array(key, &b.iter().map(|&x| $f(x)).collect::<Vec<_>>())
        };
    }
    match t {
        ValueType::U8 => arr!(|x| x as u8),
        ValueType::I8 => arr!(|x| x as u8 as i8),
        ValueType::U16 => arr!(|x| x as u16),
        ValueType::I16 => arr!(|x| x as u16 as i16),
        ValueType::U32 => arr!(|x| x as u32),
        ValueType::I32 => arr!(|x| x as u32 as i32),
        ValueType::F32 => arr!(|x| f32::from_bits(x as u32)),
        ValueType::Bool => arr!(|x| x & 1 == 1),
        ValueType::U64 => arr!(|x| x),
        ValueType::I64 => arr!(|x| x as i64),
        ValueType::F64 => arr!(f64::from_bits),
        ValueType::String | ValueType::Array => unreachable!(),
    }
}

fn content() -> impl Strategy<Value = Content> {
    let num_t = prop::sample::select(NUMERIC.to_vec());
    prop_oneof![
        (num_t.clone(), any::<u64>()).prop_map(|(t, b)| Content::Num(t, truncate(t, b))),
        ".{0,12}".prop_map(Content::Str),
        (num_t, prop::collection::vec(any::<u64>(), 1..12))
            .prop_map(|(t, v)| Content::NumArr(t, v.into_iter().map(|b| truncate(t, b)).collect())),
        prop::collection::vec(".{0,6}", 1..8).prop_map(Content::StrArr),
    ]
}

/// (type, dims) with ne0 a whole number of blocks; other dims may be 0.
fn tensor_shape() -> impl Strategy<Value = (GgmlType, Vec<u64>)> {
    (prop::sample::select(TENSOR_TYPES.to_vec()), 0..3u64, prop::collection::vec(0..3u64, 0..3))
        .prop_map(|(t, blocks, rest)| {
            let mut dims = vec![blocks * t.block_size() as u64];
            dims.extend(rest);
            (t, dims)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn reader_returns_what_the_writer_wrote(
        kvs in prop::collection::vec(content(), 0..12),
        shapes in prop::collection::vec(tensor_shape(), 0..5),
        align_log2 in prop::option::of(0..8u32),
        chunked in any::<bool>(),
        seed in any::<u8>(),
    ) {
        let mut w = GgufWriter::new(Vec::new());
        if let Some(a) = align_log2 {
            w.add_u32("general.alignment", 1 << a).unwrap();
        }
        for (i, c) in kvs.iter().enumerate() {
            let key = format!("k{i}.ключ");
            match c {
                Content::Num(t, b) => add_num(&mut w, &key, *t, *b),
                Content::Str(s) => w.add_str(&key, s),
                Content::NumArr(t, b) => add_num_arr(&mut w, &key, *t, b),
                Content::StrArr(v) => w.add_str_array(&key, v),
            }.unwrap();
        }
        let mut datas = Vec::new();
        for (i, (t, dims)) in shapes.iter().enumerate() {
            w.add_tensor_info(&format!("t{i}"), dims, *t).unwrap();
        }
        for (i, info) in w.tensor_infos().to_vec().iter().enumerate() {
            let data: Vec<u8> = (0..info.n_bytes()).map(|j| (j as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            if chunked {
                let (a, b) = data.split_at(data.len() / 3);
                w.write_tensor_chunk(a).unwrap();
                if !b.is_empty() { w.write_tensor_chunk(b).unwrap(); }
            } else {
                w.write_tensor_data(&format!("t{i}"), &data).unwrap();
            }
            datas.push(data);
        }
        let bytes = w.finish().unwrap();
        let f = GgufFile::from_bytes(bytes.clone()).unwrap();
        let align = align_log2.map_or(32, |a| 1u64 << a);
        prop_assert_eq!(f.alignment(), align);
        prop_assert_eq!(f.data_offset() % align, 0);
        let meta: Vec<_> = f.metadata().skip(usize::from(align_log2.is_some())).collect();
        prop_assert_eq!(meta.len(), kvs.len());
        for (i, ((k, v), c)) in meta.into_iter().zip(&kvs).enumerate() {
            prop_assert_eq!(k, format!("k{i}.ключ"));
            match (c, v) {
                (Content::Num(t, b), v) => {
                    prop_assert_eq!(v.value_type(), *t);
                    prop_assert_eq!(bits_of(v), Some(*b));
                }
                (Content::Str(s), Value::String(r)) => prop_assert_eq!(s.as_str(), r),
                (Content::NumArr(t, b), Value::Array(a)) => {
                    prop_assert_eq!(a.elem_type(), *t);
                    prop_assert_eq!(&a.iter().map(|v| bits_of(v).unwrap()).collect::<Vec<_>>(), b);
                }
                (Content::StrArr(s), Value::Array(a)) => {
                    prop_assert_eq!(&a.strs().unwrap().collect::<Vec<_>>(), s);
                }
                (c, v) => prop_assert!(false, "{c:?} read back as {v:?}"),
            }
        }
        prop_assert_eq!(f.tensors().len(), shapes.len());
        let mut end = f.data_offset();
        for ((t, (ty, dims)), data) in f.tensor_views().zip(&shapes).zip(&datas) {
            prop_assert_eq!((t.info.ggml_type, &t.info.dims), (*ty, dims));
            prop_assert_eq!(t.data, data.as_slice());
            // gguf-py layout: contiguous, each tensor padded to the alignment.
            prop_assert_eq!(f.data_offset() + t.info.offset, end);
            end += t.info.n_bytes().next_multiple_of(align);
        }
        prop_assert_eq!(bytes.len() as u64, end.max(f.data_offset()));
    }
}
