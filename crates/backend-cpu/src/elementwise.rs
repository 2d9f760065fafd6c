//! Row-wise and element-wise ops: RMSNorm, RoPE, GELU gating, softcap, softmax, add, scale.

use rayon::prelude::*;

use crate::fast_math::{self, isa};
use crate::math::rms_inv;

/// Below this many elements an op runs on the calling thread (spawning costs more).
const PAR_MIN: usize = 1 << 14;
/// Elements per parallel task of the element-wise kernels: large enough that a task is one
/// vectorised loop, small enough (64 KiB) to stay in L2 and balance over threads.
const CHUNK: usize = 1 << 14;

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
    let isa = isa();
    if n >= PAR_MIN {
        gate[..n].par_chunks_mut(CHUNK).zip(up[..n].par_chunks(CHUNK)).for_each(|(g, u)| fast_math::gelu_mul(isa, g, u));
    } else {
        fast_math::gelu_mul(isa, &mut gate[..n], &up[..n]);
    }
}

/// `x = cap · tanh(x / cap)` over the first `n` elements.
pub(crate) fn softcap(x: &mut [f32], cap: f32, n: usize) {
    let isa = isa();
    if n >= PAR_MIN {
        x[..n].par_chunks_mut(CHUNK).for_each(|c| fast_math::softcap(isa, c, cap));
    } else {
        fast_math::softcap(isa, &mut x[..n], cap);
    }
}

/// `x *= s` over the first `n` elements.
pub(crate) fn scale(x: &mut [f32], s: f32, n: usize) {
    let isa = isa();
    if n >= PAR_MIN {
        x[..n].par_chunks_mut(CHUNK).for_each(|c| fast_math::scale(isa, c, s));
    } else {
        fast_math::scale(isa, &mut x[..n], s);
    }
}

/// `dst = src`, split over the threads when large (a `[C, V]` host transfer is 256 MiB, more than
/// one core's memory bandwidth moves quickly).
pub(crate) fn copy(src: &[f32], dst: &mut [f32]) {
    const PAR_COPY: usize = 1 << 20;
    if src.len() >= PAR_COPY {
        dst.par_chunks_mut(PAR_COPY / 4).zip(src.par_chunks(PAR_COPY / 4)).for_each(|(d, s)| d.copy_from_slice(s));
    } else {
        dst.copy_from_slice(src);
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

/// Row softmax with max subtraction, sums in f64; one task per row.
pub(crate) fn softmax(x: &[f32], out: &mut [f32], rows: usize, width: usize) {
    let isa = isa();
    out[..rows * width].par_chunks_mut(width).zip(x[..rows * width].par_chunks(width)).for_each(|(o, xr)| {
        let m = fast_math::max(isa, xr);
        o.copy_from_slice(xr);
        let z = fast_math::exp_shifted_sum(isa, o, m);
        fast_math::scale(isa, o, (1.0 / z) as f32);
    });
}
