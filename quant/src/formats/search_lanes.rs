//! `make_qkx2_quants` run on several sub-blocks at once, one sub-block per lane.
//!
//! The K-quant min/scale search is a chain of f32 accumulations in index order, so one
//! sub-block cannot be reordered or split without changing the bytes. Different sub-blocks are
//! independent, though: here lane `k` performs exactly the scalar operations of
//! [`super::search::make_qkx2_quants`] on sub-block `k`, in the same order, and the per-lane
//! loops vectorize. Branches of the scalar code become per-lane selects whose unused side is
//! computed and discarded (it has no side effects), so results stay bit-identical; a unit test
//! compares both versions.

use super::bytes::{nearest_int, GROUP_MAX_EPS};
use super::search::MinSearch;

/// `xt[i][k]` = element `i` of sub-block `k`, weights likewise. Returns per-lane
/// `(scale, -min)` and writes the levels to `l[i][k]`.
#[inline(always)]
pub(crate) fn make_qkx2_quants_lanes<const N: usize, const K: usize>(
    xt: &[[f32; K]; N],
    wt: &[[f32; K]; N],
    l: &mut [[u8; K]; N],
    p: &MinSearch,
) -> ([f32; K], [f32; K]) {
    let mut min = xt[0];
    let mut max = xt[0];
    let mut sum_w = wt[0];
    let mut sum_x = [0.0f32; K];
    for k in 0..K {
        sum_x[k] = sum_w[k] * xt[0][k];
    }
    for i in 1..N {
        for k in 0..K {
            let x = xt[i][k];
            min[k] = if x < min[k] { x } else { min[k] };
            max[k] = if x > max[k] { x } else { max[k] };
            sum_w[k] += wt[i][k];
            sum_x[k] += wt[i][k] * x;
        }
    }
    let mut flat = [false; K];
    let mut range = [0.0f32; K];
    for k in 0..K {
        if min[k] > 0.0 {
            min[k] = 0.0;
        }
        flat[k] = max[k] == min[k];
        range[k] = max[k] - min[k];
    }
    let nmax = p.nmax as f32;
    let mut iscale = [0.0f32; K];
    let mut scale = [0.0f32; K];
    for k in 0..K {
        iscale[k] = nmax / range[k];
        scale[k] = 1.0 / iscale[k];
    }
    let err = |d: f32| if p.use_mad { d.abs() } else { d * d };
    let mut best = [0.0f32; K];
    for i in 0..N {
        for k in 0..K {
            let li = nearest_int(iscale[k] * (xt[i][k] - min[k])).clamp(0, p.nmax);
            l[i][k] = li as u8;
            let diff = scale[k] * li as f32 + min[k] - xt[i][k];
            best[k] += wt[i][k] * err(diff);
        }
    }
    let mut laux = [[0u8; K]; N];
    for is in 0..=p.nstep {
        let (mut sum_l, mut sum_l2, mut sum_xl) = ([0.0f32; K], [0.0f32; K], [0.0f32; K]);
        for k in 0..K {
            // `max - min` again: `min` may have moved in an earlier step.
            iscale[k] = (p.rmin + p.rdelta * is as f32 + nmax) / (max[k] - min[k]);
        }
        for i in 0..N {
            for k in 0..K {
                let li = nearest_int(iscale[k] * (xt[i][k] - min[k])).clamp(0, p.nmax);
                laux[i][k] = li as u8;
                let w = wt[i][k];
                let lf = li as f32;
                sum_l[k] += w * lf;
                sum_l2[k] += w * lf * lf;
                sum_xl[k] += w * lf * xt[i][k];
            }
        }
        let mut this_scale = [0.0f32; K];
        let mut this_min = [0.0f32; K];
        let mut ok = [false; K];
        for k in 0..K {
            let det = sum_w[k] * sum_l2[k] - sum_l[k] * sum_l[k];
            ok[k] = det > 0.0;
            let s = (sum_w[k] * sum_xl[k] - sum_x[k] * sum_l[k]) / det;
            let m = (sum_l2[k] * sum_x[k] - sum_l[k] * sum_xl[k]) / det;
            let clip = m > 0.0;
            this_min[k] = if clip { 0.0 } else { m };
            this_scale[k] = if clip { sum_xl[k] / sum_l2[k] } else { s };
        }
        if !ok.iter().any(|&o| o) {
            continue;
        }
        let mut cur = [0.0f32; K];
        for i in 0..N {
            for k in 0..K {
                let diff = this_scale[k] * laux[i][k] as f32 + this_min[k] - xt[i][k];
                cur[k] += wt[i][k] * err(diff);
            }
        }
        for k in 0..K {
            if ok[k] && !flat[k] && cur[k] < best[k] {
                for i in 0..N {
                    l[i][k] = laux[i][k];
                }
                best[k] = cur[k];
                scale[k] = this_scale[k];
                min[k] = this_min[k];
            }
        }
    }
    for k in 0..K {
        if flat[k] {
            for row in l.iter_mut() {
                row[k] = 0;
            }
            scale[k] = 0.0;
        }
    }
    let mut off = [0.0f32; K];
    for k in 0..K {
        off[k] = -min[k];
    }
    (scale, off)
}

