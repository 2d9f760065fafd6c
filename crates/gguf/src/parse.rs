//! Parsing and validating a GGUF v2/v3 header into an [`Index`]: offsets and decoded scalars
//! only, no copies of strings, arrays or tensor data.
//!
//! Every count read from the file is checked against the bytes left before it drives a loop or
//! an allocation, so hostile counts fail fast instead of allocating.

use std::collections::HashMap;
use std::ops::Range;

use dgemma_quant::GgmlType;

use crate::arch::keys::GENERAL_ALIGNMENT;
use crate::cursor::Cursor;
use crate::error::{GgufError, Result};
use crate::tensor::{TensorInfo, MAX_DIMS};
use crate::value::{ArrayValue, Value, ValueType};

/// `GGUF` as the first four bytes.
pub const MAGIC: [u8; 4] = *b"GGUF";

/// Alignment of the data section and of each tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Smallest possible KV record: empty key (8) + type (4) + one-byte payload.
const MIN_KV_BYTES: u64 = 13;
/// Smallest possible tensor-info record: empty name (8) + n_dims (4) + one dim (8) + type (4) +
/// offset (8).
const MIN_TENSOR_INFO_BYTES: u64 = 32;

/// Where a value lives in the file.
#[derive(Clone, Debug)]
pub(crate) enum Stored {
    /// A fixed-size scalar, decoded at parse time.
    Scalar(Value<'static>),
    /// UTF-8-validated string bytes.
    String(Range<usize>),
    /// Validated element bytes of an array.
    Array { elem_type: ValueType, len: usize, raw: Range<usize> },
}

/// One metadata entry.
#[derive(Clone, Debug)]
pub(crate) struct KvEntry {
    pub(crate) key: String,
    /// Absolute offset of the record (its key length field).
    pub(crate) offset: u64,
    pub(crate) stored: Stored,
}

impl KvEntry {
    /// The value, borrowing from the file bytes the index was built from.
    pub(crate) fn value<'a>(&self, bytes: &'a [u8]) -> Value<'a> {
        // Ranges were validated against these bytes by `parse`; the fallbacks cannot trigger
        // unless an index is paired with other bytes, and even then nothing reads out of bounds.
        match &self.stored {
            Stored::Scalar(v) => *v,
            Stored::String(r) => Value::String(
                bytes.get(r.clone()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or(""),
            ),
            Stored::Array { elem_type, len, raw } => match bytes.get(raw.clone()) {
                Some(raw) => Value::Array(ArrayValue { elem_type: *elem_type, len: *len, raw }),
                None => Value::Array(ArrayValue { elem_type: *elem_type, len: 0, raw: &[] }),
            },
        }
    }
}

/// Everything `parse` learns about a file.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    pub(crate) version: u32,
    pub(crate) kvs: Vec<KvEntry>,
    pub(crate) kv_by_key: HashMap<String, usize>,
    pub(crate) tensors: Vec<TensorInfo>,
    pub(crate) tensor_by_name: HashMap<String, usize>,
    pub(crate) alignment: u64,
    pub(crate) data_offset: u64,
}

