//! The two products of the attention core on packed panels, `S = Q·Kᵀ` and `O = P·V`, with a
//! register-blocked kernel per instruction set ([`avx512`](super::avx512), [`avx2`](super::avx2))
//! and a portable one (plain `a * b + c`, no FMA; the fallback off x86 and for odd head widths).
//!
//! Every kernel sums each output over the reduction index in ascending order with one
//! accumulator, so a result depends on the kernel, never on the thread that computes it.

#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use crate::math::axpy;

/// Query rows of a panel are padded to a multiple of this (every kernel's row block divides it).
pub(super) const ROW_ALIGN: usize = 8;
/// Keys per packed `Kᵀ` block; a multiple of every kernel's key block.
pub(super) const KEY_BLOCK: usize = 64;

/// Which kernel runs the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    /// AVX-512F register blocks of 8 rows × 32 floats.
    Avx512,
    /// AVX2 + FMA register blocks of 4 rows × 16 floats.
    Fma,
    /// Plain Rust, one row at a time.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU runs, capped by the instruction set the quant kernels use
    /// (`DGEMMA_ISA=avx2` / `scalar` select the AVX2 / portable kernel end to end).
    pub(super) fn best() -> Self {
        use dgemma_quant::kernels::Isa;
        let allowed: &[Kernel] = match Isa::detected() {
            Isa::Avx512 => &[Kernel::Avx512, Kernel::Fma],
            Isa::Avx2 => &[Kernel::Fma],
            Isa::Scalar | Isa::Neon => &[],
        };
        allowed.iter().copied().find(|k| k.available()).unwrap_or(Kernel::Portable)
    }

    /// Whether this CPU can run the kernel.
    pub(super) fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512::available(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Fma => crate::math::has_fma(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512 | Kernel::Fma => false,
            Kernel::Portable => true,
        }
    }
}

/// `S = Q · Kᵀ` for one key block: `q [rows, d]`, `kt [d, KEY_BLOCK]` (key `n` of the block in
/// column `n`), `s[r · s_stride + n] = Σ_k q[r, k] · kt[k, n]` for every `n < KEY_BLOCK`.
pub(super) struct Scores<'a> {
    pub q: &'a [f32],
    pub rows: usize,
    pub d: usize,
    pub kt: &'a [f32],
    pub s: &'a mut [f32],
    pub s_stride: usize,
}

/// `O (+)= P · V` over `keys` keys: `p[r · p_stride + j]` weighs value row `j`, which is
/// `v[j · v_stride..][..d]`; `o [rows, d]` is overwritten (`first`) or added to.
pub(super) struct Values<'a> {
    pub p: &'a [f32],
    pub p_stride: usize,
    pub keys: usize,
    pub v: &'a [f32],
    pub v_stride: usize,
    pub o: &'a mut [f32],
    pub rows: usize,
    pub d: usize,
    pub first: bool,
}

/// Runs [`Scores`] with `kernel` (which this CPU must run).
pub(super) fn scores(kernel: Kernel, a: Scores<'_>) {
    let Scores { q, rows, d, kt, ref s, s_stride } = a;
    assert!(
        rows.is_multiple_of(ROW_ALIGN)
            && q.len() >= rows * d
            && kt.len() >= d * KEY_BLOCK
            && s_stride >= KEY_BLOCK
            && (rows == 0 || s.len() >= (rows - 1) * s_stride + KEY_BLOCK),
        "attention scores: bad panel sizes"
    );
    match kernel {
        // SAFETY: the sizes were checked above; `kernel` is one this CPU runs.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { avx512::scores(a) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Fma => unsafe { avx2::scores(a) },
        _ => scores_portable(a),
    }
}

/// Runs [`Values`] with `kernel` (which this CPU must run); head widths the register blocks do
/// not divide use the portable kernel.
pub(super) fn values(kernel: Kernel, a: Values<'_>) {
    let Values { p, p_stride, keys, v, v_stride, ref o, rows, d, .. } = a;
    assert!(
        rows.is_multiple_of(ROW_ALIGN)
            && o.len() >= rows * d
            && (rows == 0 || keys == 0 || p.len() >= (rows - 1) * p_stride + keys)
            && (keys == 0 || v.len() >= (keys - 1) * v_stride + d),
        "attention values: bad panel sizes"
    );
    match kernel {
        // SAFETY: the sizes were checked above; `kernel` is one this CPU runs.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if d.is_multiple_of(16) => unsafe { avx512::values(a) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Fma if d.is_multiple_of(8) => unsafe { avx2::values(a) },
        _ => values_portable(a),
    }
}

fn scores_portable(a: Scores<'_>) {
    let Scores { q, rows, d, kt, s, s_stride } = a;
    for r in 0..rows {
        let acc = &mut s[r * s_stride..r * s_stride + KEY_BLOCK];
        acc.fill(0.0);
        for (k, &qk) in q[r * d..(r + 1) * d].iter().enumerate() {
            for (a, &t) in acc.iter_mut().zip(&kt[k * KEY_BLOCK..(k + 1) * KEY_BLOCK]) {
                *a += qk * t;
            }
        }
    }
}

fn values_portable(a: Values<'_>) {
    let Values { p, p_stride, keys, v, v_stride, o, rows, d, first } = a;
    for r in 0..rows {
        let acc = &mut o[r * d..(r + 1) * d];
        if first {
            acc.fill(0.0);
        }
        for j in 0..keys {
            axpy(p[r * p_stride + j], &v[j * v_stride..j * v_stride + d], acc);
        }
    }
}
