//! Vectorisable `exp`, `tanh` and GELU, and the slice kernels built on them (softcap, GELU
//! gating, softmax rows, attention weights).
//!
//! libm's `expf`/`tanhf` are one call per element and keep every loop that uses them scalar
//! (4 % of a 26B denoise step went to them). These versions are branch-free (selects, no calls)
//! so LLVM vectorises the loops; each slice kernel is compiled three times (AVX-512, AVX2, plain)
//! and picked once per process. They use no `mul_add`, so all three give bit-identical results
//! (and the same as the scalar functions): the choice of instruction set never changes an output.
//!
//! `exp` is `dgemma_simd_math::exp` (shared with the sampler; ≤ 2 ulp for normal results, tested
//! there). Accuracy here (checked in the tests against f64 over dense sweeps): `tanh` ≤ 3 ulp,
//! GELU a few ulp plus the f32 rounding of its inner polynomial.

use dgemma_simd_math::exp;

/// `tanh(x)` rounds to ±1 in f32 beyond 9.01 (`2·e^(−2x)` under half an ulp of 1); clamping
/// there keeps `exp(2x)` finite.
const TANH_SAT: f32 = 9.5;
/// Below this `|x|` tanh uses its odd polynomial; above, `1 − 2 / (exp(2x) + 1)` has no
/// cancellation worth an ulp (Cephes' `tanhf` split).
const TANH_POLY: f32 = 0.625;
const SIGN: u32 = 0x8000_0000;

/// `tanh(x)`: odd, ±1 beyond |x| ≈ 9, NaN in, NaN out, the sign of zero kept.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let sign = x.to_bits() & SIGN;
    let ax = f32::from_bits(x.to_bits() & !SIGN);
    let z = ax * ax;
    let poly = ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
        - 3.333_328e-1)
        * z
        * ax
        + ax;
    let a = if ax > TANH_SAT { TANH_SAT } else { ax };
    let e = exp(a + a);
    let big = 1.0 - 2.0 / (e + 1.0);
    let m = if ax < TANH_POLY { poly } else { big };
    f32::from_bits(m.to_bits() | sign)
}

/// GELU, tanh approximation (`gelu_pytorch_tanh`): `0.5·x·(1 + tanh(u))` computed as the equal
/// `x / (1 + e^(−2u))`, which has no cancellation for negative `x`.
/// `u = √(2/π)·(x + 0.044715·x³)`.
#[inline(always)]
pub(crate) fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
    x / (1.0 + exp(-2.0 * u))
}

/// The widest instruction set this CPU offers the slice kernels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Isa {
    Avx512,
    Avx2,
    Plain,
}

/// Detected once per process.
pub(crate) fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vl") {
                Isa::Avx512
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                Isa::Avx2
            } else {
                Isa::Plain
            }
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    Isa::Plain
}

