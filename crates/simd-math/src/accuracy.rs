//! How the tests of vectorised math (this crate's and its users') state accuracy.

/// Distance of `got` from the exact `want` in units in the last place of `want` rounded to f32
/// (so 0.5 is a correctly rounded result).
pub fn ulp_error(got: f32, want: f64) -> f64 {
    let w = want as f32;
    let ulp = (f32::from_bits(w.abs().to_bits() + 1) - w.abs()) as f64;
    (got as f64 - want).abs() / ulp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_units_of_the_reference() {
        assert_eq!(ulp_error(1.0, 1.0), 0.0);
        let next = f32::from_bits(1f32.to_bits() + 1);
        assert_eq!(ulp_error(next, 1.0), 1.0);
        assert_eq!(ulp_error(-next, -1.0), 1.0);
        // Half an ulp of 1.0 is 2^-24.
        assert_eq!(ulp_error(1.0, 1.0 + 2f64.powi(-24)), 0.5);
    }
}
