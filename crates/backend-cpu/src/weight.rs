//! CPU weights: the file's bytes, borrowed, plus per-row decoding to f32.

use dgemma_backend::{BackendError, WeightShape, WeightSource};
use dgemma_quant::GgmlType;

/// A weight kept as the memory-mapped bytes of the file (no copy).
#[derive(Clone, Copy, Debug)]
pub struct CpuWeight<'a> {
    pub(crate) ty: GgmlType,
    pub(crate) shape: WeightShape,
    pub(crate) data: &'a [u8],
    /// Bytes of one row of `cols` elements.
    pub(crate) row_bytes: usize,
}

impl<'a> CpuWeight<'a> {
    /// Check the type is decodable and the byte length matches the shape.
    pub(crate) fn new(src: WeightSource<'a>) -> Result<Self, BackendError> {
        if !supported(src.ty) {
            return Err(BackendError::UnsupportedType { name: src.name.to_string(), ty: src.ty, backend: "cpu" });
        }
        let bad = |want| BackendError::BadSize {
            name: src.name.to_string(),
            ty: src.ty,
            shape: src.shape,
            got: src.data.len(),
            want,
        };
        let row_bytes = src.ty.row_bytes(src.shape.cols).ok_or_else(|| bad(0))?;
        let want = row_bytes
            .checked_mul(src.shape.rows)
            .and_then(|b| b.checked_mul(src.shape.experts))
            .ok_or_else(|| bad(usize::MAX))?;
        if src.data.len() != want {
            return Err(bad(want));
        }
        Ok(Self { ty: src.ty, shape: src.shape, data: src.data, row_bytes })
    }

    /// Bytes of row `r` of expert `e`.
    #[inline]
    pub(crate) fn row(&self, e: usize, r: usize) -> &'a [u8] {
        let start = (e * self.shape.rows + r) * self.row_bytes;
        &self.data[start..start + self.row_bytes]
    }

    /// The bytes of expert `e` as a plain `[rows, cols]` weight.
    pub(crate) fn expert(&self, e: usize) -> CpuWeight<'a> {
        let n = self.shape.rows * self.row_bytes;
        CpuWeight {
            ty: self.ty,
            shape: WeightShape { experts: 1, ..self.shape },
            data: &self.data[e * n..(e + 1) * n],
            row_bytes: self.row_bytes,
        }
    }
}

/// Types this backend can decode and multiply.
pub(crate) fn supported(ty: GgmlType) -> bool {
    is_float(ty) || (dgemma_quant::kernels::is_supported(ty) && dgemma_quant::can_dequantize(ty))
}

/// Plain float types: multiplied in f32 by this crate; block types go through the quant
/// crate's integer-dot kernels (activations quantized to 8 bits once per call, as in ggml).
pub(crate) fn is_float(ty: GgmlType) -> bool {
    matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16)
}

/// Decode `dst.len()` elements (a whole number of blocks) from `src`.
#[inline]
pub(crate) fn decode(ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    match ty {
        GgmlType::F32 => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
        GgmlType::F16 => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = half::f16::from_bits(u16::from_le_bytes([s[0], s[1]])).to_f32();
            }
        }
        GgmlType::BF16 => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = f32::from_bits((u16::from_le_bytes([s[0], s[1]]) as u32) << 16);
            }
        }
        // CpuWeight::new admitted only types the quant crate decodes, in whole blocks.
        ty => dgemma_quant::dequantize(ty, src, dst).expect("block type and length checked at upload"),
    }
}
