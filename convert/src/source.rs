//! The HF checkpoint's tensors: one `model.safetensors` or the shards of
//! `model.safetensors.index.json`, memory-mapped (never read whole), in the order llama.cpp's
//! converter visits them (shards in file-name order, names sorted within a shard).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::config::read_json;
use crate::error::{ConvertError, Result};

/// Element type of a source tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceDtype {
    BF16,
    F16,
    F32,
}

/// One tensor in a shard.
#[derive(Clone, Debug)]
pub struct SourceTensor {
    pub name: String,
    pub dtype: SourceDtype,
    /// HF (row-major, outermost first) shape.
    pub shape: Vec<u64>,
    /// The dtype's name when it is not one the converter reads (tensors of dropped towers may
    /// have any dtype; reading this one fails).
    pub unsupported_dtype: Option<String>,
    shard: usize,
    start: usize,
    end: usize,
}

/// All shards of a checkpoint.
pub struct Checkpoint {
    shards: Vec<(PathBuf, Mmap)>,
    /// Tensors in visiting order.
    pub tensors: Vec<SourceTensor>,
}

fn open_map(path: &Path) -> Result<Mmap> {
    let f = File::open(path).map_err(|e| ConvertError::io(path, e))?;
    // SAFETY: read-only map of a file we do not modify; concurrent truncation by another process
    // is outside what any mmap reader can defend against.
    unsafe { Mmap::map(&f) }.map_err(|e| ConvertError::io(path, e))
}

impl Checkpoint {
    /// Opens `dir/model.safetensors.index.json` (sharded) or `dir/model.safetensors`.
    pub fn open(dir: &Path) -> Result<Self> {
        let index = dir.join("model.safetensors.index.json");
        let shard_names: Vec<String> = if index.exists() {
            let idx = read_json(&index)?;
            let map = idx.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| ConvertError::MissingKey {
                file: index.display().to_string(),
                key: "weight_map".into(),
            })?;
            let listed: BTreeSet<String> = map.values().filter_map(|v| v.as_str().map(str::to_string)).collect();
            for s in &listed {
                if !dir.join(s).exists() {
                    return Err(ConvertError::MissingShard { index: index.clone(), shard: s.clone() });
                }
            }
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().to_string();
                    if n.ends_with(".safetensors") && !listed.contains(&n) {
                        return Err(ConvertError::ExtraShard { index: index.clone(), shard: n });
                    }
                }
            }
            listed.into_iter().collect()
        } else if dir.join("model.safetensors").exists() {
            vec!["model.safetensors".to_string()]
        } else {
            return Err(ConvertError::io(dir.join("model.safetensors"), std::io::Error::new(std::io::ErrorKind::NotFound, "no model.safetensors or model.safetensors.index.json")));
        };
        let mut shards = Vec::new();
        let mut tensors = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for (si, name) in shard_names.iter().enumerate() {
            let path = dir.join(name);
            let map = open_map(&path)?;
            let (n, meta) = SafeTensors::read_metadata(&map)
                .map_err(|e| ConvertError::Safetensors { path: path.clone(), msg: format!("{e:?}") })?;
            let base = 8 + n;
            let mut names: Vec<(String, &safetensors::tensor::TensorInfo)> = meta.tensors().into_iter().collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (tname, info) in names {
                if seen.insert(tname.clone(), ()).is_some() {
                    return Err(ConvertError::DuplicateTensor(tname));
                }
                let (dtype, unsupported_dtype) = match info.dtype {
                    Dtype::BF16 => (SourceDtype::BF16, None),
                    Dtype::F16 => (SourceDtype::F16, None),
                    Dtype::F32 => (SourceDtype::F32, None),
                    other => (SourceDtype::F32, Some(format!("{other:?}"))),
                };
                tensors.push(SourceTensor {
                    name: tname,
                    dtype,
                    unsupported_dtype,
                    shape: info.shape.iter().map(|&d| d as u64).collect(),
                    shard: si,
                    start: base + info.data_offsets.0,
                    end: base + info.data_offsets.1,
                });
            }
            shards.push((path, map));
        }
        Ok(Checkpoint { shards, tensors })
    }

    /// Drops the pages of a tensor already converted from this process's resident set, so peak
    /// RSS stays near one tensor instead of growing to the checkpoint size (the pages stay in the
    /// OS cache). Best effort: failure only costs memory.
    pub fn release(&self, t: &SourceTensor) {
        if t.unsupported_dtype.is_none() {
            release_range(&self.shards[t.shard].1, t.start, t.end);
        }
    }

    /// Raw little-endian bytes of a tensor; errors for a dtype the converter cannot read.
    pub fn bytes(&self, t: &SourceTensor) -> Result<&[u8]> {
        if let Some(d) = &t.unsupported_dtype {
            return Err(ConvertError::UnsupportedDtype { name: t.name.clone(), dtype: d.clone() });
        }
        Ok(&self.shards[t.shard].1[t.start..t.end])
    }
}

/// Widens source bytes to f32 (`out.len()` elements).
pub fn to_f32(dtype: SourceDtype, bytes: &[u8], out: &mut [f32]) {
    match dtype {
        SourceDtype::BF16 => {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16);
            }
        }
        SourceDtype::F16 => {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
            }
        }
        SourceDtype::F32 => {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
    }
}

/// `MADV_DONTNEED` over the whole pages inside `[start, end)` of a read-only map.
pub(crate) fn release_range(map: &Mmap, start: usize, end: usize) {
    #[cfg(unix)]
    {
        const PAGE: usize = 4096;
        let first = start.div_ceil(PAGE) * PAGE;
        let last = end / PAGE * PAGE;
        if last > first {
            // SAFETY: the map is read-only and file-backed; dropping its pages loses nothing
            // (they are re-read from the file if touched again) and no reference into the range
            // is used after this call by the converter.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, last - first) };
        }
    }
    #[cfg(not(unix))]
    let _ = (map, start, end);
}
