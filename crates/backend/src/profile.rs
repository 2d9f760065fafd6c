//! [`Profiled`]: a backend wrapper that times every op and adds the time to the phase the model
//! last announced through [`Backend::phase`] — a per-phase profile of a forward pass without
//! touching the backend's kernels or the model's code beyond one-line phase marks.
//!
//! Timing is the wall time spent inside each forwarded op call. That is the op's cost only when
//! the inner backend is synchronous, as the CPU backend is: its ops return when the result is in
//! memory. A GPU backend queues work and returns early, so the time would land on whichever op
//! next waits for the device (usually a `read`); profiling one needs a device sync at the end of
//! each op (or timestamp queries), which this wrapper does not do.
//!
//! Host work the model does between ops (e.g. the router's top-k on the CPU) is not inside any
//! op and therefore in no phase; callers that time the whole pass see it as the remainder.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dgemma_quant::GgmlType;

use crate::{AttnGeometry, Backend, BackendError, KvSegment, Mask, MoeRoute, WeightShape, WeightSource};

/// Phase charged for ops that run before the first [`Backend::phase`] mark.
pub const UNMARKED_PHASE: &str = "(unmarked)";

/// Accumulated time of one phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTime {
    /// The phase name as passed to [`Backend::phase`].
    pub name: &'static str,
    /// Wall time spent inside the phase's op calls.
    pub time: Duration,
    /// Number of op calls charged to the phase.
    pub calls: u64,
}

#[derive(Debug)]
struct State {
    current: &'static str,
    /// Phases in order of first appearance (a handful, so a linear search is the fastest map).
    phases: Vec<PhaseTime>,
}

impl State {
    fn charge(&mut self, elapsed: Duration) {
        let name = self.current;
        match self.phases.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                p.time += elapsed;
                p.calls += 1;
            }
            None => self.phases.push(PhaseTime { name, time: elapsed, calls: 1 }),
        }
    }
}

/// Wraps a backend `B`, forwards every op to it unchanged (results are bit-identical) and
/// accumulates the wall time of each op per phase.
pub struct Profiled<B> {
    inner: B,
    state: Mutex<State>,
}

impl<B: Backend> Profiled<B> {
    /// Profile `inner`; nothing is charged until the first op.
    pub fn new(inner: B) -> Self {
        Self { inner, state: Mutex::new(State { current: UNMARKED_PHASE, phases: Vec::new() }) }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Time per phase since the last [`Self::reset`], in order of first appearance.
    pub fn phases(&self) -> Vec<PhaseTime> {
        self.lock().phases.clone()
    }

    /// Forget the accumulated times (the current phase is kept).
    pub fn reset(&self) {
        self.lock().phases.clear();
    }

    /// Total time inside ops since the last reset.
    pub fn total(&self) -> Duration {
        self.lock().phases.iter().map(|p| p.time).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic inside a timed op leaves only plain numbers behind: the state stays valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `op` on the inner backend and charge its wall time to the current phase.
    fn timed<T>(&self, op: impl FnOnce(&B) -> T) -> T {
        let t0 = Instant::now();
        let out = op(&self.inner);
        let elapsed = t0.elapsed();
        self.lock().charge(elapsed);
        out
    }
}

impl<B: Backend> Backend for Profiled<B> {
    type Buffer = B::Buffer;
    type Weight<'a>
        = B::Weight<'a>
    where
        Self: 'a;

    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn threads(&self) -> usize {
        self.inner.threads()
    }
    fn phase(&self, name: &'static str) {
        self.lock().current = name;
        self.inner.phase(name);
    }

    fn alloc(&self, len: usize) -> Self::Buffer {
        self.inner.alloc(len)
    }
    fn write(&self, buf: &mut Self::Buffer, offset: usize, data: &[f32]) {
        self.timed(|b| b.write(buf, offset, data))
    }
    fn read(&self, buf: &Self::Buffer, offset: usize, out: &mut [f32]) {
        self.timed(|b| b.read(buf, offset, out))
    }
    fn copy(&self, src: &Self::Buffer, src_off: usize, dst: &mut Self::Buffer, dst_off: usize, n: usize) {
        self.timed(|b| b.copy(src, src_off, dst, dst_off, n))
    }
    fn copy_within(&self, buf: &mut Self::Buffer, src_off: usize, dst_off: usize, n: usize) {
        self.timed(|b| b.copy_within(buf, src_off, dst_off, n))
    }

    fn supports(&self, ty: GgmlType) -> bool {
        self.inner.supports(ty)
    }
    fn upload_weight<'a>(&self, src: WeightSource<'a>) -> Result<Self::Weight<'a>, BackendError> {
        self.inner.upload_weight(src)
    }
    fn weight_shape(&self, w: &Self::Weight<'_>) -> WeightShape {
        self.inner.weight_shape(w)
    }

    fn get_rows(&self, w: &Self::Weight<'_>, ids: &[u32], scale: f32, out: &mut Self::Buffer) {
        self.timed(|b| b.get_rows(w, ids, scale, out))
    }
    fn matmul(&self, w: &Self::Weight<'_>, x: &Self::Buffer, n: usize, y: &mut Self::Buffer) {
        self.timed(|b| b.matmul(w, x, n, y))
    }
    fn matmul_transposed(&self, w: &Self::Weight<'_>, x: &Self::Buffer, n: usize, y: &mut Self::Buffer) {
        self.timed(|b| b.matmul_transposed(w, x, n, y))
    }
    fn rms_norm(&self, x: &mut Self::Buffer, groups: usize, width: usize, weight: Option<&Self::Buffer>, eps: f32) {
        self.timed(|b| b.rms_norm(x, groups, width, weight, eps))
    }
    fn rope(&self, x: &mut Self::Buffer, rows: usize, heads: usize, head_dim: usize, pos0: usize, freqs: &Self::Buffer) {
        self.timed(|b| b.rope(x, rows, heads, head_dim, pos0, freqs))
    }
    fn attention(
        &self,
        q: &Self::Buffer,
        geo: AttnGeometry,
        cache: KvSegment<'_, Self::Buffer>,
        new: KvSegment<'_, Self::Buffer>,
        mask: Mask,
        out: &mut Self::Buffer,
    ) {
        self.timed(|b| b.attention(q, geo, cache, new, mask, out))
    }
    fn gelu_mul(&self, gate: &mut Self::Buffer, up: &Self::Buffer, n: usize) {
        self.timed(|b| b.gelu_mul(gate, up, n))
    }
    fn moe(&self, gate_up: &Self::Weight<'_>, down: &Self::Weight<'_>, x: &Self::Buffer, route: &MoeRoute, out: &mut Self::Buffer) {
        self.timed(|b| b.moe(gate_up, down, x, route, out))
    }
    fn add(&self, dst: &mut Self::Buffer, src: &Self::Buffer, n: usize) {
        self.timed(|b| b.add(dst, src, n))
    }
    fn scale(&self, x: &mut Self::Buffer, s: f32, n: usize) {
        self.timed(|b| b.scale(x, s, n))
    }
    fn softcap(&self, x: &mut Self::Buffer, cap: f32, n: usize) {
        self.timed(|b| b.softcap(x, cap, n))
    }
    fn softmax(&self, x: &Self::Buffer, out: &mut Self::Buffer, rows: usize, width: usize) {
        self.timed(|b| b.softmax(x, out, rows, width))
    }
}
