//! `e^x` from one range reduction and one polynomial (Cephes' `expf`), in two forms:
//! [`exp`] over the whole f32 range, and [`exp_nonpositive`], the cheaper softmax weight
//! `exp(z − max)` that flushes to 0 below [`EXP_NONPOSITIVE_UNDERFLOW`].

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that `k · LN2_HI` is exact for |k| < 2^9 (Cephes' `expf` range reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding then subtracting 1.5 · 2^23 rounds a float of magnitude < 2^22 to an integer.
const ROUND: f32 = 12_582_912.0;
/// The bits of `ROUND`: `shifted.to_bits() − ROUND_BITS = k` (see [`reduce`]).
const ROUND_BITS: i32 = 0x4B40_0000;
/// Above this `exp` overflows f32 (ln f32::MAX ≈ 88.72284).
const EXP_HI: f32 = 88.722_83;
/// Below this `exp` is under half the smallest subnormal: exactly 0.
const EXP_LO: f32 = -103.972_08;
/// Below this [`exp_nonpositive`] returns exactly 0: `e^x` would be under the smallest normal
/// float, and a single normal power of two can no longer scale it.
pub const EXP_NONPOSITIVE_UNDERFLOW: f32 = -87.0;

/// The shared core: for `t ∈ [EXP_LO, EXP_HI]` (or NaN), `e^t = y · 2^k` with `y ∈ [√½, √2]`;
/// returns `y` and `t·log2(e) + ROUND`, whose low bits hold `k + ROUND_BITS` (no float-to-int
/// conversion, which would keep the loop scalar).
#[inline(always)]
fn reduce(t: f32) -> (f32, f32) {
    let shifted = t * LOG2E + ROUND;
    let k = shifted - ROUND;
    let r = t - k * LN2_HI - k * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    (p * r * r + r + 1.0, shifted)
}

/// `e^x`. +∞ above 88.7228, 0 below −103.97 (results under 2^-126 are subnormal, with the
/// precision subnormals have); NaN in, NaN out. Within 2 ulp of `e^x` for normal results.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // `clamp` keeps NaN, so NaN flows through to the selects below.
    let (y, shifted) = reduce(x.clamp(EXP_LO, EXP_HI));
    // k ∈ [-150, 128]: 2^k as two normal factors 2^k1 · 2^k2 (k1, k2 ∈ [-75, 64]), so neither
    // the overflow end nor the subnormal end needs a special exponent.
    let ki = shifted.to_bits() as i32 - ROUND_BITS;
    let k1 = ki >> 1;
    let k2 = ki - k1;
    let s1 = f32::from_bits(((k1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((k2 + 127) as u32) << 23);
    let v = y * s1 * s2;
    if x > EXP_HI {
        f32::INFINITY
    } else if x < EXP_LO {
        0.0
    } else {
        v
    }
}

/// `e^d` for `d ≤ 0`, the softmax weight `exp(z − max)` (for `d > 0` the result is wrong:
/// callers subtract the row maximum first). Exactly 0 for `d <` [`EXP_NONPOSITIVE_UNDERFLOW`]
/// (including −∞); NaN in, NaN out. For `d ∈ [−87, 0]` the same bits as [`exp`], with one power
/// of two instead of two.
#[inline(always)]
pub fn exp_nonpositive(d: f32) -> f32 {
    // `max` would turn NaN into -87: keep NaN visible by selecting on the comparison instead.
    let t = if d < EXP_NONPOSITIVE_UNDERFLOW { EXP_NONPOSITIVE_UNDERFLOW } else { d };
    let (y, shifted) = reduce(t);
    // k ∈ [-126, 0] here, so 2^k is a normal float built from its exponent bits; shifting the
    // low bits of `shifted` (k + ROUND_BITS) by 23 drops the constant.
    let scale = f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    if d < EXP_NONPOSITIVE_UNDERFLOW {
        0.0
    } else {
        y * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ulp_error;

    #[test]
    fn exp_is_within_two_ulp_over_the_normal_range() {
        let mut x = -87.3f32;
        while x < 88.72 {
            let e = ulp_error(exp(x), (x as f64).exp());
            assert!(e <= 2.0, "exp({x}): {} vs {} ({e} ulp)", exp(x), (x as f64).exp());
            x += 0.000_37;
        }
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn exp_limits_and_nan() {
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(-104.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
        // Subnormal results keep roughly their precision.
        let sub = exp(-95.0) as f64;
        assert!((sub / (-95f64).exp() - 1.0).abs() < 1e-3, "{sub:e}");
        assert!(exp(88.72).is_finite());
    }

    /// Every float in [−87, 0] (about 1.1 billion would be slow in a test: every 61st bit
    /// pattern, which hits every exponent and scatters over the mantissas), both ends included.
    #[test]
    fn exp_nonpositive_is_exp_bit_for_bit_down_to_its_underflow() {
        let (lo, hi) = (EXP_NONPOSITIVE_UNDERFLOW.to_bits(), (-0.0f32).to_bits());
        let mut checked = 0;
        for bits in (hi..=lo).step_by(61).chain([lo, 0]) {
            let d = f32::from_bits(bits);
            assert_eq!(exp_nonpositive(d).to_bits(), exp(d).to_bits(), "exp_nonpositive({d:e})");
            checked += 1;
        }
        assert!(checked > 10_000_000, "{checked}");
    }

    #[test]
    fn exp_nonpositive_underflow_infinity_and_nan() {
        assert_eq!(exp_nonpositive(-87.000_01), 0.0);
        assert_eq!(exp_nonpositive(-87.5), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f32::NAN).is_nan());
        assert!(exp_nonpositive(-86.9) > 0.0);
        assert!(exp_nonpositive(EXP_NONPOSITIVE_UNDERFLOW) > 0.0);
    }
}
