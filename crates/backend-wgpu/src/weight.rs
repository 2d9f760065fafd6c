//! Weights on the device: the file's bytes as `array<u32>`, split at row boundaries into
//! buffers no larger than one storage binding may see.

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
        let limit = self.part_limit as usize;
        let rows_per_part = (limit.saturating_sub(PAD + 4)) / row_bytes.max(1);
        assert!(
            rows_per_part > 0,
            "tensor {}: one row of {row_bytes} bytes does not fit a storage binding of {limit} bytes on {}",
            src.name,
            self.desc.name
        );
        let mut parts = Vec::new();
        let mut row0 = 0;
        while row0 < total_rows.max(1) {
            let rows = rows_per_part.min(total_rows - row0);
            let bytes = &src.data[row0 * row_bytes..(row0 + rows) * row_bytes];
            let size = ((bytes.len() + PAD).div_ceil(4) * 4) as u64;
            self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(src.name),
                size,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: true,
            });
            if let Some(err) = pollster::block_on(self.device.pop_error_scope()) {
                // The Backend trait has no device error variant yet: this is a resource failure,
                // not bad input, so stop with the numbers.
                panic!(
                    "tensor {}: the device ({}) is out of memory allocating {size} bytes after {} bytes of weights: {err}",
                    src.name,
                    self.desc.name,
                    self.uploaded_bytes()
                );
            }
            buf.slice(..).get_mapped_range_mut()[..bytes.len()].copy_from_slice(bytes);
            buf.unmap();
            self.add_uploaded(size);
            parts.push(Part { buf, row0, rows });
            row0 += rows;
            if total_rows == 0 {
                break;
            }
        }
        Ok(WgpuWeight { ty: src.ty, shape: src.shape, row_bytes, parts })
    }
}
