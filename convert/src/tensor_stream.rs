//! Encoding one tensor into the output, streaming: rows are widened to f32 and encoded in
//! parallel (rayon) batch by batch, and each batch is written before the next is made, so
//! memory stays at one batch (tens of MB) whatever the tensor size.

use std::sync::atomic::{AtomicUsize, Ordering};

use dgemma_quant::GgmlType;
use rayon::prelude::*;

use crate::encode::{decode, encode};
use crate::error::{ConvertError, Result};
use crate::output::Output;
use crate::source::{to_f32, SourceDtype};

/// Elements one rayon task handles (K-quant search is ~1 µs per element, so tasks take ~50 ms).
const TASK_ELEMS: usize = 1 << 16;
/// Tasks per written batch (enough to keep every core busy between writes).
const TASKS_PER_BATCH: usize = 64;

/// How the input bytes encode values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A safetensors dtype.
    Source(SourceDtype),
    /// A ggml type (GGUF input).
    Ggml(GgmlType),
}

impl InputKind {
    fn row_bytes(self, n: usize) -> Option<usize> {
        match self {
            InputKind::Source(SourceDtype::F32) => Some(4 * n),
            InputKind::Source(_) => Some(2 * n),
            InputKind::Ggml(t) => t.row_bytes(n),
        }
    }
    fn as_ggml(self) -> GgmlType {
        match self {
            InputKind::Source(SourceDtype::F32) => GgmlType::F32,
            InputKind::Source(SourceDtype::F16) => GgmlType::F16,
            InputKind::Source(SourceDtype::BF16) => GgmlType::BF16,
            InputKind::Ggml(t) => t,
        }
    }
    fn widen(self, src: &[u8], dst: &mut [f32]) -> Result<(), String> {
        match self {
            InputKind::Source(d) => {
                to_f32(d, src, dst);
                Ok(())
            }
            InputKind::Ggml(t) => decode(t, src, dst),
        }
    }
}

/// One tensor to encode.
pub struct TensorJob<'a> {
    pub name: &'a str,
    /// Elements per row (ne0).
    pub n_per_row: usize,
    /// Rows (product of ne1..).
    pub n_rows: usize,
    pub input: &'a [u8],
    pub kind: InputKind,
    pub out: GgmlType,
    /// Count NaN/inf and fail on any (HF input); llama-quantize does not check, nor do we for GGUF.
    pub check_finite: bool,
}

/// Encodes `job` and writes it; `on_bytes` is told about every batch written.
pub fn write_tensor(w: &mut Output, job: &TensorJob, mut on_bytes: impl FnMut(u64)) -> Result<()> {
    let qerr = |msg: String| ConvertError::Quantize { name: job.name.to_string(), ty: job.out.to_string(), msg };
    let in_row = job.kind.row_bytes(job.n_per_row).ok_or_else(|| qerr("input row is not a whole number of blocks".into()))?;
    let out_row = job.out.row_bytes(job.n_per_row).ok_or_else(|| qerr(format!("row of {} is not a whole number of blocks", job.n_per_row)))?;
    if job.input.len() < in_row * job.n_rows {
        return Err(qerr(format!("input has {} bytes, expected {}", job.input.len(), in_row * job.n_rows)));
    }
    let input = &job.input[..in_row * job.n_rows];
    let non_finite = AtomicUsize::new(0);
    let same_type = job.kind.as_ggml() == job.out;
    let rows_per_task = (TASK_ELEMS / job.n_per_row).max(1);
    let rows_per_batch = rows_per_task * TASKS_PER_BATCH;
    let mut out_buf = vec![0u8; out_row * rows_per_batch.min(job.n_rows)];
    let mut first = 0;
    while first < job.n_rows {
        let rows = rows_per_batch.min(job.n_rows - first);
        let src = &input[first * in_row..(first + rows) * in_row];
        let dst = &mut out_buf[..rows * out_row];
        let result: Result<(), String> = dst
            .par_chunks_mut(rows_per_task * out_row)
            .zip(src.par_chunks(rows_per_task * in_row))
            .try_for_each_init(Vec::<f32>::new, |scratch, (d, s)| {
                let n = s.len() / in_row * job.n_per_row;
                if !same_type || job.check_finite {
                    scratch.resize(n, 0.0);
                    job.kind.widen(s, scratch)?;
                    if job.check_finite {
                        let bad = scratch.iter().filter(|v| !v.is_finite()).count();
                        if bad > 0 {
                            // The tensor fails once counted; the quantizers refuse such input.
                            non_finite.fetch_add(bad, Ordering::Relaxed);
                            return Ok(());
                        }
                    }
                }
                if same_type {
                    d.copy_from_slice(s);
                    Ok(())
                } else {
                    encode(job.out, scratch, d)
                }
            });
        result.map_err(qerr)?;
        w.write_chunk(dst)?;
        on_bytes(dst.len() as u64);
        first += rows;
    }
    let bad = non_finite.into_inner();
    if bad > 0 {
        return Err(ConvertError::NonFinite { name: job.name.to_string(), count: bad });
    }
    Ok(())
}
