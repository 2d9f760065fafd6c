//! Row-wise and element-wise ops: RMSNorm, RoPE, GELU gating, softcap, softmax, add, scale.

use rayon::prelude::*;

use crate::math::{gelu_tanh, rms_inv};

/// Below this many elements an op runs on the calling thread (spawning costs more).
const PAR_MIN: usize = 1 << 14;

/// See [`dgemma_backend::Backend::rms_norm`].
pub(crate) fn rms_norm(x: &mut [f32], groups: usize, width: usize, weight: Option<&[f32]>, eps: f32) {
    let f = |g: &mut [f32]| {
        let s = rms_inv(g, eps);
        match weight {
            Some(w) => g.iter_mut().zip(w).for_each(|(v, w)| *v = *v * s * w),
            None => g.iter_mut().for_each(|v| *v *= s),
        }
    };
    let x = &mut x[..groups * width];
    if x.len() >= PAR_MIN {
        x.par_chunks_mut(width).for_each(f);
    } else {
        x.chunks_mut(width).for_each(f);
    }
}

/// See [`dgemma_backend::Backend::rope`]. cos/sin of the f32 angle `pos · f` in f32.
pub(crate) fn rope(x: &mut [f32], rows: usize, heads: usize, d: usize, pos0: usize, freqs: &[f32]) {
    let half = d / 2;
    x[..rows * heads * d].par_chunks_mut(heads * d).enumerate().for_each(|(r, row)| {
        let pos = (pos0 + r) as f32;
        for i in 0..half {
            let f = freqs[i];
            if f == 0.0 {
                continue; // unrotated pair (proportional RoPE): cos 1, sin 0
            }
            let (sin, cos) = (pos * f).sin_cos();
            for h in 0..heads {
                let head = &mut row[h * d..(h + 1) * d];
                let (a, b) = (head[i], head[i + half]);
                head[i] = a * cos - b * sin;
                head[i + half] = b * cos + a * sin;
            }
        }
    });
}

/// `gate = gelu_tanh(gate) · up`.
pub(crate) fn gelu_mul(gate: &mut [f32], up: &[f32], n: usize) {
    let f = |(g, u): (&mut f32, &f32)| *g = gelu_tanh(*g) * u;
    if n >= PAR_MIN {
        gate[..n].par_iter_mut().zip(&up[..n]).for_each(f);
    } else {
        gate[..n].iter_mut().zip(&up[..n]).for_each(f);
    }
}

/// Apply `f` to the first `n` elements.
pub(crate) fn map(x: &mut [f32], n: usize, f: impl Fn(f32) -> f32 + Sync) {
    if n >= PAR_MIN {
        x[..n].par_iter_mut().for_each(|v| *v = f(*v));
    } else {
        x[..n].iter_mut().for_each(|v| *v = f(*v));
    }
}

/// `dst += src`.
pub(crate) fn add(dst: &mut [f32], src: &[f32], n: usize) {
    if n >= PAR_MIN {
        dst[..n].par_iter_mut().zip(&src[..n]).for_each(|(a, b)| *a += b);
    } else {
        dst[..n].iter_mut().zip(&src[..n]).for_each(|(a, b)| *a += b);
    }
}

/// Row softmax with max subtraction, sums in f64.
pub(crate) fn softmax(x: &[f32], out: &mut [f32], rows: usize, width: usize) {
    out[..rows * width].par_chunks_mut(width).zip(x[..rows * width].par_chunks(width)).for_each(|(o, xr)| {
        let m = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut z = 0f64;
        for (ov, &xv) in o.iter_mut().zip(xr) {
            *ov = (xv - m).exp();
            z += *ov as f64;
        }
        let inv = (1.0 / z) as f32;
        o.iter_mut().for_each(|v| *v *= inv);
    });
}
