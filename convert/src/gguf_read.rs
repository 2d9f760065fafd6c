//! Reading a GGUF input for `dgemma quantize`: every KV record kept as raw bytes (so it can be
//! copied unchanged, as llama-quantize does) plus the tensor table over a memory map. Every
//! read is bounds-checked; a truncated or hostile file gives an error naming the offset.
//!
//! Private to the converter because dgemma-gguf's reader was not available when this was
//! written; it only needs the container layout (../shared/spec/gguf.md §1).

use std::fs::File;
use std::path::{Path, PathBuf};

use dgemma_quant::GgmlType;
use memmap2::Mmap;

use crate::error::{ConvertError, Result};
use crate::gguf_write::{pad, TensorInfo};
use crate::meta_value::{value_type, MetaValue, Metadata};

/// An opened GGUF file.
pub struct GgufInput {
    path: PathBuf,
    map: Mmap,
    /// KV records in file order, values as raw bytes (type field + payload).
    pub metadata: Metadata,
    /// Tensors in file order.
    pub tensors: Vec<TensorInfo>,
    offsets: Vec<u64>,
    data_start: u64,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &str) -> ConvertError {
        ConvertError::BadGguf { path: self.path.to_path_buf(), msg: format!("{what} at byte {}", self.pos) }
    }
    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let end = (self.pos as u64).checked_add(n).filter(|&e| e <= self.buf.len() as u64).ok_or_else(|| self.err("truncated file"))?;
        let s = &self.buf[self.pos..end as usize];
        self.pos = end as usize;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn string(&mut self) -> Result<&'a str> {
        let n = self.u64()?;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| self.err("string is not UTF-8"))
    }
    /// Skips one value of type `ty` (arrays recursively are rejected, as llama.cpp does).
    fn skip_value(&mut self, ty: u32, in_array: bool) -> Result<()> {
        let fixed = match ty {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            value_type::STRING => {
                self.string()?;
                return Ok(());
            }
            value_type::ARRAY if !in_array => {
                let et = self.u32()?;
                let n = self.u64()?;
                if et == value_type::STRING || et == value_type::ARRAY {
                    for _ in 0..n {
                        self.skip_value(et, true)?;
                    }
                } else {
                    let size = match et {
                        0 | 1 | 7 => 1,
                        2 | 3 => 2,
                        4..=6 => 4,
                        10..=12 => 8,
                        _ => return Err(self.err(&format!("unknown array element type {et}"))),
                    };
                    self.take(n.checked_mul(size).ok_or_else(|| self.err("array too large"))?)?;
                }
                return Ok(());
            }
            _ => return Err(self.err(&format!("unknown or nested value type {ty}"))),
        };
        self.take(fixed)?;
        Ok(())
    }
}

impl GgufInput {
    /// Opens and validates `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| ConvertError::io(path, e))?;
        // SAFETY: the file is opened read-only; like every mmap reader we assume no other process
        // truncates it while we read.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ConvertError::io(path, e))?;
        let mut c = Cursor { buf: &map, pos: 0, path };
        if c.take(4)? != b"GGUF" {
            return Err(c.err("not a GGUF file (bad magic)"));
        }
        let version = c.u32()?;
        if !(2..=3).contains(&version) {
            return Err(c.err(&format!("unsupported GGUF version {version}")));
        }
        let n_tensors = c.u64()?;
        let n_kv = c.u64()?;
        let mut metadata = Metadata::new();
        for _ in 0..n_kv {
            let key = c.string()?.to_string();
            let start = c.pos;
            let ty = c.u32()?;
            c.skip_value(ty, false)?;
            if metadata.get(&key).is_some() {
                return Err(c.err(&format!("duplicate key `{key}`")));
            }
            metadata.set(key, MetaValue::Raw(map[start..c.pos].to_vec()));
        }
        let mut tensors = Vec::new();
        let mut offsets = Vec::new();
        for _ in 0..n_tensors.min(1 << 20) {
            let name = c.string()?.to_string();
            let nd = c.u32()?;
            if !(1..=4).contains(&nd) {
                return Err(c.err(&format!("tensor `{name}` has {nd} dims")));
            }
            let ne = (0..nd).map(|_| c.u64()).collect::<Result<Vec<u64>>>()?;
            let id = c.u32()?;
            let ty = GgmlType::from_id(id).map_err(|_| c.err(&format!("tensor `{name}`: unknown type id {id}")))?;
            let offset = c.u64()?;
            tensors.push(TensorInfo { name, ne, ty });
            offsets.push(offset);
        }
        if tensors.len() as u64 != n_tensors {
            return Err(c.err("too many tensors"));
        }
        let data_start = pad(c.pos as u64);
        for (t, &off) in tensors.iter().zip(&offsets) {
            let n = t.nbytes().ok_or_else(|| ConvertError::BadGguf {
                path: path.to_path_buf(),
                msg: format!("tensor `{}`: ne0 {} is not a multiple of the {} block size", t.name, t.ne[0], t.ty),
            })?;
            let end = data_start.checked_add(off).and_then(|s| s.checked_add(n));
            if end.map_or(true, |e| e > map.len() as u64) {
                return Err(ConvertError::BadGguf { path: path.to_path_buf(), msg: format!("tensor `{}` data lies outside the file", t.name) });
            }
        }
        Ok(GgufInput { path: path.to_path_buf(), map, metadata, tensors, offsets, data_start })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of tensor `i`.
    pub fn data(&self, i: usize) -> &[u8] {
        let start = (self.data_start + self.offsets[i]) as usize;
        &self.map[start..start + self.tensors[i].nbytes().unwrap_or(0) as usize]
    }

    /// Drops tensor `i`'s pages from the resident set once it has been consumed.
    pub fn release(&self, i: usize) {
        let start = (self.data_start + self.offsets[i]) as usize;
        crate::source::release_range(&self.map, start, start + self.tensors[i].nbytes().unwrap_or(0) as usize);
    }

    /// A UINT32 (or INT32) metadata value.
    pub fn u32(&self, key: &str) -> Option<u32> {
        match self.metadata.get(key)? {
            MetaValue::Raw(b) if b.len() == 8 && (b[0] == 4 || b[0] == 5) => Some(u32::from_le_bytes(b[4..8].try_into().ok()?)),
            _ => None,
        }
    }

    /// A STRING metadata value.
    pub fn string(&self, key: &str) -> Option<String> {
        match self.metadata.get(key)? {
            MetaValue::Raw(b) if b.len() >= 12 && b[0] == value_type::STRING as u8 => {
                let n = u64::from_le_bytes(b[4..12].try_into().ok()?) as usize;
                std::str::from_utf8(b.get(12..12 + n)?).ok().map(str::to_string)
            }
            _ => None,
        }
    }
}
