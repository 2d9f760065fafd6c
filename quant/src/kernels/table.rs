//! Picks the dot kernel for a (instruction set, weight type) pair.

use super::activations::{Activations, BlockQ8Act};
use super::{scalar, Isa, KernelError};
use crate::blocks::BlockQ8K;
use crate::types::GgmlType;

/// One weight row against one activation row.
///
/// Only [`row_kernel`] builds this, after checking that the CPU supports the instruction set,
/// which is what makes calling the (possibly `#[target_feature]`) function pointers sound.
#[derive(Clone, Copy)]
pub(crate) enum RowKernel {
    F32(unsafe fn(&[u8], &[f32]) -> f32),
    Q8(unsafe fn(&[u8], &[BlockQ8Act]) -> f32),
    Q8K(unsafe fn(&[u8], &[BlockQ8K]) -> f32),
}

impl RowKernel {
    /// Dot of weight row `w` (exactly one row of bytes) with activation row `t` of `acts`.
    /// The caller has checked that `acts` was prepared for this weight type and width.
    #[inline]
    pub(crate) fn dot(self, w: &[u8], acts: &Activations, t: usize) -> f32 {
        // SAFETY: `row_kernel` only returns kernels whose instruction set is available; the
        // kernels themselves check that `w` holds as many blocks as the activation row.
        unsafe {
            match self {
                RowKernel::F32(f) => f(w, acts.f32_row(t)),
                RowKernel::Q8(f) => f(w, acts.q8_row(t)),
                RowKernel::Q8K(f) => f(w, acts.q8k_row(t)),
            }
        }
    }
}

/// One weight row against four consecutive activation rows (weights decoded once).
/// Built only by [`row_kernel4`], under the same guarantee as [`RowKernel`].
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum RowKernel4 {
    F32(unsafe fn(&[u8], [&[f32]; 4]) -> [f32; 4]),
    Q8(unsafe fn(&[u8], [&[BlockQ8Act]; 4]) -> [f32; 4]),
    Q8K(unsafe fn(&[u8], [&[BlockQ8K]; 4]) -> [f32; 4]),
}

impl RowKernel4 {
    /// Dots of weight row `w` with activation rows `ts` of `acts`.
    #[inline]
    pub(crate) fn dot4(self, w: &[u8], acts: &Activations, ts: [usize; 4]) -> [f32; 4] {
        // SAFETY: as for `RowKernel::dot`.
        unsafe {
            match self {
                RowKernel4::F32(f) => f(w, ts.map(|t| acts.f32_row(t))),
                RowKernel4::Q8(f) => f(w, ts.map(|t| acts.q8_row(t))),
                RowKernel4::Q8K(f) => f(w, ts.map(|t| acts.q8k_row(t))),
            }
        }
    }
}

/// The four-row kernel for `ty` on `isa`, where one exists (`None`: use [`RowKernel`]).
pub(crate) fn row_kernel4(isa: Isa, ty: GgmlType) -> Option<RowKernel4> {
    match isa {
        Isa::Avx2 if isa.is_available() => avx2_kernel4(ty),
        Isa::Avx512 if isa.is_available() => avx512_kernel4(ty),
        _ => None,
    }
}

/// Block `i` of eight activation rows: their scales `d` and their scaled sums `s`.
pub(crate) type Scales8 = [[f32; 8]; 2];
/// Two weight rows x eight activation rows of results.
pub(crate) type Out2x8 = [[f32; 8]; 2];

