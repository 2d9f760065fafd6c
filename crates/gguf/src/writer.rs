//! [`GgufWriter`]: a streaming GGUF v3 writer whose output is byte-identical to gguf-py 0.19.0's
//! `GGUFWriter` for the same content: KVs in the order added, tensor infos in the order declared,
//! each tensor padded with zeros to the alignment (the last one too).
//!
//! Usage: add metadata and declare every tensor (name, ne, type) first, then write each
//! tensor's bytes in declaration order, then [`GgufWriter::finish`]. Memory use is one tensor.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dgemma_quant::GgmlType;

use crate::arch::keys::GENERAL_ALIGNMENT;
use crate::error::{GgufError, Result};
use crate::parse::{align_up, DEFAULT_ALIGNMENT, MAGIC};
use crate::tensor::TensorInfo;
use crate::value::{ArrayElem, Value, ValueType};

/// The version this writer emits.
pub const WRITE_VERSION: u32 = 3;

const ZEROS: [u8; 256] = [0; 256];

/// Removes the temporary output unless the writer finished.
struct TempOutput {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: an unfinished file must not look like a finished one.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Streaming GGUF writer; see the module docs for the call order.
pub struct GgufWriter<W: Write> {
    out: W,
    /// Serialized KV records, in the order added.
    kv: Vec<u8>,
    n_kv: u64,
    keys: HashSet<String>,
    tensors: Vec<TensorInfo>,
    names: HashSet<String>,
    alignment: u64,
    /// `None` while declaring; then the index of the next tensor whose data is due.
    next_tensor: Option<usize>,
    /// Bytes of that tensor already written through [`GgufWriter::write_tensor_chunk`].
    in_tensor: u64,
    /// Bytes written to `out` so far.
    pos: u64,
    /// Offset of the data section once the header is written.
    written_data_offset: Option<u64>,
    temp: Option<TempOutput>,
}

impl GgufWriter<BufWriter<File>> {
    /// Write to `<path>.tmp`, renamed to `path` by [`GgufWriter::finish`]; dropping the writer
    /// unfinished deletes the temporary file.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let dest = path.as_ref().to_path_buf();
        let mut tmp = dest.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(|source| GgufError::Io { path: tmp.clone(), source })?;
        let mut w = GgufWriter::new(BufWriter::with_capacity(1 << 20, file));
        w.temp = Some(TempOutput { tmp, dest, committed: false });
        Ok(w)
    }
}

impl<W: Write> GgufWriter<W> {
    /// Write to any sink (a `Vec<u8>`, a socket...).
    pub fn new(out: W) -> Self {
        GgufWriter {
            out,
            kv: Vec::new(),
            n_kv: 0,
            keys: HashSet::new(),
            tensors: Vec::new(),
            names: HashSet::new(),
            alignment: DEFAULT_ALIGNMENT,
            next_tensor: None,
            in_tensor: 0,
            pos: 0,
            written_data_offset: None,
            temp: None,
        }
    }

