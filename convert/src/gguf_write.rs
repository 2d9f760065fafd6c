//! Streaming GGUF v3 output: header (KVs + all tensor infos) first, then each tensor's bytes in
//! order, padded to 32; written to `OUT.tmp` and renamed on success, so a failed run never
//! leaves a truncated file under the final name. Byte layout as gguf-py's `GGUFWriter`
//! (../shared/spec/gguf.md §1).
//!
//! This is a small private writer: dgemma-gguf's `GgufWriter` was not available when this crate
//! was written; the two produce the same bytes by construction (same spec).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dgemma_quant::GgmlType;

use crate::error::{ConvertError, Result};
use crate::meta_value::Metadata;

/// Alignment of the data section and of every tensor (the default; the key is never written).
pub const ALIGNMENT: u64 = 32;

/// Name, shape and type of one output tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub ne: Vec<u64>,
    pub ty: GgmlType,
}

impl TensorInfo {
    /// Bytes of the tensor's data (unpadded). `None` if ne0 is not a whole number of blocks.
    pub fn nbytes(&self) -> Option<u64> {
        let n: u64 = self.ne.iter().product();
        if self.ne.first().copied().unwrap_or(1) % self.ty.block_size() as u64 != 0 {
            return None;
        }
        self.ty.bytes_for(n)
    }
    /// Bytes of its tensor-info record.
    pub fn info_len(&self) -> u64 {
        8 + self.name.len() as u64 + 4 + 8 * self.ne.len() as u64 + 4 + 8
    }
}

/// Rounds up to the alignment.
pub fn pad(n: u64) -> u64 {
    n.div_ceil(ALIGNMENT) * ALIGNMENT
}

/// Offset of the data section for these KVs and tensor infos.
pub fn data_start(meta: &Metadata, infos: &[TensorInfo]) -> u64 {
    pad(24 + meta.encoded_len() + infos.iter().map(TensorInfo::info_len).sum::<u64>())
}

/// Whole file size.
pub fn file_size(meta: &Metadata, infos: &[TensorInfo]) -> u64 {
    data_start(meta, infos) + infos.iter().map(|t| pad(t.nbytes().unwrap_or(0))).sum::<u64>()
}

/// Serializes the header (up to and including the padding before the data section).
pub fn encode_header(meta: &Metadata, infos: &[TensorInfo]) -> Vec<u8> {
    let mut h = Vec::with_capacity(data_start(meta, infos) as usize);
    h.extend_from_slice(b"GGUF");
    h.extend_from_slice(&3u32.to_le_bytes());
    h.extend_from_slice(&(infos.len() as u64).to_le_bytes());
    h.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    for (k, v) in meta.entries() {
        h.extend_from_slice(&(k.len() as u64).to_le_bytes());
        h.extend_from_slice(k.as_bytes());
        v.encode_into(&mut h);
    }
    let mut offset = 0u64;
    for t in infos {
        h.extend_from_slice(&(t.name.len() as u64).to_le_bytes());
        h.extend_from_slice(t.name.as_bytes());
        h.extend_from_slice(&(t.ne.len() as u32).to_le_bytes());
        t.ne.iter().for_each(|d| h.extend_from_slice(&d.to_le_bytes()));
        h.extend_from_slice(&t.ty.id().to_le_bytes());
        h.extend_from_slice(&offset.to_le_bytes());
        offset += pad(t.nbytes().unwrap_or(0));
    }
    h.resize(pad(h.len() as u64) as usize, 0);
    h
}

/// A GGUF file being written; tensors must come in the order of the infos.
pub struct StreamWriter {
    out: Option<BufWriter<File>>,
    tmp: PathBuf,
    dest: PathBuf,
    infos: Vec<TensorInfo>,
    next: usize,
    in_tensor: u64,
    written: u64,
}

fn write_err(path: &Path, written: u64, e: std::io::Error) -> ConvertError {
    if e.raw_os_error() == Some(28) {
        ConvertError::DiskFull { path: path.to_path_buf(), written }
    } else {
        ConvertError::io(path, e)
    }
}

impl StreamWriter {
    /// Creates `dest.tmp` and writes the header. Refuses an existing `dest` unless `force`.
    pub fn create(dest: &Path, meta: &Metadata, infos: Vec<TensorInfo>, force: bool) -> Result<Self> {
        if dest.exists() && !force {
            return Err(ConvertError::OutputExists(dest.to_path_buf()));
        }
        for t in &infos {
            if t.nbytes().is_none() {
                return Err(ConvertError::Quantize {
                    name: t.name.clone(),
                    ty: t.ty.to_string(),
                    msg: format!("row of {} elements is not a whole number of blocks", t.ne[0]),
                });
            }
        }
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(|e| ConvertError::io(&tmp, e))?;
        let mut w = StreamWriter { out: Some(BufWriter::with_capacity(8 << 20, file)), tmp, dest: dest.to_path_buf(), infos, next: 0, in_tensor: 0, written: 0 };
        let header = encode_header(meta, &w.infos);
        w.put(&header)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let out = self.out.as_mut().expect("writer used after finish");
        out.write_all(bytes).map_err(|e| write_err(&self.tmp, self.written, e))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// The tensor infos, in write order.
    pub fn infos(&self) -> &[TensorInfo] {
        &self.infos
    }

    /// Writes the next part of the current tensor's bytes; after its last byte the padding
    /// follows and the next tensor begins.
    pub fn write_chunk(&mut self, data: &[u8]) -> Result<()> {
        let info = self.infos.get(self.next).ok_or_else(|| ConvertError::Quantize {
            name: "(extra tensor)".into(),
            ty: String::new(),
            msg: "more data written than the declared tensors hold".into(),
        })?;
        let n = info.nbytes().unwrap_or(0);
        if self.in_tensor + data.len() as u64 > n {
            return Err(ConvertError::Quantize {
                name: info.name.clone(),
                ty: info.ty.to_string(),
                msg: format!("produced more than the expected {n} bytes"),
            });
        }
        self.put(data)?;
        self.in_tensor += data.len() as u64;
        if self.in_tensor == n {
            let zeros = [0u8; ALIGNMENT as usize];
            self.put(&zeros[..(pad(n) - n) as usize])?;
            self.next += 1;
            self.in_tensor = 0;
        }
        Ok(())
    }

    /// Flushes, syncs and renames the temp file to the destination; returns the file size.
    pub fn finish(mut self) -> Result<u64> {
        if self.next != self.infos.len() {
            return Err(ConvertError::MissingTensor(self.infos[self.next].name.clone()));
        }
        let out = self.out.take().expect("finish called twice");
        let file = out.into_inner().map_err(|e| write_err(&self.tmp, self.written, e.into_error()))?;
        file.sync_all().map_err(|e| write_err(&self.tmp, self.written, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| ConvertError::io(&self.dest, e))?;
        Ok(self.written)
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        // Not finished: remove the partial temp file.
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
