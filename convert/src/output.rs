//! The output file: a [`GgufWriter`] over `OUT.tmp` (renamed on success, deleted if the run
//! fails, so a truncated file never sits under the final name), with its errors turned into
//! [`ConvertError`]s that name the file, and data sizes shared with the estimate.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dgemma_gguf::{GgufError, GgufWriter, TensorInfo, Value};
use dgemma_quant::GgmlType;

use crate::error::{ConvertError, Result};
use crate::meta_value::Metadata;

/// Bytes of a tensor's data, or the converter's error when a row is not whole blocks.
pub fn tensor_bytes(name: &str, ne: &[u64], ty: GgmlType) -> Result<u64> {
    let n0 = ne.first().copied().unwrap_or(1);
    let n: u64 = ne.iter().product();
    n0.is_multiple_of(ty.block_size() as u64).then(|| ty.bytes_for(n)).flatten().ok_or_else(|| ConvertError::Quantize {
        name: name.to_string(),
        ty: ty.to_string(),
        msg: format!("row of {n0} elements is not a whole number of blocks"),
    })
}

/// Adds a tensor declaration, checking whole blocks first (the converter's error for that).
fn declare<W: Write>(w: &mut GgufWriter<W>, name: &str, ne: &[u64], ty: GgmlType) -> Result<Option<GgufError>> {
    tensor_bytes(name, ne, ty)?;
    Ok(w.add_tensor_info(name, ne, ty).err())
}

/// Size of the header (the data section's offset) of a file with these records and tensors.
pub fn header_size<'t>(meta: &Metadata, tensors: impl IntoIterator<Item = (&'t str, &'t [u64], GgmlType)>) -> Result<u64> {
    let fail = |e: GgufError| ConvertError::Gguf { path: PathBuf::from("(size estimate)"), source: e };
    let mut w = GgufWriter::new(std::io::sink());
    meta.add_to(&mut w).map_err(fail)?;
    for (name, ne, ty) in tensors {
        if let Some(e) = declare(&mut w, name, ne, ty)? {
            return Err(fail(e));
        }
    }
    Ok(w.data_offset())
}

/// A GGUF file being written: metadata and tensor declarations, then data in declaration order.
pub struct Output {
    w: GgufWriter<BufWriter<File>>,
    dest: PathBuf,
}

impl Output {
    /// Creates `dest.tmp`. Refuses an existing `dest` unless `force`.
    pub fn create(dest: &Path, force: bool) -> Result<Self> {
        if dest.exists() && !force {
            return Err(ConvertError::OutputExists(dest.to_path_buf()));
        }
        let w = GgufWriter::create(dest).map_err(|e| gguf_error(dest, 0, e))?;
        Ok(Output { w, dest: dest.to_path_buf() })
    }

    fn err(&self, e: GgufError) -> ConvertError {
        gguf_error(&self.dest, self.w.bytes_written(), e)
    }

    /// Adds every record of `meta`.
    pub fn metadata(&mut self, meta: &Metadata) -> Result<()> {
        meta.add_to(&mut self.w).map_err(|e| self.err(e))
    }

    /// Adds one record as read from another file (copied unchanged).
    pub fn copy_value(&mut self, key: &str, v: Value<'_>) -> Result<()> {
        self.w.add_value(key, v).map_err(|e| self.err(e))
    }

    /// Declares the next tensor.
    pub fn tensor(&mut self, name: &str, ne: &[u64], ty: GgmlType) -> Result<()> {
        match declare(&mut self.w, name, ne, ty)? {
            Some(e) => Err(self.err(e)),
            None => Ok(()),
        }
    }

    /// The declared tensors.
    pub fn tensors(&self) -> &[TensorInfo] {
        self.w.tensor_infos()
    }

    /// Writes the next part of the current tensor's bytes (the header goes first).
    pub fn write_chunk(&mut self, data: &[u8]) -> Result<()> {
        self.w.write_tensor_chunk(data).map_err(|e| self.err(e))
    }

    /// Flushes, syncs and renames the temp file to the destination; returns the file size.
    pub fn finish(self) -> Result<u64> {
        let (dest, written) = (self.dest.clone(), self.w.bytes_written());
        self.w.finish().map_err(|e| gguf_error(&dest, written, e))?;
        std::fs::metadata(&dest).map(|m| m.len()).map_err(|e| ConvertError::io(&dest, e))
    }
}

/// Disk full and I/O errors keep their own variants; the rest name the output file.
fn gguf_error(dest: &Path, written: u64, e: GgufError) -> ConvertError {
    match e {
        GgufError::Io { path, source } if source.raw_os_error() == Some(28) => ConvertError::DiskFull { path, written },
        GgufError::Io { path, source } => ConvertError::Io { path, source },
        other => ConvertError::Gguf { path: dest.to_path_buf(), source: other },
    }
}
