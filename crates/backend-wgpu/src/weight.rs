//! Weights on the device: the file's bytes as `array<u32>`, split at row boundaries into
//! buffers no larger than one storage binding may see.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dgemma_backend::{BackendError, WeightShape, WeightSource};
use dgemma_quant::GgmlType;

use crate::WgpuBackend;

/// Extra bytes after each part so unaligned 4-byte reads of the last block stay in bounds.
const PAD: usize = 4;

/// One buffer holding whole rows `row0 .. row0 + rows` of the flattened `[experts · rows, cols]`
/// weight.
pub(crate) struct Part {
    pub(crate) buf: wgpu::Buffer,
    pub(crate) row0: usize,
    pub(crate) rows: usize,
}

/// An uploaded weight.
pub struct WgpuWeight {
    pub(crate) ty: GgmlType,
    pub(crate) shape: WeightShape,
    pub(crate) row_bytes: usize,
    pub(crate) parts: Vec<Part>,
    /// Device bytes of `parts`, returned to the backend's count on drop.
    bytes: u64,
    uploaded: Arc<AtomicU64>,
}

impl Drop for WgpuWeight {
    fn drop(&mut self) {
        self.uploaded.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl WgpuWeight {
    /// Number of device buffers the weight was split into.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// The parts overlapping flattened rows `[lo, hi)`, each with the sub-range it covers:
    /// `(part, first row within the part, rows, first row within [lo, hi))`.
    pub(crate) fn spans(&self, lo: usize, hi: usize) -> impl Iterator<Item = (&Part, usize, usize, usize)> {
        self.parts.iter().filter_map(move |p| {
            let a = lo.max(p.row0);
            let b = hi.min(p.row0 + p.rows);
            (a < b).then(|| (p, a - p.row0, b - a, a - lo))
        })
    }
}

/// Device bytes of a part holding `bytes` of rows: the padding, rounded up to whole words.
fn part_size(bytes: usize) -> u64 {
    ((bytes + PAD).div_ceil(4) * 4) as u64
}

impl WgpuBackend {
    pub(crate) fn upload(&self, src: WeightSource<'_>) -> Result<WgpuWeight, BackendError> {
        if !crate::kernels::supported(src.ty) {
            return Err(BackendError::UnsupportedType { name: src.name.to_string(), ty: src.ty, backend: "wgpu" });
        }
        let bad = |want| BackendError::BadSize {
            name: src.name.to_string(),
            ty: src.ty,
            shape: src.shape,
            got: src.data.len(),
            want,
        };
        let row_bytes = src.ty.row_bytes(src.shape.cols).ok_or_else(|| bad(0))?;
        let total_rows = src.shape.rows.checked_mul(src.shape.experts).ok_or_else(|| bad(usize::MAX))?;
        let want = row_bytes.checked_mul(total_rows).ok_or_else(|| bad(usize::MAX))?;
        if src.data.len() != want {
            return Err(bad(want));
        }
        let device_err = |requested: u64, message: String| BackendError::Device {
            name: src.name.to_string(),
            device: self.desc.name.clone(),
            requested,
            uploaded: self.uploaded_bytes(),
            message,
        };
        let limit = self.part_limit as usize;
        let rows_per_part = (limit.saturating_sub(PAD + 4)) / row_bytes.max(1);
        if rows_per_part == 0 {
            return Err(device_err(
                part_size(row_bytes),
                format!("one row is {row_bytes} bytes, more than one storage binding ({limit} bytes)"),
            ));
        }
        // Every part's size, known before anything is allocated, so a budget refusal leaves
        // the device untouched.
        let part_rows: Vec<usize> =
            (0..total_rows.div_ceil(rows_per_part).max(1)).map(|i| rows_per_part.min(total_rows - i * rows_per_part)).collect();
        let requested: u64 = part_rows.iter().map(|&r| part_size(r * row_bytes)).sum();
        if let Some(budget) = self.weight_budget {
            if self.uploaded_bytes().saturating_add(requested) > budget {
                return Err(device_err(requested, format!("over the device-memory budget for weights of {budget} bytes")));
            }
        }
        let mut parts = Vec::with_capacity(part_rows.len());
        let mut row0 = 0;
        for rows in part_rows {
            let bytes = &src.data[row0 * row_bytes..(row0 + rows) * row_bytes];
            let size = part_size(bytes.len());
            if size > self.limits.max_buffer_size {
                return Err(device_err(requested, format!("a {size}-byte buffer exceeds the device's max_buffer_size of {}", self.limits.max_buffer_size)));
            }
            // Scopes nest: the inner one (validation) is popped first.
            self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            self.device.push_error_scope(wgpu::ErrorFilter::Validation);
            let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(src.name),
                size,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: true,
            });
            let invalid = pollster::block_on(self.device.pop_error_scope());
            let oom = pollster::block_on(self.device.pop_error_scope());
            if let Some(err) = oom.or(invalid) {
                // Parts created so far are freed when `parts` drops.
                return Err(device_err(requested, format!("creating a {size}-byte buffer failed: {err}")));
            }
            buf.slice(..).get_mapped_range_mut()[..bytes.len()].copy_from_slice(bytes);
            buf.unmap();
            parts.push(Part { buf, row0, rows });
            row0 += rows;
        }
        self.uploaded.fetch_add(requested, Ordering::Relaxed);
        Ok(WgpuWeight { ty: src.ty, shape: src.shape, row_bytes, parts, bytes: requested, uploaded: Arc::clone(&self.uploaded) })
    }
}
