//! The linear temperature schedule, in the reference's f32 tensor arithmetic.
//!
//! `LinearTemperatureScheduleLogitsProcessor` computes
//! `t_min + ((t_max - t_min) * (cur_step / S))` with `cur_step` an int32 tensor: the division is
//! an f32 tensor op, `t_max - t_min` is a Python (f64) subtraction that torch then rounds to f32
//! to multiply, and `t_min` is rounded to f32 for the addition. The result therefore differs
//! from the exact value in the last bits (t(47/48) = 0.7916666865, not 0.79166666…67), and a
//! replay that should reproduce accept decisions sitting on the bound must use the same value.

/// Temperature for the step with `remaining` steps left out of `max_steps` (first step:
/// `remaining == max_steps` gives `t_max`).
pub fn temperature(t_min: f64, t_max: f64, remaining: u32, max_steps: u32) -> f32 {
    let frac = remaining as f32 / max_steps as f32;
    let span = (t_max - t_min) as f32;
    t_min as f32 + span * frac
}

/// `z = raw / t`, in place, as an f32 division (not a multiplication by 1/t, which rounds
/// differently).
pub fn apply_temperature(logits: &mut [f32], t: f32) {
    use rayon::prelude::*;
    logits.par_chunks_mut(1 << 16).for_each(|chunk| {
        for v in chunk {
            *v /= t;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_torch_f32_values() {
        // Bits of the values torch 2.15 computes for t_min 0.4, t_max 0.8, S = 48
        // (0.800000011920929, 0.7916666865348816, 0.40833333134651184).
        assert_eq!(temperature(0.4, 0.8, 48, 48).to_bits(), 0x3f4c_cccd);
        assert_eq!(temperature(0.4, 0.8, 47, 48).to_bits(), 0x3f4a_aaab);
        assert_eq!(temperature(0.4, 0.8, 1, 48).to_bits(), 0x3ed1_1111);
    }

    #[test]
    fn temperature_divides() {
        let t = f32::from_bits(0x3f4a_aaab);
        let mut z = vec![1.0f32, -3.0, 0.5];
        apply_temperature(&mut z, t);
        assert_eq!(z, vec![1.0 / t, -3.0 / t, 0.5 / t]);
    }
}
