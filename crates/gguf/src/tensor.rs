//! Tensor-info records and zero-copy views of tensor data.

use dgemma_quant::GgmlType;

/// llama.cpp's limit on tensor-name length in bytes (GGML_MAX_NAME = 64 including the NUL).
pub const MAX_TENSOR_NAME_LEN: usize = 63;

/// ggml's maximum number of dimensions.
pub const MAX_DIMS: usize = 4;

/// One tensor-info record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name (unique in a file).
    pub name: String,
    /// Shape in ggml `ne` order: `dims[0]` is the contiguous (innermost) dimension. Its length
    /// is the stored `n_dims` (1..=4).
    pub dims: Vec<u64>,
    /// Element type.
    pub ggml_type: GgmlType,
    /// Byte offset of the data relative to the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements (product of `dims`); saturates on overflow, which the reader and
    /// writer reject before a `TensorInfo` reaches a caller.
    pub fn n_elements(&self) -> u64 {
        self.checked_n_elements().unwrap_or(u64::MAX)
    }

    /// Bytes of data; saturates like [`Self::n_elements`]. A partial last block (which the reader
    /// and writer reject) is rounded down.
    pub fn n_bytes(&self) -> u64 {
        self.checked_n_bytes().unwrap_or(u64::MAX)
    }

    /// Number of elements, `None` on overflow.
    pub fn checked_n_elements(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Bytes of data, `None` on overflow.
    pub fn checked_n_bytes(&self) -> Option<u64> {
        let blocks = self.checked_n_elements()? / self.ggml_type.block_size() as u64;
        blocks.checked_mul(self.ggml_type.type_size() as u64)
    }

    /// Check the rules every stored tensor must follow (name, rank, dims, block divisibility,
    /// size overflow). Returns the byte size, or a reason the caller turns into an error.
    pub(crate) fn validate_shape(&self) -> Result<u64, String> {
        if self.name.len() > MAX_TENSOR_NAME_LEN {
            return Err(format!(
                "name is {} bytes long; llama.cpp allows at most {MAX_TENSOR_NAME_LEN}",
                self.name.len()
            ));
        }
        if self.dims.is_empty() || self.dims.len() > MAX_DIMS {
            return Err(format!("n_dims is {}, expected 1..={MAX_DIMS}", self.dims.len()));
        }
        // Dims are stored as i64 by ggml; the element count must fit in an i64 too.
        if let Some(d) = self.dims.iter().find(|&&d| d > i64::MAX as u64) {
            return Err(format!("dimension {d} is negative as an i64"));
        }
        let n = self
            .checked_n_elements()
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(|| format!("dims {:?}: element count overflows", self.dims))?;
        let bs = self.ggml_type.block_size() as u64;
        if !self.dims[0].is_multiple_of(bs) {
            return Err(format!(
                "dims {:?}: type {} needs ne0 % {bs} == 0",
                self.dims,
                self.ggml_type.name()
            ));
        }
        (n / bs)
            .checked_mul(self.ggml_type.type_size() as u64)
            .filter(|&b| b <= i64::MAX as u64)
            .ok_or_else(|| format!("dims {:?}: byte size overflows", self.dims))
    }
}

/// A tensor's info and its bytes, borrowed from the file (no copy).
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    /// The tensor-info record.
    pub info: &'a TensorInfo,
    /// Exactly `info.n_bytes()` bytes.
    pub data: &'a [u8],
}