/// Two weight rows against eight activation rows (weights decoded once, activations
/// loaded once for both rows). Built only by [`row_kernel8`], under the same guarantee as
/// [`RowKernel`].
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[allow(clippy::type_complexity)] // plain fn-pointer signatures, spelled out like the others
pub(crate) enum RowKernel8 {
    /// Two weight rows; the third argument is the activation rows' block scales and sums,
    /// transposed (see [`transpose_scales`]).
    Q8(unsafe fn([&[u8]; 2], [&[BlockQ8Act]; 8], &[Scales8]) -> Out2x8),
    /// Two weight rows.
    Q8K(unsafe fn([&[u8]; 2], [&[BlockQ8K]; 8]) -> Out2x8),
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl RowKernel8 {
    /// Whether [`RowKernel8::dot8`] reads the transposed scale table.
    pub(crate) fn needs_scales(self) -> bool {
        matches!(self, RowKernel8::Q8(_))
    }

    /// Weight rows per call.
    pub(crate) const ROWS: usize = 2;

    /// Dots of weight rows `w` with activation rows `ts` of `acts`; `da` is the transposed
    /// scale table of those rows (see [`transpose_scales`]) when [`Self::needs_scales`].
    #[inline]
    pub(crate) fn dot8(self, w: [&[u8]; 2], acts: &Activations, ts: [usize; 8], da: &[Scales8]) -> Out2x8 {
        // SAFETY: as for `RowKernel::dot`.
        unsafe {
            match self {
                RowKernel8::Q8(f) => f(w, ts.map(|t| acts.q8_row(t)), da),
                RowKernel8::Q8K(f) => f(w, ts.map(|t| acts.q8k_row(t))),
            }
        }
    }
}

/// Writes `da[i] = [[d of row ts[k], block i], [s of row ts[k], block i]]` for k in 0..8 (the
/// table [`RowKernel8::Q8`] reads), reusing `da`.
pub(crate) fn transpose_scales(acts: &Activations, ts: [usize; 8], da: &mut Vec<Scales8>) {
    let rows = ts.map(|t| acts.q8_row(t));
    da.clear();
    da.extend((0..rows[0].len()).map(|i| [std::array::from_fn(|k| rows[k][i].d), std::array::from_fn(|k| rows[k][i].s)]));
}

/// The eight-row kernel for `ty` on `isa`, where one exists (`None`: use [`RowKernel4`]).
pub(crate) fn row_kernel8(isa: Isa, ty: GgmlType) -> Option<RowKernel8> {
    match isa {
        Isa::Avx512 if isa.is_available() => avx512_kernel8(ty),
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
fn avx512_kernel8(ty: GgmlType) -> Option<RowKernel8> {
    use super::x86_avx512 as k;
    use super::x86_avx512_k as kk;
    use GgmlType::*;
    Some(match ty {
        Q8_0 => RowKernel8::Q8(k::dot8_q8_0),
        Q4_0 => RowKernel8::Q8(k::dot8_q4_0),
        Q4_1 => RowKernel8::Q8(k::dot8_q4_1),
        Q5_0 => RowKernel8::Q8(k::dot8_q5_0),
        Q5_1 => RowKernel8::Q8(k::dot8_q5_1),
        Q4_K => RowKernel8::Q8K(kk::dot8_q4_k),
        Q5_K => RowKernel8::Q8K(kk::dot8_q5_k),
        Q6_K => RowKernel8::Q8K(kk::dot8_q6_k),
        _ => return None,
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_kernel8(_ty: GgmlType) -> Option<RowKernel8> {
    None
}

/// AVX-512 four-row kernels: the VNNI ones for quantized types, AVX2 for float types.
#[cfg(target_arch = "x86_64")]
fn avx512_kernel4(ty: GgmlType) -> Option<RowKernel4> {
    use super::x86_avx512 as k;
    use super::x86_avx512_k as kk;
    use GgmlType::*;
    Some(match ty {
        Q8_0 => RowKernel4::Q8(k::dot4_q8_0),
        Q4_0 => RowKernel4::Q8(k::dot4_q4_0),
        Q4_1 => RowKernel4::Q8(k::dot4_q4_1),
        Q5_0 => RowKernel4::Q8(k::dot4_q5_0),
        Q5_1 => RowKernel4::Q8(k::dot4_q5_1),
        Q4_K => RowKernel4::Q8K(kk::dot4_q4_k),
        Q5_K => RowKernel4::Q8K(kk::dot4_q5_k),
        Q6_K => RowKernel4::Q8K(kk::dot4_q6_k),
        other => return avx2_kernel4(other),
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_kernel4(_ty: GgmlType) -> Option<RowKernel4> {
    None
}

#[cfg(target_arch = "x86_64")]
fn avx2_kernel4(ty: GgmlType) -> Option<RowKernel4> {
    use super::x86_avx2 as k;
    use GgmlType::*;
    Some(match ty {
        F32 => RowKernel4::F32(k::dot4_f32),
        F16 => RowKernel4::F32(k::dot4_f16),
        BF16 => RowKernel4::F32(k::dot4_bf16),
        Q8_0 => RowKernel4::Q8(k::dot4_q8_0),
        Q4_0 => RowKernel4::Q8(k::dot4_q4_0),
        Q4_1 => RowKernel4::Q8(k::dot4_q4_1),
        Q5_0 => RowKernel4::Q8(k::dot4_q5_0),
        Q5_1 => RowKernel4::Q8(k::dot4_q5_1),
        Q4_K => RowKernel4::Q8K(k::dot4_q4_k),
        Q5_K => RowKernel4::Q8K(k::dot4_q5_k),
        Q6_K => RowKernel4::Q8K(k::dot4_q6_k),
        _ => return None,
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_kernel4(_ty: GgmlType) -> Option<RowKernel4> {
    None
}

/// The kernel for weights of type `ty` on `isa`.
pub(crate) fn row_kernel(isa: Isa, ty: GgmlType) -> Result<RowKernel, KernelError> {
    if !isa.is_available() {
        return Err(KernelError::IsaUnavailable(isa));
    }
    match isa {
        Isa::Scalar => scalar_kernel(ty),
        Isa::Avx2 => avx2_kernel(ty),
        Isa::Avx512 => avx512_kernel(ty),
        Isa::Neon => neon_kernel(ty),
    }
}

fn scalar_kernel(ty: GgmlType) -> Result<RowKernel, KernelError> {
    use GgmlType::*;
    Ok(match ty {
        F32 => RowKernel::F32(scalar::dot_f32),
        F16 => RowKernel::F32(scalar::dot_f16),
        BF16 => RowKernel::F32(scalar::dot_bf16),
        Q8_0 => RowKernel::Q8(scalar::dot_q8_0),
        Q4_0 => RowKernel::Q8(scalar::dot_q4_0),
        Q4_1 => RowKernel::Q8(scalar::dot_q4_1),
        Q5_0 => RowKernel::Q8(scalar::dot_q5_0),
        Q5_1 => RowKernel::Q8(scalar::dot_q5_1),
        Q4_K => RowKernel::Q8K(scalar::dot_q4_k),
        Q5_K => RowKernel::Q8K(scalar::dot_q5_k),
        Q6_K => RowKernel::Q8K(scalar::dot_q6_k),
        other => return Err(KernelError::UnsupportedType(other)),
    })
}

#[cfg(target_arch = "x86_64")]
fn avx2_kernel(ty: GgmlType) -> Result<RowKernel, KernelError> {
    use super::x86_avx2 as k;
    use GgmlType::*;
    Ok(match ty {
        F32 => RowKernel::F32(k::dot_f32),
        F16 => RowKernel::F32(k::dot_f16),
        BF16 => RowKernel::F32(k::dot_bf16),
        Q8_0 => RowKernel::Q8(k::dot_q8_0),
        Q4_0 => RowKernel::Q8(k::dot_q4_0),
        Q4_1 => RowKernel::Q8(k::dot_q4_1),
        Q5_0 => RowKernel::Q8(k::dot_q5_0),
        Q5_1 => RowKernel::Q8(k::dot_q5_1),
        Q4_K => RowKernel::Q8K(k::dot_q4_k),
        Q5_K => RowKernel::Q8K(k::dot_q5_k),
        Q6_K => RowKernel::Q8K(k::dot_q6_k),
        other => return Err(KernelError::UnsupportedType(other)),
    })
}

/// AVX-512 one-row kernels: the VNNI ones for quantized types, AVX2 for float types.
#[cfg(target_arch = "x86_64")]
fn avx512_kernel(ty: GgmlType) -> Result<RowKernel, KernelError> {
    use super::x86_avx512 as k;
    use super::x86_avx512_k as kk;
    use GgmlType::*;
    Ok(match ty {
        Q8_0 => RowKernel::Q8(k::dot_q8_0),
        Q4_0 => RowKernel::Q8(k::dot_q4_0),
        Q4_1 => RowKernel::Q8(k::dot_q4_1),
        Q5_0 => RowKernel::Q8(k::dot_q5_0),
        Q5_1 => RowKernel::Q8(k::dot_q5_1),
        // The AVX2 one-row Q4_K/Q5_K kernels measured faster for matvec (16.4 vs 13.1 GB/s)
        // and perform the same f32 operations (integer sums are exact), so single-token and
        // batched results stay bit-identical (tests/kernels_wide.rs checks it).
        Q4_K => RowKernel::Q8K(super::x86_avx2::dot_q4_k),
        Q5_K => RowKernel::Q8K(super::x86_avx2::dot_q5_k),
        Q6_K => RowKernel::Q8K(kk::dot_q6_k),
        other => return avx2_kernel(other),
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_kernel(_ty: GgmlType) -> Result<RowKernel, KernelError> {
    Err(KernelError::IsaUnavailable(Isa::Avx512))
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_kernel(_ty: GgmlType) -> Result<RowKernel, KernelError> {
    Err(KernelError::IsaUnavailable(Isa::Avx2))
}

#[cfg(target_arch = "aarch64")]
fn neon_kernel(ty: GgmlType) -> Result<RowKernel, KernelError> {
    use super::aarch64_neon as k;
    use GgmlType::*;
    Ok(match ty {
        F32 => RowKernel::F32(k::dot_f32),
        // No stable f16 vector type on aarch64 yet: the scalar kernel (the `half` crate) it is.
        F16 => RowKernel::F32(scalar::dot_f16),
        BF16 => RowKernel::F32(k::dot_bf16),
        Q8_0 => RowKernel::Q8(k::dot_q8_0),
        Q4_0 => RowKernel::Q8(k::dot_q4_0),
        Q4_1 => RowKernel::Q8(k::dot_q4_1),
        Q5_0 => RowKernel::Q8(k::dot_q5_0),
        Q5_1 => RowKernel::Q8(k::dot_q5_1),
        Q4_K => RowKernel::Q8K(k::dot_q4_k),
        Q5_K => RowKernel::Q8K(k::dot_q5_k),
        Q6_K => RowKernel::Q8K(k::dot_q6_k),
        other => return Err(KernelError::UnsupportedType(other)),
    })
}

#[cfg(not(target_arch = "aarch64"))]
fn neon_kernel(_ty: GgmlType) -> Result<RowKernel, KernelError> {
    Err(KernelError::IsaUnavailable(Isa::Neon))
}
