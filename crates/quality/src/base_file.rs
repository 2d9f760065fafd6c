//! Base-logits file (`dgemma kld --save-base`): the base model's distributions once, so many
//! quantizations can be compared without re-running the base.
//!
//! Layout (little-endian):
//!
//! ```text
//! magic        8 bytes  "DGKLDB01"
//! header_len   u64
//! header       header_len bytes of UTF-8 JSON: BaseHeader
//! rows         for each header.sections[i], rows[i] rows of:
//!                target_logp  f32      ln p(reference token), NaN when the position has none
//!                top          n_top × (u32 id, f32 ln p), most likely first
//! ```
//!
//! `n_top = min(top_k, vocab)` for every row, so a row is `4 + 8·n_top` bytes (top-K = 64:
//! 516 bytes per position instead of 1 MiB of F32 logits at a 262k vocabulary). Like
//! llama.cpp's KL base file it stores log-probabilities, but only the top K of them: KL is then
//! computed with one bucket for the rest of the mass (see [`crate::logprobs::compare_compact`]).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{QualityError, Result};
use crate::logprobs::CompactRow;

const MAGIC: &[u8; 8] = b"DGKLDB01";

/// One section's name and row count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectionInfo {
    pub name: String,
    pub rows: usize,
}

/// The JSON header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaseHeader {
    /// Format version (1).
    pub version: u32,
    /// Vocabulary size of the base model.
    pub vocab: usize,
    /// Tokens kept per position.
    pub top_k: usize,
    /// The settings and inputs the rows were made with; a later run must match them exactly.
    pub settings: serde_json::Value,
    /// Sections in file order.
    pub sections: Vec<SectionInfo>,
    /// Anything else the base run produced (e.g. the sampler-level results).
    pub extra: serde_json::Value,
}

/// A whole base file in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseFile {
    pub header: BaseHeader,
    /// Rows of each section, in the order of `header.sections`.
    pub rows: Vec<Vec<CompactRow>>,
}

impl BaseFile {
    /// Rows kept per position.
    pub fn n_top(&self) -> usize {
        self.header.top_k.min(self.header.vocab)
    }

    /// Rows of the section called `name`.
    pub fn section(&self, name: &str) -> Option<&[CompactRow]> {
        let i = self.header.sections.iter().position(|s| s.name == name)?;
        self.rows.get(i).map(Vec::as_slice)
    }

    /// Write to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |source| QualityError::Io { path: path.to_path_buf(), source };
        let n_top = self.n_top();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        let header = serde_json::to_vec(&self.header).expect("header is plain JSON");
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for (rows, info) in self.rows.iter().zip(&self.header.sections) {
            if rows.len() != info.rows {
                return Err(QualityError::Shape { what: "section rows", got: rows.len(), expected: info.rows });
            }
            for r in rows {
                if r.top.len() != n_top {
                    return Err(QualityError::Shape { what: "top-K entries of a row", got: r.top.len(), expected: n_top });
                }
                out.extend_from_slice(&r.target_logp.unwrap_or(f32::NAN).to_le_bytes());
                for &(id, lp) in &r.top {
                    out.extend_from_slice(&id.to_le_bytes());
                    out.extend_from_slice(&lp.to_le_bytes());
                }
            }
        }
        let mut f = std::fs::File::create(path).map_err(io)?;
        f.write_all(&out).map_err(io)
    }

    /// Read and validate `path`: every length is checked against the file size before use.
    pub fn read(path: &Path) -> Result<BaseFile> {
        let bytes = std::fs::read(path).map_err(|source| QualityError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&bytes).map_err(|reason| QualityError::BadBaseFile { path: path.to_path_buf(), reason })
    }

    fn parse(bytes: &[u8]) -> std::result::Result<BaseFile, String> {
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err("not a dgemma base-logits file (magic DGKLDB01 missing)".into());
        }
        let hlen = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let rest = &bytes[16..];
        if hlen > rest.len() as u64 {
            return Err(format!("header of {hlen} bytes runs past the end ({} bytes left)", rest.len()));
        }
        let (hbytes, mut data) = rest.split_at(hlen as usize);
        let header: BaseHeader = serde_json::from_slice(hbytes).map_err(|e| format!("header: {e}"))?;
        if header.version != 1 {
            return Err(format!("version {} (this build reads 1)", header.version));
        }
        if header.top_k == 0 || header.vocab == 0 || header.vocab > u32::MAX as usize {
            return Err(format!("top_k {} / vocab {} out of range", header.top_k, header.vocab));
        }
        let n_top = header.top_k.min(header.vocab);
        let row_bytes = 4 + 8 * n_top;
        let want = header
            .sections
            .iter()
            .try_fold(0u64, |acc, s| (s.rows as u64).checked_mul(row_bytes as u64).and_then(|b| acc.checked_add(b)));
        if want != Some(data.len() as u64) {
            return Err(format!("rows need {want:?} bytes, the file holds {} after the header", data.len()));
        }
        let f32_at = |b: &[u8], i: usize| f32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let mut rows = Vec::with_capacity(header.sections.len());
        for s in &header.sections {
            let mut sec = Vec::with_capacity(s.rows);
            for _ in 0..s.rows {
                let (row, tail) = data.split_at(row_bytes);
                data = tail;
                let t = f32_at(row, 0);
                let mut top = Vec::with_capacity(n_top);
                for j in 0..n_top {
                    let o = 4 + 8 * j;
                    let id = u32::from_le_bytes(row[o..o + 4].try_into().expect("4 bytes"));
                    if id as usize >= header.vocab {
                        return Err(format!("section {}: token id {id} ≥ vocab {}", s.name, header.vocab));
                    }
                    top.push((id, f32_at(row, o + 4)));
                }
                sec.push(CompactRow { top, target_logp: (!t.is_nan()).then_some(t) });
            }
            rows.push(sec);
        }
        Ok(BaseFile { header, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BaseFile {
        let row = |a: u32| CompactRow { top: vec![(a, -0.5), (a + 1, -1.5)], target_logp: if a % 2 == 0 { Some(-2.0) } else { None } };
        BaseFile {
            header: BaseHeader {
                version: 1,
                vocab: 10,
                top_k: 2,
                settings: serde_json::json!({"seed": 1}),
                sections: vec![SectionInfo { name: "a".into(), rows: 2 }, SectionInfo { name: "b".into(), rows: 1 }],
                extra: serde_json::json!({"x": [1, 2]}),
            },
            rows: vec![vec![row(0), row(3)], vec![row(6)]],
        }
    }

    #[test]
    fn round_trips() {
        let dir = std::env::temp_dir().join(format!("dgemma-quality-bf-{}", std::process::id()));
        let f = sample();
        f.write(&dir).unwrap();
        let back = BaseFile::read(&dir).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.section("b").unwrap()[0].top[0].0, 6);
        // Every truncation is an error, never a panic.
        let bytes = std::fs::read(&dir).unwrap();
        for n in 0..bytes.len() {
            assert!(BaseFile::parse(&bytes[..n]).is_err(), "truncated at {n}");
        }
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn rejects_out_of_range_ids() {
        let mut f = sample();
        f.rows[1][0].top[1].0 = 10;
        let p = std::env::temp_dir().join(format!("dgemma-quality-bf-bad-{}", std::process::id()));
        f.write(&p).unwrap();
        let e = BaseFile::read(&p).unwrap_err().to_string();
        assert!(e.contains("token id 10"), "{e}");
        let _ = std::fs::remove_file(&p);
    }
}
