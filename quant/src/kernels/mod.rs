//! CPU dot products, matrix-vector and batched matrix products on quantized weights.
//!
//! Weights are rows of ggml blocks exactly as stored in a GGUF file (`rows` rows of `cols`
//! elements, row-major, each row `ty.row_bytes(cols)` bytes, no alignment required).
//! Activations are f32. As in ggml, the activations are quantized once per call and the inner
//! loops are integer dot products:
//!
//! | weight type | activation format |
//! |---|---|
//! | Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 | [`BlockQ8Act`]: 32 values, `i8` + f32 scale (ggml: Q8_0 / Q8_1) |
//! | Q4_K, Q5_K, Q6_K | [`BlockQ8K`]: 256 values, `i8` + f32 scale + sums of 16 |
//! | F32, F16, BF16 | f32, unquantized |
//!
//! The activation rounding is the only approximation: `|result - exact| <= sum over activation
//! blocks of (amax(block) / 254) * sum(|w_j|)`, plus f32 rounding of the accumulation.
//!
//! Entry points (all overwrite `y`, never accumulate; all return [`KernelError`] on bad sizes):
//!
//! * [`matvec`]: `y[r] = dot(W[r], x)` for one activation row.
//! * [`matmul`]: `y[t * rows + r] = dot(W[r], x[t])` for `n` rows (the 256-token canvas).
//! * [`Activations::quantize`] + [`matmul_prepared`]: quantize a batch once, multiply it with
//!   several matrices of the same type family and width.
//! * [`matmul_gather`]: the MoE step, prepared batch x a token subset x one expert's rows
//!   (an expert's rows are a contiguous byte range of the 3-D tensor).
//! * [`matmul_gather_block_on`]: one block of weight rows of a gather on the calling thread,
//!   for callers that schedule many small products as one flat parallel loop;
//!   [`PackedTokens`] + [`matmul_packed_block_on`] do the same with the token list packed once
//!   for all the blocks.
//!
//! Two kernel families: the row-lane kernels (a block's values in the vector lanes, one f32
//! conversion per block and token; every ISA, every batch) and, for batches of at least 8
//! tokens on AVX-512 VNNI, the token-lane kernels (`lanes/`: tokens in the lanes, weights
//! decoded once per panel of rows, one f32 conversion per sub-block for 8-16 tokens). See
//! [`token_lanes`]; the two differ by f32 rounding only.
//! * [`dot_row`]: a single row.
//!
//! Each has an `*_on(isa, ..)` twin that forces an instruction set ([`Isa::Scalar`] for the
//! reference kernels).
//!
//! Every function runs on the calling thread's rayon pool (use `pool.install(|| matvec(..))`
//! to pick one); nothing here owns threads or global state besides the cached CPU-feature
//! probe in [`Isa::detected`].

mod activations;
#[cfg(target_arch = "aarch64")]
mod aarch64_neon;
mod driver;
mod isa;
#[cfg(target_arch = "x86_64")]
mod lanes;
mod scalar;
mod table;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;
#[cfg(target_arch = "x86_64")]
mod x86_avx512_k;

pub use activations::{Activations, BlockQ8Act};
pub use driver::{
    dot_row, dot_row_on, matmul, matmul_gather, matmul_gather_block_on, matmul_gather_on, matmul_on, matmul_packed_block_on,
    matmul_prepared, matmul_prepared_on, matvec, matvec_on, PackedTokens,
};
pub use isa::{Isa, ISA_ENV};
#[cfg(target_arch = "x86_64")]
pub use lanes::LANES_ENV;

pub use crate::blocks::BlockQ8K;
use crate::types::GgmlType;

/// Why a kernel call was refused. Nothing in this module panics on bad sizes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// No dot kernel for this weight type.
    #[error("no CPU dot kernel for weight type {0}")]
    UnsupportedType(GgmlType),
    /// The row width is not a whole number of blocks of the weight type.
    #[error("row width {cols} is not a multiple of the {ty} block size {block}")]
    PartialBlock { ty: GgmlType, cols: usize, block: usize },
    /// A buffer has the wrong length.
    #[error("{what}: expected length {expected}, got {got}")]
    Length { what: &'static str, expected: usize, got: usize },
    /// The activations were prepared in the format of another weight type.
    #[error("activations prepared for {prepared} weights cannot be used with {ty} weights")]
    ActivationMismatch { prepared: GgmlType, ty: GgmlType },
    /// A token index passed to [`matmul_gather`] is not a prepared activation row.
    #[error("token index {index} out of range: {n} activation rows prepared")]
    TokenIndex { index: usize, n: usize },
    /// A size computation overflowed `usize`.
    #[error("{what}: size overflows usize")]
    Overflow { what: &'static str },
    /// The requested instruction set is not available on this CPU.
    #[error("instruction set {0:?} is not available on this CPU")]
    IsaUnavailable(Isa),
}

/// Weight types with a dot kernel, in the order the tests and benchmarks list them.
pub const SUPPORTED_TYPES: [GgmlType; 11] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

/// Whether a batch of `n` tokens on `isa` with weights of type `ty` runs on the token-lane
/// kernels (AVX-512 VNNI, quantized types, `n >= 8`). Their results differ from the row-lane
/// kernels' (every smaller batch, [`matvec`]) by f32 rounding only; within each kind, a
/// (row, token) result does not depend on the rest of the batch or the thread count.
pub fn token_lanes(isa: Isa, ty: GgmlType, n: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    return lanes::format(isa, ty, n).is_some();
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (isa, ty, n);
        false
    }
}

/// Whether [`matvec`] / [`matmul`] accept weights of type `ty`.
pub fn is_supported(ty: GgmlType) -> bool {
    SUPPORTED_TYPES.contains(&ty)
}
