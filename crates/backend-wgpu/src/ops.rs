//! Row-wise and element-wise ops: RMSNorm, RoPE, softmax, GELU gating, add, scale, softcap.

use crate::buffer::WgpuBuffer;
use crate::kernels::Kernel;
use crate::recorder::{f, grid, u, Bind, Recorder};

fn elementwise(rec: &mut Recorder<'_>, k: Kernel, a: &WgpuBuffer, b: Option<&WgpuBuffer>, n: usize, s: f32) {
    assert!(a.len >= n && b.is_none_or(|b| b.len >= n), "{k:?}: buffers shorter than {n}");
    let params = [u(n), 0, 0, f(s)];
    let groups = grid(n.div_ceil(256));
    match b {
        Some(b) => rec.dispatch(k, &params, &[Bind::Buf(&a.buf), Bind::Buf(&b.buf)], groups),
        None => rec.dispatch(k, &params, &[Bind::Buf(&a.buf)], groups),
    }
}

pub(crate) fn add(rec: &mut Recorder<'_>, dst: &WgpuBuffer, src: &WgpuBuffer, n: usize) {
    elementwise(rec, Kernel::Add, dst, Some(src), n, 0.0);
}

pub(crate) fn gelu_mul(rec: &mut Recorder<'_>, gate: &WgpuBuffer, up: &WgpuBuffer, n: usize) {
    elementwise(rec, Kernel::GeluMul, gate, Some(up), n, 0.0);
}

pub(crate) fn scale(rec: &mut Recorder<'_>, x: &WgpuBuffer, s: f32, n: usize) {
    elementwise(rec, Kernel::Scale, x, None, n, s);
}

pub(crate) fn softcap(rec: &mut Recorder<'_>, x: &WgpuBuffer, cap: f32, n: usize) {
    elementwise(rec, Kernel::Softcap, x, None, n, cap);
}

#[allow(clippy::too_many_arguments)]
/// `weight: None` binds a one-element dummy (a buffer cannot be bound read-only and read-write
/// in one dispatch).
pub(crate) fn rms_norm(
    rec: &mut Recorder<'_>,
    x: &WgpuBuffer,
    groups: usize,
    width: usize,
    weight: Option<&WgpuBuffer>,
    eps: f32,
    dummy: &WgpuBuffer,
    subgroups: bool,
) {
    assert!(x.len >= groups * width && weight.is_none_or(|w| w.len >= width), "rms_norm: buffers too small");
    let params = [u(groups), u(width), weight.is_some() as u32, f(eps)];
    let wt = weight.unwrap_or(dummy);
    rec.dispatch(Kernel::RmsNorm { subgroups }, &params, &[Bind::Buf(&x.buf), Bind::Buf(&wt.buf)], grid(groups));
}

pub(crate) fn softmax(rec: &mut Recorder<'_>, x: &WgpuBuffer, out: &WgpuBuffer, rows: usize, width: usize, subgroups: bool) {
    assert!(x.len >= rows * width && out.len >= rows * width, "softmax: buffers too small");
    rec.dispatch(Kernel::Softmax { subgroups }, &[u(rows), u(width)], &[Bind::Buf(&x.buf), Bind::Buf(&out.buf)], grid(rows));
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn rope(
    rec: &mut Recorder<'_>,
    x: &WgpuBuffer,
    rows: usize,
    heads: usize,
    head_dim: usize,
    pos0: usize,
    freqs: &WgpuBuffer,
) {
    assert!(x.len >= rows * heads * head_dim && freqs.len >= head_dim / 2, "rope: buffers too small");
    let threads = rows * heads * (head_dim / 2);
    let params = [u(rows), u(heads), u(head_dim), u(pos0)];
    rec.dispatch(Kernel::Rope, &params, &[Bind::Buf(&x.buf), Bind::Buf(&freqs.buf)], grid(threads.div_ceil(256)));
}
