//! Which instruction set the kernels run on, probed once per process.

use std::sync::OnceLock;

/// Environment variable that overrides [`Isa::detected`] (`scalar`, `avx2`, `avx512`, `neon`),
/// so that benchmarks can compare instruction sets end to end. Read once per process; a value
/// that is unknown or not available on this CPU is ignored with a warning on stderr.
pub const ISA_ENV: &str = "DGEMMA_ISA";

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
    /// x86_64 AVX-512 F/BW/VL + VNNI on top of [`Isa::Avx2`] (Ice Lake / Zen 4 and later):
    /// `vpdpbusd` / `vpdpwssd` integer dots and 32 vector registers.
    Avx512,
    /// aarch64 Advanced SIMD (baseline NEON, no `dotprod`).
    Neon,
}

impl Isa {
    /// Every level this build knows, best last.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Neon, Isa::Avx2, Isa::Avx512];

    /// The best level this CPU supports, or the one named by [`ISA_ENV`] if it is available;
    /// probed on first use and cached.
    pub fn detected() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            let best = Isa::ALL.iter().rev().copied().find(|isa| isa.is_available()).unwrap_or(Isa::Scalar);
            match std::env::var(ISA_ENV) {
                Ok(value) => match Isa::from_name(value.trim()) {
                    Some(isa) if isa.is_available() => isa,
                    Some(isa) => {
                        eprintln!("warning: {ISA_ENV}={value}: {isa:?} is not available on this CPU, using {}", best.name());
                        best
                    }
                    None => {
                        eprintln!(
                            "warning: {ISA_ENV}={value} is not one of scalar, avx2, avx512, neon; using {}",
                            best.name()
                        );
                        best
                    }
                },
                Err(_) => best,
            }
        })
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2 => avx2_available(),
            Isa::Avx512 => avx512_available(),
            Isa::Neon => neon_available(),
        }
    }

    /// Lower-case name for logs and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// The level called `name` (as [`Isa::name`] spells it), if any.
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.name().eq_ignore_ascii_case(name))
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

#[cfg(target_arch = "x86_64")]
fn avx512_available() -> bool {
    avx2_available()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512_available() -> bool {
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
