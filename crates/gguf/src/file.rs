//! [`GgufFile`]: a parsed, validated GGUF file over a memory map (or owned bytes), with typed
//! metadata accessors and zero-copy tensor views.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use crate::error::{GgufError, Result};
use crate::parse::{parse, Index};
use crate::tensor::{TensorInfo, TensorView};
use crate::value::{ArrayElem, ArrayValue, Value, ValueType};

enum Backing {
    Mmap(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A validated GGUF v2/v3 file. Opening parses only the header (metadata and tensor infos);
/// tensor data stays in the page cache until a [`TensorView`] is read.
pub struct GgufFile {
    backing: Backing,
    index: Index,
}

macro_rules! typed_getter {
    ($($(#[$doc:meta])* $fn:ident -> $t:ty, $variant:ident;)*) => {$(
        $(#[$doc])*
        pub fn $fn(&self, key: &str) -> Result<$t> {
            match self.require(key)? {
                Value::$variant(v) => Ok(v),
                other => Err(GgufError::key_type(key, ValueType::$variant, other.value_type())),
            }
        }
    )*};
}

impl GgufFile {
    /// Memory-map and parse `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| GgufError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only; like every mmap-based model loader we assume the file is
        // not truncated or rewritten by another process while it is open.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let index = parse(&map)?;
        Ok(GgufFile { backing: Backing::Mmap(map), index })
    }

    /// Parse a GGUF file held in memory.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        let index = parse(&bytes)?;
        Ok(GgufFile { backing: Backing::Owned(bytes), index })
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// Format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.index.version
    }

    /// Data alignment (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.index.alignment
    }

    /// Absolute offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.index.data_offset
    }

    /// Metadata in file order.
    pub fn metadata(&self) -> impl ExactSizeIterator<Item = (&str, Value<'_>)> + '_ {
        let bytes = self.bytes();
        self.index.kvs.iter().map(move |e| (e.key.as_str(), e.value(bytes)))
    }

    /// Number of metadata entries.
    pub fn n_kv(&self) -> usize {
        self.index.kvs.len()
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        let &i = self.index.kv_by_key.get(key)?;
        Some(self.index.kvs[i].value(self.bytes()))
    }

    /// Absolute offset of `key`'s record, if present (for error messages).
    pub fn key_offset(&self, key: &str) -> Option<u64> {
        self.index.kv_by_key.get(key).map(|&i| self.index.kvs[i].offset)
    }

    /// The value of `key`, or [`GgufError::MissingKey`].
    pub fn require(&self, key: &str) -> Result<Value<'_>> {
        self.get(key).ok_or_else(|| GgufError::MissingKey { key: key.to_string() })
    }

    typed_getter! {
        /// A UINT8 value.
        get_u8 -> u8, U8;
        /// An INT8 value.
        get_i8 -> i8, I8;
        /// A UINT16 value.
        get_u16 -> u16, U16;
        /// An INT16 value.
        get_i16 -> i16, I16;
        /// A UINT32 value.
        get_u32 -> u32, U32;
        /// An INT32 value.
        get_i32 -> i32, I32;
        /// A UINT64 value.
        get_u64 -> u64, U64;
        /// An INT64 value.
        get_i64 -> i64, I64;
        /// A FLOAT32 value.
        get_f32 -> f32, F32;
        /// A FLOAT64 value.
        get_f64 -> f64, F64;
        /// A BOOL value.
        get_bool -> bool, Bool;
        /// A STRING value.
        get_str -> &str, String;
        /// An ARRAY value.
        get_array -> ArrayValue<'_>, Array;
    }

    /// Any integer type whose value is non-negative and fits a `u64` (converters differ in
    /// which integer type they write for counts).
    pub fn get_uint(&self, key: &str) -> Result<u64> {
        let v = self.require(key)?;
        v.as_integer()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| GgufError::key_type(key, "a non-negative integer", v.value_type()))
    }

    /// An array of strings, collected.
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>> {
        let a = self.get_array(key)?;
        match a.strs() {
            Some(it) => Ok(it.collect()),
            None => Err(GgufError::key_type(key, "ARRAY of STRING", a.elem_type())),
        }
    }

    /// An array whose elements are exactly `T`, collected.
    pub fn get_array_of<T: ArrayElem>(&self, key: &str) -> Result<Vec<T>> {
        let a = self.get_array(key)?;
        a.to_vec::<T>()
            .ok_or_else(|| GgufError::key_type(key, format!("ARRAY of {}", T::TYPE), a.elem_type()))
    }

    /// All tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.index.tensors
    }

    /// The info of tensor `name`, if present.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.index.tensor_by_name.get(name).map(|&i| &self.index.tensors[i])
    }

    /// Tensor `name` with its data, if present.
    pub fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        self.tensor_info(name).map(|info| self.view(info))
    }

    /// Tensor `name`, or [`GgufError::MissingTensor`].
    pub fn require_tensor(&self, name: &str) -> Result<TensorView<'_>> {
        self.tensor(name).ok_or_else(|| GgufError::MissingTensor { name: name.to_string() })
    }

    /// Every tensor with its data, in file order.
    pub fn tensor_views(&self) -> impl ExactSizeIterator<Item = TensorView<'_>> + '_ {
        self.index.tensors.iter().map(move |info| self.view(info))
    }

    /// Let the OS drop `tensor`'s pages from the resident set (a memory-mapped file only; a
    /// no-op for owned bytes or another platform). Streaming tools call it after consuming a
    /// tensor so that resident memory stays near one tensor; the data stays readable (it is
    /// re-read from the file if touched again).
    pub fn release_tensor(&self, tensor: &TensorInfo) {
        #[cfg(unix)]
        if let Backing::Mmap(map) = &self.backing {
            const PAGE: u64 = 4096;
            let start = self.index.data_offset.saturating_add(tensor.offset);
            let end = start.saturating_add(tensor.n_bytes()).min(map.len() as u64);
            // Only whole pages inside the tensor, so neighbours stay resident.
            let (first, last) = (start.div_ceil(PAGE) * PAGE, end / PAGE * PAGE);
            if last > first {
                // SAFETY: the map is read-only and file-backed: dropped pages are re-read from
                // the file on the next access, so no borrowed slice observes a change.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        first as usize,
                        (last - first) as usize,
                    )
                };
            }
        }
        #[cfg(not(unix))]
        let _ = tensor;
    }

    fn view<'a>(&'a self, info: &'a TensorInfo) -> TensorView<'a> {
        // Bounds were validated by `parse`; `get` keeps this panic-free regardless.
        let start = self.index.data_offset.saturating_add(info.offset);
        let end = start.saturating_add(info.n_bytes());
        let data = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| self.bytes().get(s..e))
            .unwrap_or(&[]);
        TensorView { info, data }
    }
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.version())
            .field("n_kv", &self.n_kv())
            .field("n_tensors", &self.tensors().len())
            .field("alignment", &self.alignment())
            .field("data_offset", &self.data_offset())
            .finish()
    }
}