/// [`super::search::make_qx_quants`] (weights x², signed levels) on `K` sub-blocks at once:
/// `xt[i][k]` = element `i` of sub-block `k`. Returns the per-lane scales and writes the
/// levels, biased by `nmax`, to `l[i][k]`.
#[inline(always)]
pub(crate) fn make_qx_quants_lanes<const N: usize, const K: usize>(
    xt: &[[f32; K]; N],
    nmax: i32,
    l: &mut [[i8; K]; N],
) -> [f32; K] {
    let (mut max, mut amax) = ([0.0f32; K], [0.0f32; K]);
    let mut wx = [[0.0f32; K]; N];
    let mut w = [[0.0f32; K]; N];
    for i in 0..N {
        for k in 0..K {
            let v = xt[i][k];
            let ax = v.abs();
            let bigger = ax > amax[k];
            amax[k] = if bigger { ax } else { amax[k] };
            max[k] = if bigger { v } else { max[k] };
            w[i][k] = v * v;
            wx[i][k] = w[i][k] * v;
        }
    }
    let nm = nmax as f32;
    // Levels and weighted sums for one iscale per lane, levels into `out`.
    let sums = |iscale: &[f32; K], out: &mut [[i8; K]; N]| {
        let (mut sumlx, mut suml2) = ([0.0f32; K], [0.0f32; K]);
        for i in 0..N {
            for k in 0..K {
                let li = nearest_int(iscale[k] * xt[i][k]).clamp(-nmax, nmax - 1);
                out[i][k] = (li + nmax) as i8;
                let lf = li as f32;
                sumlx[k] += wx[i][k] * lf;
                suml2[k] += w[i][k] * lf * lf;
            }
        }
        (sumlx, suml2)
    };
    let mut iscale = [0.0f32; K];
    for k in 0..K {
        iscale[k] = -nm / max[k];
    }
    let (sumlx, suml2) = sums(&iscale, l);
    let (mut scale, mut best) = ([0.0f32; K], [0.0f32; K]);
    for k in 0..K {
        scale[k] = if suml2[k] != 0.0 { sumlx[k] / suml2[k] } else { 0.0 };
        best[k] = scale[k] * sumlx[k];
    }
    let mut laux = [[0i8; K]; N];
    for is in -9i32..=9 {
        if is == 0 {
            continue;
        }
        for k in 0..K {
            iscale[k] = -(nm + 0.1 * is as f32) / max[k];
        }
        let (sumlx, suml2) = sums(&iscale, &mut laux);
        for k in 0..K {
            if suml2[k] > 0.0 && sumlx[k] * sumlx[k] > best[k] * suml2[k] {
                for i in 0..N {
                    l[i][k] = laux[i][k];
                }
                scale[k] = sumlx[k] / suml2[k];
                best[k] = scale[k] * sumlx[k];
            }
        }
    }
    for k in 0..K {
        if amax[k] < GROUP_MAX_EPS {
            for row in l.iter_mut() {
                row[k] = 0;
            }
            scale[k] = 0.0;
        }
    }
    scale
}

#[cfg(test)]
mod tests {
    use super::super::search::{make_qkx2_quants, make_qx_quants};
    use super::*;

    fn check<const N: usize, const K: usize>(x: &[f32], w: &[f32], p: &MinSearch) {
        let mut xt = [[0.0f32; K]; N];
        let mut wt = [[0.0f32; K]; N];
        for k in 0..K {
            for i in 0..N {
                xt[i][k] = x[k * N + i];
                wt[i][k] = w[k * N + i];
            }
        }
        let mut lt = [[0u8; K]; N];
        let (scales, offs) = make_qkx2_quants_lanes(&xt, &wt, &mut lt, p);
        for k in 0..K {
            let (mut l, mut laux) = ([0u8; N], [0u8; N]);
            let (s, m) = make_qkx2_quants(&x[k * N..(k + 1) * N], &w[k * N..(k + 1) * N], &mut l, &mut laux, p);
            assert_eq!((s.to_bits(), m.to_bits()), (scales[k].to_bits(), offs[k].to_bits()), "lane {k}");
            for i in 0..N {
                assert_eq!(l[i], lt[i][k], "lane {k} element {i}");
            }
        }
    }

    #[test]
    fn lanes_match_the_scalar_search_bit_for_bit() {
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let q4 = MinSearch { nmax: 15, rmin: -1.0, rdelta: 0.1, nstep: 20, use_mad: false };
        let q2 = MinSearch { nmax: 3, rmin: -0.5, rdelta: 0.1, nstep: 15, use_mad: true };
        for round in 0..200 {
            let mut x: Vec<f32> = (0..256).map(|_| next() * 10f32.powi(round % 5 - 2)).collect();
            // Flat, all-zero, all-positive and constant sub-blocks among random ones.
            x[0..32].fill(0.0);
            x[64..96].iter_mut().for_each(|v| *v = v.abs() + 0.5);
            x[200..216].fill(-0.25);
            let w: Vec<f32> = x.iter().map(|v| v.abs() + 0.01).collect();
            check::<32, 8>(&x, &w, &q4);
            check::<16, 16>(&x, &w, &q2);
        }
    }

    #[test]
    fn signed_lanes_match_the_scalar_search_bit_for_bit() {
        let mut s = 0x0fed_cba9_8765_4321u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for round in 0..300 {
            let mut x: Vec<f32> = (0..256).map(|_| next() * 10f32.powi(round % 7 - 3)).collect();
            x[0..16].fill(0.0);
            x[16..32].iter_mut().for_each(|v| *v *= 1e-16);
            x[48..64].fill(0.75);
            let mut xt = [[0.0f32; 16]; 16];
            for k in 0..16 {
                for i in 0..16 {
                    xt[i][k] = x[16 * k + i];
                }
            }
            let mut lt = [[0i8; 16]; 16];
            let scales = make_qx_quants_lanes(&xt, 32, &mut lt);
            for k in 0..16 {
                let mut l = [0i8; 16];
                let scale = make_qx_quants(&x[16 * k..16 * k + 16], 32, &mut l);
                assert_eq!(scale.to_bits(), scales[k].to_bits(), "lane {k}");
                for i in 0..16 {
                    assert_eq!(l[i], lt[i][k], "lane {k} element {i}");
                }
            }
        }
    }
}
