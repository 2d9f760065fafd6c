//! GGUF metadata values and their exact record encoding (gguf-py / ggml byte layout,
//! ../shared/spec/gguf.md §1.2).

/// GGUF value type ids.
pub mod value_type {
    pub const UINT8: u32 = 0;
    pub const INT32: u32 = 5;
    pub const UINT32: u32 = 4;
    pub const FLOAT32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
}

/// One metadata value of the kinds DiffusionGemma files use, or raw record bytes copied from
/// another file (requantization keeps every input KV byte for byte).
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(String),
    ArrI32(Vec<i32>),
    ArrF32(Vec<f32>),
    ArrBool(Vec<bool>),
    ArrStr(Vec<String>),
    /// Value-type field and payload exactly as found in an input file.
    Raw(Vec<u8>),
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn array_head(out: &mut Vec<u8>, elem: u32, n: usize) {
    out.extend_from_slice(&value_type::ARRAY.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

impl MetaValue {
    /// Appends the value-type field and the payload (the part of a KV record after the key).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        use value_type::*;
        match self {
            MetaValue::U32(v) => {
                out.extend_from_slice(&UINT32.to_le_bytes());
                out.extend_from_slice(&v.to_le_bytes());
            }
            MetaValue::F32(v) => {
                out.extend_from_slice(&FLOAT32.to_le_bytes());
                out.extend_from_slice(&v.to_le_bytes());
            }
            MetaValue::Bool(v) => {
                out.extend_from_slice(&BOOL.to_le_bytes());
                out.push(*v as u8);
            }
            MetaValue::Str(s) => {
                out.extend_from_slice(&STRING.to_le_bytes());
                put_str(out, s);
            }
            MetaValue::ArrI32(v) => {
                array_head(out, INT32, v.len());
                v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            }
            MetaValue::ArrF32(v) => {
                array_head(out, FLOAT32, v.len());
                v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            }
            MetaValue::ArrBool(v) => {
                array_head(out, BOOL, v.len());
                out.extend(v.iter().map(|&b| b as u8));
            }
            MetaValue::ArrStr(v) => {
                array_head(out, STRING, v.len());
                v.iter().for_each(|s| put_str(out, s));
            }
            MetaValue::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// The encoded value (type field + payload), as hashed in reference/gguf.json.
    pub fn encoded(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_into(&mut v);
        v
    }

    /// Size of the encoded value in bytes.
    pub fn encoded_len(&self) -> u64 {
        let s = |x: &String| 8 + x.len() as u64;
        match self {
            MetaValue::U32(_) | MetaValue::F32(_) => 8,
            MetaValue::Bool(_) => 5,
            MetaValue::Str(x) => 4 + s(x),
            MetaValue::ArrI32(v) => 16 + 4 * v.len() as u64,
            MetaValue::ArrF32(v) => 16 + 4 * v.len() as u64,
            MetaValue::ArrBool(v) => 16 + v.len() as u64,
            MetaValue::ArrStr(v) => 16 + v.iter().map(s).sum::<u64>(),
            MetaValue::Raw(b) => b.len() as u64,
        }
    }
}

/// An ordered list of metadata records. Setting an existing key removes it and appends it at the
/// end, as gguf's `gguf_set_*` does (this is why llama-quantize outputs end with
/// `general.quantization_version`, `general.file_type`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    entries: Vec<(String, MetaValue)>,
}

impl Metadata {
    /// Empty list.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends (or moves to the end) `key`.
    pub fn set(&mut self, key: impl Into<String>, value: MetaValue) {
        let key = key.into();
        self.remove(&key);
        self.entries.push((key, value));
    }
    /// Removes `key` if present.
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| k != key);
    }
    /// Looks a key up.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Records in order.
    pub fn entries(&self) -> &[(String, MetaValue)] {
        &self.entries
    }
    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Bytes all records take in a file.
    pub fn encoded_len(&self) -> u64 {
        self.entries.iter().map(|(k, v)| 8 + k.len() as u64 + v.encoded_len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_len_agrees_with_encoding() {
        let vals = [
            MetaValue::U32(7),
            MetaValue::F32(1.5),
            MetaValue::Bool(true),
            MetaValue::Str("gemma4".into()),
            MetaValue::ArrI32(vec![1, 2, 3]),
            MetaValue::ArrF32(vec![-1000.0; 5]),
            MetaValue::ArrBool(vec![true, false]),
            MetaValue::ArrStr(vec!["a b".into(), "▁".into()]),
        ];
        for v in vals {
            assert_eq!(v.encoded().len() as u64, v.encoded_len(), "{v:?}");
        }
        assert_eq!(MetaValue::U32(2).encoded(), [4, 0, 0, 0, 2, 0, 0, 0]);
    }

    #[test]
    fn set_moves_an_existing_key_to_the_end() {
        let mut m = Metadata::new();
        m.set("a", MetaValue::U32(1));
        m.set("b", MetaValue::U32(2));
        m.set("a", MetaValue::U32(3));
        let keys: Vec<_> = m.entries().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(m.get("a"), Some(&MetaValue::U32(3)));
    }
}
