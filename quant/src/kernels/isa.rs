//! Which instruction set the kernels run on, probed once per process.

use std::sync::OnceLock;

/// An instruction-set level the kernels are compiled for.
///
/// [`Isa::detected`] picks the best one the CPU supports; tests and benchmarks pass
/// [`Isa::Scalar`] explicitly to run the portable reference kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust, no intrinsics: the reference every SIMD kernel is tested against.
    Scalar,
    /// x86_64 AVX2 + FMA + F16C (Haswell / Zen 1 and later).
    Avx2,
    /// aarch64 Advanced SIMD (baseline NEON, no `dotprod`).
    Neon,
}

impl Isa {
    /// Every level this build knows, best last.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Neon, Isa::Avx2];

    /// The best level this CPU supports; probed on first use and cached.
    pub fn detected() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            Isa::ALL.iter().rev().copied().find(|isa| isa.is_available()).unwrap_or(Isa::Scalar)
        })
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2 => avx2_available(),
            Isa::Neon => neon_available(),
        }
    }

    /// Lower-case name for logs and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Neon => "neon",
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_available() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_available() -> bool {
    false
}

#[cfg(target_arch = "aarch64")]
fn neon_available() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

#[cfg(not(target_arch = "aarch64"))]
fn neon_available() -> bool {
    false
}