/// Parse and validate the whole header of `bytes` (a complete GGUF file).
pub(crate) fn parse(bytes: &[u8]) -> Result<Index> {
    let mut c = Cursor::new(bytes);
    let magic: [u8; 4] = c.array(&|| "magic".into())?;
    if magic != MAGIC {
        return Err(GgufError::BadMagic { found: magic });
    }
    let version = c.u32(&|| "version".into())?;
    if version & 0xFFFF == 0 && version != 0 {
        return Err(GgufError::ByteSwapped { version });
    }
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion { version });
    }
    let n_tensors_offset = c.pos();
    let n_tensors = c.u64(&|| "tensor count".into())?;
    let n_kv_offset = c.pos();
    let n_kv = c.u64(&|| "metadata KV count".into())?;
    c.check_count(n_kv, MIN_KV_BYTES, n_kv_offset, &|| "metadata KV".into())?;
    // Both counts must fit together in what is left.
    c.check_count(n_tensors, MIN_TENSOR_INFO_BYTES, n_tensors_offset, &|| "tensor-info".into())?;

    let n_kv = n_kv as usize; // fits: n_kv * 13 <= remaining bytes
    let mut kvs = Vec::with_capacity(n_kv);
    let mut kv_by_key = HashMap::with_capacity(n_kv);
    for i in 0..n_kv {
        let entry = parse_kv(&mut c, i)?;
        if kv_by_key.insert(entry.key.clone(), kvs.len()).is_some() {
            return Err(GgufError::DuplicateKey { offset: entry.offset, key: entry.key });
        }
        kvs.push(entry);
    }
    let alignment = alignment_of(&kvs, &kv_by_key)?;

    c.check_count(n_tensors, MIN_TENSOR_INFO_BYTES, n_tensors_offset, &|| "tensor-info".into())?;
    let n_tensors = n_tensors as usize;
    let mut tensors = Vec::with_capacity(n_tensors);
    let mut tensor_by_name = HashMap::with_capacity(n_tensors);
    let mut record_offsets = Vec::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let record_offset = c.pos();
        let info = parse_tensor_info(&mut c, i)?;
        if tensor_by_name.insert(info.name.clone(), tensors.len()).is_some() {
            return Err(GgufError::DuplicateTensor { offset: record_offset, name: info.name });
        }
        tensors.push(info);
        record_offsets.push(record_offset);
    }

    let data_offset = align_up(c.pos(), alignment).ok_or_else(|| GgufError::BadAlignment {
        offset: c.pos(),
        reason: format!("end of tensor infos {} cannot be aligned to {alignment}", c.pos()),
    })?;
    check_tensor_data(&tensors, &record_offsets, data_offset, alignment, bytes.len() as u64)?;
    Ok(Index { version, kvs, kv_by_key, tensors, tensor_by_name, alignment, data_offset })
}