    /// The data alignment in effect (32 unless `general.alignment` was added).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    fn begin_kv(&mut self, key: &str, vt: ValueType) -> Result<()> {
        if self.next_tensor.is_some() {
            return Err(GgufError::Writer(format!("key '{key}' added after tensor data started")));
        }
        if !self.keys.insert(key.to_string()) {
            return Err(GgufError::Writer(format!("duplicate metadata key '{key}'")));
        }
        self.n_kv += 1;
        put_str(&mut self.kv, key);
        self.kv.extend_from_slice(&vt.id().to_le_bytes());
        Ok(())
    }

    fn add_scalar<T: ArrayElem>(&mut self, key: &str, v: T) -> Result<()> {
        self.begin_kv(key, T::TYPE)?;
        v.encode(&mut self.kv);
        Ok(())
    }

    /// Add a UINT8.
    pub fn add_u8(&mut self, key: &str, v: u8) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add an INT8.
    pub fn add_i8(&mut self, key: &str, v: i8) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add a UINT16.
    pub fn add_u16(&mut self, key: &str, v: u16) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add an INT16.
    pub fn add_i16(&mut self, key: &str, v: i16) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add a UINT32. `general.alignment` also sets the data alignment (non-zero power of two).
    pub fn add_u32(&mut self, key: &str, v: u32) -> Result<()> {
        if key == GENERAL_ALIGNMENT {
            if !v.is_power_of_two() {
                return Err(GgufError::Writer(format!("{key} {v} is not a non-zero power of two")));
            }
            self.alignment = v.into();
        }
        self.add_scalar(key, v)
    }
    /// Add an INT32.
    pub fn add_i32(&mut self, key: &str, v: i32) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add a FLOAT32.
    pub fn add_f32(&mut self, key: &str, v: f32) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add a UINT64.
    pub fn add_u64(&mut self, key: &str, v: u64) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add an INT64.
    pub fn add_i64(&mut self, key: &str, v: i64) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add a FLOAT64.
    pub fn add_f64(&mut self, key: &str, v: f64) -> Result<()> {
        self.add_scalar(key, v)
    }
    /// Add a BOOL.
    pub fn add_bool(&mut self, key: &str, v: bool) -> Result<()> {
        self.add_scalar(key, v)
    }

    /// Add a STRING.
    pub fn add_str(&mut self, key: &str, v: &str) -> Result<()> {
        self.begin_kv(key, ValueType::String)?;
        put_str(&mut self.kv, v);
        Ok(())
    }

    fn begin_array(&mut self, key: &str, elem: ValueType, len: usize) -> Result<()> {
        // gguf-py refuses empty arrays; so do we, so files stay readable by every tool.
        if len == 0 {
            return Err(GgufError::Writer(format!("array '{key}' is empty")));
        }
        self.begin_kv(key, ValueType::Array)?;
        self.kv.extend_from_slice(&elem.id().to_le_bytes());
        self.kv.extend_from_slice(&(len as u64).to_le_bytes());
        Ok(())
    }

    /// Add an ARRAY of a fixed-size type (`&[u32]`, `&[f32]`, `&[bool]`, ...).
    pub fn add_array<T: ArrayElem>(&mut self, key: &str, v: &[T]) -> Result<()> {
        self.begin_array(key, T::TYPE, v.len())?;
        self.kv.reserve(v.len() * T::SIZE);
        v.iter().for_each(|x| x.encode(&mut self.kv));
        Ok(())
    }

    /// Add an ARRAY of STRING.
    pub fn add_str_array<S: AsRef<str>>(&mut self, key: &str, v: &[S]) -> Result<()> {
        self.begin_array(key, ValueType::String, v.len())?;
        v.iter().for_each(|s| put_str(&mut self.kv, s.as_ref()));
        Ok(())
    }

    /// Add any value, e.g. one read from another file (arrays are copied as stored).
    pub fn add_value(&mut self, key: &str, v: Value<'_>) -> Result<()> {
        match v {
            Value::U8(x) => self.add_u8(key, x),
            Value::I8(x) => self.add_i8(key, x),
            Value::U16(x) => self.add_u16(key, x),
            Value::I16(x) => self.add_i16(key, x),
            Value::U32(x) => self.add_u32(key, x),
            Value::I32(x) => self.add_i32(key, x),
            Value::F32(x) => self.add_f32(key, x),
            Value::Bool(x) => self.add_bool(key, x),
            Value::String(x) => self.add_str(key, x),
            Value::U64(x) => self.add_u64(key, x),
            Value::I64(x) => self.add_i64(key, x),
            Value::F64(x) => self.add_f64(key, x),
            Value::Array(a) => {
                self.begin_array(key, a.elem_type(), a.len())?;
                self.kv.extend_from_slice(a.raw_bytes());
                Ok(())
            }
        }
    }

    /// Declare the next tensor: name, shape in ne order (its length is the stored n_dims, as
    /// gguf-py stores the NumPy rank) and type. All tensors are declared before any data.
    pub fn add_tensor_info(&mut self, name: &str, dims: &[u64], ggml_type: GgmlType) -> Result<()> {
        if self.next_tensor.is_some() {
            return Err(GgufError::Writer(format!("tensor '{name}' declared after tensor data started")));
        }
        let info = TensorInfo { name: name.to_string(), dims: dims.to_vec(), ggml_type, offset: 0 };
        info.validate_shape().map_err(|r| GgufError::Writer(format!("tensor '{name}': {r}")))?;
        if !self.names.insert(info.name.clone()) {
            return Err(GgufError::Writer(format!("duplicate tensor name '{name}'")));
        }
        self.tensors.push(info);
        Ok(())
    }

    /// The declared tensors with their data offsets (final once data writing has started).
    pub fn tensor_infos(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// Where the tensor data section starts (header plus padding) for the metadata and tensors
    /// added so far, without writing anything; final once data writing has started. Size
    /// estimates use it with a [`std::io::sink`] writer.
    pub fn data_offset(&self) -> u64 {
        if let Some(off) = self.written_data_offset {
            return off;
        }
        let infos: u64 = self.tensors.iter().map(|t| 8 + t.name.len() as u64 + 4 + 8 * t.dims.len() as u64 + 4 + 8).sum();
        let header = 24 + self.kv.len() as u64 + infos;
        header.next_multiple_of(self.alignment)
    }

    /// Bytes written so far (the file size once finished).
    pub fn bytes_written(&self) -> u64 {
        self.pos
    }

    /// The index of the tensor whose data is due, writing the header first if needed.
    fn due(&mut self) -> Result<usize> {
        match self.next_tensor {
            Some(i) => Ok(i),
            None => {
                self.write_header()?;
                Ok(0)
            }
        }
    }

    /// Write the data of the next declared tensor (`name` must match, `data` must be exactly
    /// its byte size), followed by zero padding to the alignment.
    pub fn write_tensor_data(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let i = self.due()?;
        let Some(info) = self.tensors.get(i) else {
            return Err(GgufError::Writer(format!(
                "data for tensor '{name}', but all {} declared tensors are written",
                self.tensors.len()
            )));
        };
        if info.name != name {
            return Err(GgufError::Writer(format!("data for tensor '{name}', expected '{}' next", info.name)));
        }
        if self.in_tensor != 0 {
            return Err(GgufError::Writer(format!("tensor '{name}' is partly written in chunks")));
        }
        if data.len() as u64 != info.n_bytes() {
            return Err(GgufError::Writer(format!(
                "tensor '{name}' ({} {:?}) needs {} bytes, got {}",
                info.ggml_type.name(),
                info.dims,
                info.n_bytes(),
                data.len()
            )));
        }
        self.put(data)?;
        self.pad()?;
        self.next_tensor = Some(i + 1);
        Ok(())
    }

    /// Write the next part of the due tensor's data (for tensors produced row block by row
    /// block). When its last byte arrives the padding follows and the next tensor is due.
    /// A zero-byte tensor is completed by an empty chunk.
    pub fn write_tensor_chunk(&mut self, data: &[u8]) -> Result<()> {
        let i = self.due()?;
        let Some(info) = self.tensors.get(i) else {
            return Err(GgufError::Writer(format!(
                "{} bytes of tensor data, but all {} declared tensors are written",
                data.len(),
                self.tensors.len()
            )));
        };
        let (n, name) = (info.n_bytes(), info.name.clone());
        if self.in_tensor + data.len() as u64 > n {
            return Err(GgufError::Writer(format!(
                "tensor '{name}' needs {n} bytes, got {} so far",
                self.in_tensor + data.len() as u64
            )));
        }
        self.put(data)?;
        self.in_tensor += data.len() as u64;
        if self.in_tensor == n {
            self.pad()?;
            self.in_tensor = 0;
            self.next_tensor = Some(i + 1);
        }
        Ok(())
    }

    /// Write the header if no tensor data was written, check every tensor got its data, flush,
    /// and (for [`GgufWriter::create`]) rename the temporary file into place.
    pub fn finish(mut self) -> Result<W> {
        let written = self.due()?;
        if let Some(missing) = self.tensors.get(written) {
            return Err(GgufError::Writer(format!(
                "finished before all data of tensor '{}' ({} of {} tensors complete, {} bytes of it)",
                missing.name,
                written,
                self.tensors.len(),
                self.in_tensor
            )));
        }
        self.out.flush().map_err(|e| self.io_error(e))?;
        if let Some(t) = self.temp.as_mut() {
            // fsync through a second handle (the sink is generic): the data must be on disk
            // before the rename makes the file look complete.
            File::open(&t.tmp)
                .and_then(|f| f.sync_all())
                .map_err(|source| GgufError::Io { path: t.tmp.clone(), source })?;
            std::fs::rename(&t.tmp, &t.dest).map_err(|source| GgufError::Io { path: t.dest.clone(), source })?;
            t.committed = true;
        }
        // `Drop` of the guard is now a no-op; hand the sink back.
        let GgufWriter { out, .. } = self;
        Ok(out)
    }

    fn write_header(&mut self) -> Result<()> {
        let mut offset = 0u64;
        for t in &mut self.tensors {
            t.offset = offset;
            offset = offset
                .checked_add(t.n_bytes())
                .and_then(|end| align_up(end, self.alignment))
                .ok_or_else(|| GgufError::Writer("total tensor size overflows".into()))?;
        }
        let mut h = Vec::with_capacity(24 + self.kv.len() + self.tensors.len() * 80);
        h.extend_from_slice(&MAGIC);
        h.extend_from_slice(&WRITE_VERSION.to_le_bytes());
        h.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        h.extend_from_slice(&self.n_kv.to_le_bytes());
        h.extend_from_slice(&self.kv);
        for t in &self.tensors {
            put_str(&mut h, &t.name);
            h.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            t.dims.iter().for_each(|d| h.extend_from_slice(&d.to_le_bytes()));
            h.extend_from_slice(&t.ggml_type.id().to_le_bytes());
            h.extend_from_slice(&t.offset.to_le_bytes());
        }
        self.put(&h)?;
        // gguf-py pads the header to the alignment even when there are no tensors.
        self.pad()?;
        self.written_data_offset = Some(self.pos);
        self.kv = Vec::new();
        self.next_tensor = Some(0);
        Ok(())
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b).map_err(|e| self.io_error(e))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> Result<()> {
        let mut left = self.pos.next_multiple_of(self.alignment) - self.pos;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64);
            self.put(&ZEROS[..n as usize])?;
            left -= n;
        }
        Ok(())
    }

    fn io_error(&self, e: std::io::Error) -> GgufError {
        match &self.temp {
            Some(t) => GgufError::Io { path: t.tmp.clone(), source: e },
            None => GgufError::Write(e),
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}
