//! The metadata the converter builds, as owned values in file order; written through
//! [`dgemma_gguf::GgufWriter`], which owns the record encoding.

use std::io::Write;

use dgemma_gguf::GgufWriter;

/// One metadata value of the kinds DiffusionGemma files use.
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
}

impl MetaValue {
    /// Adds the value under `key` to `w`.
    pub fn add_to<W: Write>(&self, key: &str, w: &mut GgufWriter<W>) -> dgemma_gguf::Result<()> {
        match self {
            MetaValue::U32(v) => w.add_u32(key, *v),
            MetaValue::F32(v) => w.add_f32(key, *v),
            MetaValue::Bool(v) => w.add_bool(key, *v),
            MetaValue::Str(v) => w.add_str(key, v),
            MetaValue::ArrI32(v) => w.add_array(key, v),
            MetaValue::ArrF32(v) => w.add_array(key, v),
            MetaValue::ArrBool(v) => w.add_array(key, v),
            MetaValue::ArrStr(v) => w.add_str_array(key, v),
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
    /// Adds every record to `w`, in order.
    pub fn add_to<W: Write>(&self, w: &mut GgufWriter<W>) -> dgemma_gguf::Result<()> {
        self.entries.iter().try_for_each(|(k, v)| v.add_to(k, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dgemma_gguf::{GgufFile, Value};

    #[test]
    fn every_kind_is_written_with_its_gguf_type() {
        let mut m = Metadata::new();
        m.set("u", MetaValue::U32(7));
        m.set("f", MetaValue::F32(1.5));
        m.set("b", MetaValue::Bool(true));
        m.set("s", MetaValue::Str("gemma4".into()));
        m.set("ai", MetaValue::ArrI32(vec![1, -2, 3]));
        m.set("af", MetaValue::ArrF32(vec![-1000.0; 5]));
        m.set("ab", MetaValue::ArrBool(vec![true, false]));
        m.set("as", MetaValue::ArrStr(vec!["a b".into(), "▁".into()]));
        let mut w = GgufWriter::new(Vec::new());
        m.add_to(&mut w).unwrap();
        let f = GgufFile::from_bytes(w.finish().unwrap()).unwrap();
        let keys: Vec<&str> = f.metadata().map(|(k, _)| k).collect();
        assert_eq!(keys, ["u", "f", "b", "s", "ai", "af", "ab", "as"]);
        assert_eq!(f.get("u"), Some(Value::U32(7)));
        assert_eq!(f.get("f"), Some(Value::F32(1.5)));
        assert_eq!(f.get("b"), Some(Value::Bool(true)));
        assert_eq!(f.get_str("s").unwrap(), "gemma4");
        assert_eq!(f.get_array_of::<i32>("ai").unwrap(), [1, -2, 3]);
        assert_eq!(f.get_array_of::<f32>("af").unwrap(), [-1000.0; 5]);
        assert_eq!(f.get_array_of::<bool>("ab").unwrap(), [true, false]);
        assert_eq!(f.get_str_array("as").unwrap(), ["a b", "▁"]);
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