/// `x` rounded up to a multiple of `align` (a power of two), `None` on overflow.
pub(crate) fn align_up(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

fn parse_kv(c: &mut Cursor<'_>, i: usize) -> Result<KvEntry> {
    let offset = c.pos();
    let key = c.string(&|| format!("key of metadata KV #{i}"))?.to_string();
    let type_offset = c.pos();
    let type_id = c.u32(&|| format!("value type of key '{key}'"))?;
    let vt = ValueType::from_id(type_id)
        .ok_or_else(|| GgufError::UnknownValueType { offset: type_offset, key: key.clone(), id: type_id })?;
    let stored = match vt {
        ValueType::String => {
            let (start, b) = c.string_bytes(&|| format!("string value of key '{key}'"))?;
            std::str::from_utf8(b).map_err(|_| GgufError::InvalidUtf8 {
                offset: start,
                what: format!("string value of key '{key}'"),
            })?;
            Stored::String(start as usize..start as usize + b.len())
        }
        ValueType::Array => parse_array(c, &key)?,
        _ => {
            let start = c.pos();
            let size = vt.fixed_size().unwrap_or(1) as u64;
            let b = c.take(size, &|| format!("{vt} value of key '{key}'"))?;
            check_bools(b, start, &key, vt)?;
            Stored::Scalar(Value::decode_scalar(vt, b).ok_or_else(|| GgufError::UnknownValueType {
                offset: type_offset,
                key: key.clone(),
                id: type_id,
            })?)
        }
    };
    Ok(KvEntry { key, offset, stored })
}

fn parse_array(c: &mut Cursor<'_>, key: &str) -> Result<Stored> {
    let elem_offset = c.pos();
    let elem_id = c.u32(&|| format!("array element type of key '{key}'"))?;
    let elem_type = match ValueType::from_id(elem_id) {
        None => {
            return Err(GgufError::UnknownValueType { offset: elem_offset, key: key.into(), id: elem_id })
        }
        Some(ValueType::Array) => {
            return Err(GgufError::NestedArray { offset: elem_offset, key: key.into() })
        }
        Some(t) => t,
    };
    let count_offset = c.pos();
    let len = c.u64(&|| format!("array length of key '{key}'"))?;
    let what = || format!("{elem_type} array elements of key '{key}'");
    let start = c.pos();
    match elem_type.fixed_size() {
        Some(size) => {
            c.check_count(len, size as u64, count_offset, &what)?;
            let raw = c.take(len * size as u64, &what)?;
            check_bools(raw, start, key, elem_type)?;
        }
        None => {
            // Each string needs at least its 8-byte length.
            c.check_count(len, 8, count_offset, &what)?;
            for j in 0..len {
                c.string(&|| format!("string #{j} of array '{key}'"))?;
            }
        }
    }
    let end = c.pos() as usize;
    Ok(Stored::Array { elem_type, len: len as usize, raw: start as usize..end })
}

fn check_bools(b: &[u8], start: u64, key: &str, vt: ValueType) -> Result<()> {
    if vt != ValueType::Bool {
        return Ok(());
    }
    match b.iter().position(|&x| x > 1) {
        Some(p) => Err(GgufError::InvalidBool { offset: start + p as u64, key: key.into(), byte: b[p] }),
        None => Ok(()),
    }
}

fn alignment_of(kvs: &[KvEntry], by_key: &HashMap<String, usize>) -> Result<u64> {
    let Some(&i) = by_key.get(GENERAL_ALIGNMENT) else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    let e = &kvs[i];
    match e.stored {
        Stored::Scalar(Value::U32(a)) if a.is_power_of_two() => Ok(a.into()),
        Stored::Scalar(Value::U32(a)) => Err(GgufError::BadAlignment {
            offset: e.offset,
            reason: format!("{a} is not a non-zero power of two"),
        }),
        _ => Err(GgufError::BadAlignment { offset: e.offset, reason: "must be a UINT32".into() }),
    }
}

fn parse_tensor_info(c: &mut Cursor<'_>, i: usize) -> Result<TensorInfo> {
    let offset = c.pos();
    let name = c.string(&|| format!("name of tensor #{i}"))?.to_string();
    let bad = |reason: String| GgufError::BadTensorInfo { offset, name: name.clone(), reason };
    let n_dims = c.u32(&|| format!("n_dims of tensor '{name}'"))?;
    if n_dims == 0 || n_dims as usize > MAX_DIMS {
        return Err(bad(format!("n_dims is {n_dims}, expected 1..={MAX_DIMS}")));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims {
        dims.push(c.u64(&|| format!("dim {d} of tensor '{name}'"))?);
    }
    let type_id = c.u32(&|| format!("type of tensor '{name}'"))?;
    let ggml_type = GgmlType::from_id(type_id).map_err(|e| bad(e.to_string()))?;
    let data = c.u64(&|| format!("data offset of tensor '{name}'"))?;
    let info = TensorInfo { name: name.clone(), dims, ggml_type, offset: data };
    info.validate_shape().map_err(bad)?;
    Ok(info)
}

/// Tensor data must be aligned, inside the file and not overlap. Unlike llama.cpp we do not
/// require offsets to be contiguous in info order: a gap or reordering is harmless to a reader
/// that only follows offsets (see docs/decisions.md). Errors point at the tensor-info record
/// (where the bad offset is stored) and name the data range.
fn check_tensor_data(
    tensors: &[TensorInfo],
    record_offsets: &[u64],
    data_offset: u64,
    alignment: u64,
    file_len: u64,
) -> Result<()> {
    let mut spans = Vec::with_capacity(tensors.len());
    for (t, &record) in tensors.iter().zip(record_offsets) {
        let bad = |reason: String| GgufError::BadTensorData { offset: record, name: t.name.clone(), reason };
        let start = data_offset
            .checked_add(t.offset)
            .ok_or_else(|| bad(format!("data offset {} overflows", t.offset)))?;
        if !t.offset.is_multiple_of(alignment) {
            return Err(bad(format!("data offset {} is not a multiple of the alignment {alignment}", t.offset)));
        }
        let end = start.checked_add(t.n_bytes()).filter(|&e| e <= file_len).ok_or_else(|| {
            bad(format!(
                "{} bytes of data at file byte {start} run past the end of the file ({file_len} bytes)",
                t.n_bytes()
            ))
        })?;
        spans.push((start, end, record, t));
    }
    spans.sort_unstable_by_key(|&(s, e, _, _)| (s, e));
    // The furthest end so far and its tensor: a span starting before it overlaps.
    let mut reach: Option<(u64, &TensorInfo)> = None;
    for (start, end, record, t) in spans {
        if start == end {
            continue; // empty tensors occupy nothing
        }
        if let Some((prev_end, prev)) = reach {
            if start < prev_end {
                return Err(GgufError::BadTensorData {
                    offset: record,
                    name: t.name.clone(),
                    reason: format!(
                        "data at file byte {start} overlaps tensor '{}' (which ends at byte {prev_end})",
                        prev.name
                    ),
                });
            }
        }
        if reach.is_none_or(|(e, _)| end > e) {
            reach = Some((end, t));
        }
    }
    Ok(())
}
