//! The two products of the attention core on packed panels, `S = Q·Kᵀ` and `O = P·V`, with a
//! register-blocked kernel per instruction set ([`avx512`](super::avx512), [`avx2`](super::avx2))
//! and a portable one (plain `a * b + c`, no FMA; the fallback off x86).
//!
//! K and V are packed in column strips of [`STRIP`] floats, each strip contiguous: rows exactly
//! a power of two apart (the KV rows of the segments are `kv_heads · d` floats apart) would map
//! onto a few cache sets and keep missing. Every kernel sums each output over the reduction
//! index in ascending order with one accumulator, so a result depends on the kernel, never on
//! the thread that computes it.

#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use crate::math::axpy;

/// Query rows of a panel are padded to a multiple of this (every kernel's row block divides it).
pub(super) const ROW_ALIGN: usize = 8;
/// Width of a packed strip: keys of a `Kᵀ` strip, value columns of a V strip.
pub(super) const STRIP: usize = 32;

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

/// `S = Q · Kᵀ` over `strips · STRIP` keys: `q[r · q_stride + k]` for `r < rows`, `k < d`; `kt`
/// holds the keys as strips `[d, STRIP]` (key `t · STRIP + n` at `kt[t · d · STRIP + k · STRIP
/// + n]`); writes `s[r · s_stride + n]` for every `n < strips · STRIP`.
pub(super) struct Scores<'a> {
    pub q: &'a [f32],
    pub q_stride: usize,
    pub rows: usize,
    pub d: usize,
    pub kt: &'a [f32],
    pub strips: usize,
    pub s: &'a mut [f32],
    pub s_stride: usize,
}

/// `O = P · V` over `keys` keys: `p[r · p_stride + j]` weighs value row `j`; `v` holds the values
/// as `o_stride / STRIP` strips `[keys, STRIP]`, `v_stride` floats apart (value `j`, column
/// `t · STRIP + c` at `v[t · v_stride + j · STRIP + c]`); writes `o[r · o_stride + c]` for every
/// `c < o_stride`.
pub(super) struct Values<'a> {
    pub p: &'a [f32],
    pub p_stride: usize,
    pub keys: usize,
    pub v: &'a [f32],
    pub v_stride: usize,
    pub o: &'a mut [f32],
    pub o_stride: usize,
    pub rows: usize,
}

/// Runs [`Scores`] with `kernel` (which this CPU must run).
pub(super) fn scores(kernel: Kernel, a: Scores<'_>) {
    let Scores { q, q_stride, rows, d, kt, strips, ref s, s_stride } = a;
    let keys = strips * STRIP;
    assert!(
        rows.is_multiple_of(ROW_ALIGN)
            && q_stride >= d
            && q.len() >= rows * q_stride
            && kt.len() >= d * keys
            && s_stride >= keys
            && (rows == 0 || s.len() >= (rows - 1) * s_stride + keys),
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

/// Runs [`Values`] with `kernel` (which this CPU must run).
pub(super) fn values(kernel: Kernel, a: Values<'_>) {
    let Values { p, p_stride, keys, v, v_stride, ref o, o_stride, rows } = a;
    assert!(
        rows.is_multiple_of(ROW_ALIGN)
            && o_stride.is_multiple_of(STRIP)
            && o.len() >= rows * o_stride
            && (rows == 0 || keys == 0 || p.len() >= (rows - 1) * p_stride + keys)
            && v_stride >= keys * STRIP
            && (o_stride == 0 || v.len() >= (o_stride / STRIP - 1) * v_stride + keys * STRIP),
        "attention values: bad panel sizes"
    );
    match kernel {
        // SAFETY: the sizes were checked above; `kernel` is one this CPU runs.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { avx512::values(a) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Fma => unsafe { avx2::values(a) },
        _ => values_portable(a),
    }
}

fn scores_portable(a: Scores<'_>) {
    let Scores { q, q_stride, rows, d, kt, strips, s, s_stride } = a;
    for r in 0..rows {
        for (t, acc) in s[r * s_stride..r * s_stride + strips * STRIP].chunks_exact_mut(STRIP).enumerate() {
            acc.fill(0.0);
            let strip = &kt[t * d * STRIP..(t + 1) * d * STRIP];
            for (&qk, kk) in q[r * q_stride..r * q_stride + d].iter().zip(strip.chunks_exact(STRIP)) {
                for (a, &x) in acc.iter_mut().zip(kk) {
                    *a += qk * x;
                }
            }
        }
    }
}

fn values_portable(a: Values<'_>) {
    let Values { p, p_stride, keys, v, v_stride, o, o_stride, rows } = a;
    for r in 0..rows {
        let pr = &p[r * p_stride..];
        for (t, acc) in o[r * o_stride..(r + 1) * o_stride].chunks_exact_mut(STRIP).enumerate() {
            acc.fill(0.0);
            let strip = &v[t * v_stride..t * v_stride + keys * STRIP];
            for (&w, vj) in pr[..keys].iter().zip(strip.chunks_exact(STRIP)) {
                axpy(w, vj, acc);
            }
        }
    }
}