/// Defines a public slice kernel `$name` from an `#[inline(always)]` body: one copy per
/// instruction set, dispatched on `isa` (callers pass [`isa()`]; tests pass each level the CPU has).
macro_rules! kernel {
    ($(#[$doc:meta])* $name:ident => $body:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)?) => {
        $(#[$doc])*
        pub(crate) fn $name(isa: Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
                unsafe fn wide($($arg: $ty),*) $(-> $ret)? { $body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { $body($($arg),*) }
                match isa {
                    // SAFETY: `isa` only names a level `isa()` found on this CPU.
                    Isa::Avx512 => return unsafe { wide($($arg),*) },
                    Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    Isa::Plain => {}
                }
            }
            $body($($arg),*)
        }
    };
}

kernel!(
    /// `x[i] = cap · tanh(x[i] / cap)`.
    softcap => softcap_body(x: &mut [f32], cap: f32)
);
kernel!(
    /// `gate[i] = gelu_tanh(gate[i]) · up[i]`.
    gelu_mul => gelu_mul_body(gate: &mut [f32], up: &[f32])
);
kernel!(
    /// `x[i] = exp(x[i] − max)`, returning the sum (f32 lanes added in f64, fixed order).
    exp_shifted_sum => exp_shifted_sum_body(x: &mut [f32], max: f32) -> f64
);
kernel!(
    /// Maximum of a slice (−∞ when empty; NaN entries are ignored).
    max => max_body(x: &[f32]) -> f32
);
kernel!(
    /// `x[i] *= s`.
    scale => scale_body(x: &mut [f32], s: f32)
);

#[inline(always)]
fn softcap_body(x: &mut [f32], cap: f32) {
    for v in x.iter_mut() {
        *v = cap * tanh(*v / cap);
    }
}

#[inline(always)]
fn gelu_mul_body(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = gelu_tanh(*g) * u;
    }
}

/// Lanes of the partial sums: fixed, so the sum's rounding does not depend on the vector width.
const LANES: usize = 16;

#[inline(always)]
fn exp_shifted_sum_body(x: &mut [f32], max: f32) -> f64 {
    for v in x.iter_mut() {
        *v = exp(*v - max);
    }
    // f32 partial sums over blocks of 1024 lanes' worth, gathered into f64: vectorises, and a
    // 262,144-wide row loses nothing measurable.
    let mut total = 0f64;
    for block in x.chunks(LANES * 64) {
        let mut acc = [0f32; LANES];
        let chunks = block.chunks_exact(LANES);
        let tail = chunks.remainder();
        for ch in chunks {
            for l in 0..LANES {
                acc[l] += ch[l];
            }
        }
        for (l, &v) in tail.iter().enumerate() {
            acc[l] += v;
        }
        total += acc.iter().map(|&a| a as f64).sum::<f64>();
    }
    total
}

#[inline(always)]
fn max_body(x: &[f32]) -> f32 {
    dgemma_simd_math::lane_max::<LANES>(x).0
}

#[inline(always)]
fn scale_body(x: &mut [f32], s: f32) {
    for v in x.iter_mut() {
        *v *= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dgemma_simd_math::ulp_error;

    fn levels() -> Vec<Isa> {
        let mut v = vec![Isa::Plain];
        if isa() != Isa::Plain {
            v.push(Isa::Avx2);
        }
        if isa() == Isa::Avx512 {
            v.push(Isa::Avx512);
        }
        v
    }

    #[test]
    fn tanh_is_within_three_ulp_everywhere() {
        let mut worst = 0f64;
        let mut x = 1e-30f32;
        // Geometric sweep over tiny arguments, then dense linear sweep to beyond saturation.
        while x < 1e-3 {
            for s in [x, -x] {
                assert!(ulp_error(tanh(s), (s as f64).tanh()) <= 3.0, "tanh({s})");
            }
            x *= 1.01;
        }
        let mut x = 0f32;
        while x < 30.0 {
            for s in [x, -x] {
                let e = ulp_error(tanh(s), (s as f64).tanh());
                assert!(e <= 2.0, "tanh({s}): {} vs {} ({e} ulp)", tanh(s), (s as f64).tanh());
                worst = worst.max(e);
            }
            x += 0.000_13;
        }
        eprintln!("tanh worst {worst:.2} ulp");
    }

    #[test]
    fn tanh_limits_nan_and_signed_zero() {
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(1e30), 1.0);
        assert_eq!(tanh(-50.0), -1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(0.0).to_bits(), 0f32.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0f32).to_bits());
    }

    #[test]
    fn gelu_matches_the_f64_formula() {
        let tanh_form = |x: f64| 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh());
        for x in [-3.0f32, -1.0, -0.1, 0.0, 0.5, 2.0, 7.0] {
            assert!((gelu_tanh(x) as f64 - tanh_form(x as f64)).abs() < 1e-6, "gelu({x})");
        }
        // 0.5·x·(1 + tanh u) = x / (1 + e^(−2u)); the latter keeps the f64 reference exact in
        // the negative tail, where 1 + tanh u cancels even in f64.
        let f = |x: f64| x / (1.0 + (-2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).exp());
        let mut x = -12f32;
        while x < 12.0 {
            let (got, want) = (gelu_tanh(x) as f64, f(x as f64));
            // The f32 inner polynomial u carries |u|·2^-24 of error, which GELU's negative tail
            // multiplies by 2|u|; above that, a few ulp.
            let u = 0.8 * (x as f64 + 0.044715 * (x as f64).powi(3));
            let tol = want.abs() * (4.0 + 4.0 * u * u) * f32::EPSILON as f64 + 1e-37;
            assert!((got - want).abs() <= tol, "gelu({x}): {got} vs {want}");
            x += 0.000_77;
        }
        assert_eq!(gelu_tanh(f32::INFINITY), f32::INFINITY);
        assert_eq!(gelu_tanh(-1e20), 0.0);
        assert!(gelu_tanh(f32::NAN).is_nan());
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let src: Vec<f32> = (0..10_007).map(|i| ((i * 7919) % 2003) as f32 * 0.031 - 31.0).collect();
        let up: Vec<f32> = src.iter().map(|v| v * 0.5 + 0.25).collect();
        type Outputs = (Vec<f32>, Vec<f32>, Vec<f32>, f64, f32);
        let mut want: Option<Outputs> = None;
        for level in levels() {
            let mut sc = src.clone();
            softcap(level, &mut sc, 30.0);
            let mut g = src.clone();
            gelu_mul(level, &mut g, &up);
            let m = max(level, &src);
            let mut e = src.clone();
            let z = exp_shifted_sum(level, &mut e, m);
            let got = (sc, g, e, z, m);
            match &want {
                None => {
                    // The plain level against the scalar functions.
                    for (i, &x) in src.iter().enumerate() {
                        assert_eq!(got.0[i].to_bits(), (30.0 * tanh(x / 30.0)).to_bits());
                        assert_eq!(got.1[i].to_bits(), (gelu_tanh(x) * up[i]).to_bits());
                    }
                    let naive: f64 = src.iter().map(|&x| ((x - m) as f64).exp()).sum();
                    assert!((got.3 - naive).abs() < 1e-6 * naive);
                    assert_eq!(got.4, src.iter().copied().fold(f32::MIN, f32::max));
                    want = Some(got);
                }
                Some(w) => {
                    assert_eq!(w.0, got.0, "{level:?} softcap");
                    assert_eq!(w.1, got.1, "{level:?} gelu_mul");
                    assert_eq!(w.2, got.2, "{level:?} exp");
                    assert_eq!(w.3.to_bits(), got.3.to_bits(), "{level:?} sum");
                    assert_eq!(w.4, got.4, "{level:?} max");
                }
            }
        }
    }
}
