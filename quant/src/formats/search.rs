//! The scale searches shared by the K-quant reference quantizers (ggml `make_qkx2_quants`,
//! `make_qx_quants` with x² weights, `make_q3_quants`).
//!
//! Every expression keeps the C operand order (`w*l*x` is `(w*l)*x`) and Rust never contracts
//! to fused multiply-add, so results are bit-identical to the C reference built without FMA
//! (../shared/spec/gguf.md §3.6).

use super::bytes::{nearest_int, GROUP_MAX_EPS};

/// Parameters of the asymmetric (scale + min) search.
pub(crate) struct MinSearch {
    /// Largest level.
    pub nmax: i32,
    /// First iscale offset tried, relative to `nmax`.
    pub rmin: f32,
    /// Step between tried offsets.
    pub rdelta: f32,
    /// Number of extra steps (the loop runs `nstep + 1` times).
    pub nstep: i32,
    /// Absolute instead of squared error.
    pub use_mad: bool,
}

/// ggml `make_qkx2_quants` (the readable scalar form; the quantizers run the lane-parallel
/// [`super::search_lanes::make_qkx2_quants_lanes`], tested equal to this): the scale (returned) and the offset `-min` (written to `the_min`)
/// that minimise the weighted error of `x ≈ scale * L + min` with `L` in `0..=nmax`.
/// `l` receives the levels, `laux` is scratch of the same length as `x`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn make_qkx2_quants(
    x: &[f32],
    weights: &[f32],
    l: &mut [u8],
    laux: &mut [u8],
    p: &MinSearch,
) -> (f32, f32) {
    let n = x.len();
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l[..n].fill(0);
        return (0.0, -min);
    }
    let nmax = p.nmax as f32;
    let mut iscale = nmax / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        let li = nearest_int(iscale * (x[i] - min)).clamp(0, p.nmax);
        l[i] = li as u8;
        let diff = scale * li as f32 + min - x[i];
        let diff = if p.use_mad { diff.abs() } else { diff * diff };
        best_error += weights[i] * diff;
    }
    for is in 0..=p.nstep {
        iscale = (p.rmin + p.rdelta * is as f32 + nmax) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..n {
            let li = nearest_int(iscale * (x[i] - min)).clamp(0, p.nmax);
            laux[i] = li as u8;
            let w = weights[i];
            let lf = li as f32;
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                let diff = this_scale * laux[i] as f32 + this_min - x[i];
                let diff = if p.use_mad { diff.abs() } else { diff * diff };
                cur_error += weights[i] * diff;
            }
            if cur_error < best_error {
                l[..n].copy_from_slice(&laux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// The signed value of largest magnitude (first one wins) and that magnitude.
#[inline(always)]
pub(crate) fn signed_max(x: &[f32]) -> (f32, f32) {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        let ax = v.abs();
        if ax > amax {
            amax = ax;
            max = v;
        }
    }
    (max, amax)
}

/// Weighted sums `(Σ (w*x)*l, Σ (w*l)*l)` with `w = x²` for levels from `iscale`.
#[inline(always)]
fn qx_sums(x: &[f32], iscale: f32, nmax: i32) -> (f32, f32) {
    let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
    for &v in x {
        let l = nearest_int(iscale * v).clamp(-nmax, nmax - 1) as f32;
        let w = v * v;
        sumlx += w * v * l;
        suml2 += w * l * l;
    }
    (sumlx, suml2)
}

/// ggml `make_qx_quants(n, nmax, x, L, rmse_type = 1, NULL)`: a signed scale for
/// `x ≈ scale * (L - nmax)`, weights x², trying 19 iscales. Levels (biased by `nmax`) go to `l`.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn make_qx_quants(x: &[f32], nmax: i32, l: &mut [i8]) -> f32 {
    let (max, amax) = signed_max(x);
    if amax < GROUP_MAX_EPS {
        l[..x.len()].fill(0);
        return 0.0;
    }
    let nm = nmax as f32;
    let mut iscale = -nm / max;
    let fill = |l: &mut [i8], iscale: f32| {
        for (li, &v) in l.iter_mut().zip(x) {
            *li = (nmax + nearest_int(iscale * v).clamp(-nmax, nmax - 1)) as i8;
        }
    };
    let (sumlx, suml2) = qx_sums(x, iscale, nmax);
    fill(l, iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9i32..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nm + 0.1 * is as f32) / max;
        let (sumlx, suml2) = qx_sums(x, iscale, nmax);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            fill(l, iscale);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// ggml `make_q3_quants(n, nmax, x, L, do_rmse = true)`: signed levels in `-nmax..nmax`, weights
/// x², refined by up to five passes of single-level moves. Levels (biased by `nmax`) go to `l`.
pub(crate) fn make_q3_quants(x: &[f32], nmax: i32, l: &mut [i8]) -> f32 {
    let n = x.len();
    let (max, amax) = signed_max(x);
    if amax < GROUP_MAX_EPS {
        l[..n].fill(0);
        return 0.0;
    }
    let iscale = -(nmax as f32) / max;
    let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
    for i in 0..n {
        let li = nearest_int(iscale * x[i]).clamp(-nmax, nmax - 1);
        l[i] = li as i8;
        let w = x[i] * x[i];
        sumlx += w * x[i] * li as f32;
        suml2 += w * li as f32 * li as f32;
    }
    for _ in 0..5 {
        let mut n_changed = 0;
        for i in 0..n {
            let w = x[i] * x[i];
            let li = l[i] as f32;
            let mut slx = sumlx - w * x[i] * li;
            if slx > 0.0 {
                let mut sl2 = suml2 - w * li * li;
                let new_l = nearest_int(x[i] * sl2 / slx).clamp(-nmax, nmax - 1);
                if new_l != l[i] as i32 {
                    let nl = new_l as f32;
                    slx += w * x[i] * nl;
                    sl2 += w * nl * nl;
                    if sl2 > 0.0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        l[i] = new_l as i8;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed += 1;
                    }
                }
            }
        }
        if n_changed == 0 {
            break;
        }
    }
    for v in l[..n].iter_mut() {
        *v += nmax as i8;
    }
    if suml2 > 0.0 {
        sumlx / suml2
    } else {
        0.0
    }
}
