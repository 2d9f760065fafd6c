//! Reductions over a slice in `L` independent lanes (element `i` goes to lane `i mod L`, a tail
//! shorter than `L` to lane 0), so LLVM vectorises them while the order of the operations stays
//! fixed by `L` alone: every vector width gives the same bits.

/// The maximum of `x` and whether `x` holds a NaN; −∞ for an empty slice. NaN never wins a
/// comparison, so it is reported by the flag rather than through the maximum. Between equal
/// values (−0 and +0) the earlier one in its lane wins.
#[inline(always)]
pub fn lane_max<const L: usize>(x: &[f32]) -> (f32, bool) {
    let mut mx = [f32::NEG_INFINITY; L];
    let mut nan = [false; L];
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for ch in chunks {
        for l in 0..L {
            let v = ch[l];
            mx[l] = if v > mx[l] { v } else { mx[l] };
            nan[l] |= v.is_nan();
        }
    }
    for &v in tail {
        mx[0] = if v > mx[0] { v } else { mx[0] };
        nan[0] |= v.is_nan();
    }
    let m = mx.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    (m, nan.iter().any(|&b| b))
}

/// The sum of `x` in `L` f32 partial sums, combined in f64 in lane order.
#[inline(always)]
pub fn lane_sum<const L: usize>(x: &[f32]) -> f64 {
    let mut acc = [0.0f32; L];
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for ch in chunks {
        for l in 0..L {
            acc[l] += ch[l];
        }
    }
    for &v in tail {
        acc[0] += v;
    }
    acc.iter().map(|&a| a as f64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919) % 1013) as f32 * 0.013 - 6.0).collect()
    }

    #[test]
    fn lane_max_is_the_maximum_and_flags_nan() {
        for n in [0, 1, 7, 8, 9, 16, 17, 1000, 1031] {
            let x = values(n);
            let want = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(lane_max::<8>(&x), (want, false), "n={n}");
            assert_eq!(lane_max::<16>(&x), (want, false), "n={n}");
        }
        // A NaN in a lane, in the tail, and a row of −∞ with one NaN.
        let mut x = values(35);
        x[12] = f32::NAN;
        let (m, nan) = lane_max::<8>(&x);
        assert!(nan && m.is_finite());
        let mut x = values(35);
        x[34] = f32::NAN;
        assert!(lane_max::<16>(&x).1);
        let mut x = vec![f32::NEG_INFINITY; 20];
        x[3] = f32::NAN;
        assert_eq!(lane_max::<8>(&x).0, f32::NEG_INFINITY);
        assert!(lane_max::<8>(&x).1);
    }

    #[test]
    fn lane_sum_adds_in_lane_order() {
        for n in [0, 1, 8, 13, 1024, 1031] {
            let x = values(n);
            // The same additions, written out: lane l takes x[l], x[l + L], ...; the tail goes
            // to lane 0.
            let whole = n / 8 * 8;
            let mut lanes = [0f32; 8];
            for (i, &v) in x[..whole].iter().enumerate() {
                lanes[i % 8] += v;
            }
            for &v in &x[whole..] {
                lanes[0] += v;
            }
            let want: f64 = lanes.iter().map(|&a| a as f64).sum();
            assert_eq!(lane_sum::<8>(&x).to_bits(), want.to_bits(), "n={n}");
            let exact: f64 = x.iter().map(|&v| v as f64).sum();
            assert!((lane_sum::<8>(&x) - exact).abs() <= 1e-4 * (1.0 + exact.abs()), "n={n}");
        }
    }
}
