//! The keys of one attention call, packed once per KV head into contiguous strips that every
//! task reads: `Kᵀ` as strips of [`STRIP`] keys `[d, STRIP]`, V as strips of [`STRIP`] columns
//! `[keys, STRIP]`. Padding (keys past the last, columns past `d`) is 0.

use std::cell::Cell;

use rayon::prelude::*;

use super::kernel::STRIP;
use super::Seg;

/// The keys some query row sees, in key order: rows `ranges[0]` of the cache, then rows
/// `ranges[1]` of the new segment. Key `n` is the `n`-th of them.
pub(super) struct Keys<'a> {
    segs: [Seg<'a>; 2],
    ranges: [(usize, usize); 2],
    /// Keys taken from the cache.
    n0: usize,
    /// Keys in all.
    total: usize,
}

impl<'a> Keys<'a> {
    pub(super) fn new(segs: [Seg<'a>; 2], ranges: [(usize, usize); 2]) -> Self {
        let n0 = ranges[0].1 - ranges[0].0;
        Keys { segs, ranges, n0, total: n0 + ranges[1].1 - ranges[1].0 }
    }

    /// Key count.
    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// Key count rounded up to whole strips.
    fn padded(&self) -> usize {
        self.total.next_multiple_of(STRIP)
    }

    /// Segment and row of key `n < total`.
    fn row(&self, n: usize) -> (&Seg<'a>, usize) {
        if n < self.n0 {
            (&self.segs[0], self.ranges[0].0 + n)
        } else {
            (&self.segs[1], self.ranges[1].0 + n - self.n0)
        }
    }

    /// Position of key `n`; `None` for padding past the last key.
    #[inline]
    pub(super) fn position(&self, n: usize) -> Option<usize> {
        (n < self.total).then(|| {
            let (s, j) = self.row(n);
            s.pos0 + j
        })
    }

    /// `(first strip, strips)` covering the given rows of each segment (a sub-hull of this one).
    pub(super) fn strips(&self, sub: [(usize, usize); 2]) -> (usize, usize) {
        let spans = [
            (sub[0].0 - self.ranges[0].0, sub[0].1 - self.ranges[0].0),
            (self.n0 + sub[1].0 - self.ranges[1].0, self.n0 + sub[1].1 - self.ranges[1].0),
        ];
        let live = spans.iter().filter(|(a, b)| b > a);
        let (Some(start), Some(end)) = (live.clone().map(|s| s.0).min(), live.map(|s| s.1).max()) else {
            return (0, 0);
        };
        let first = start / STRIP;
        (first, end.div_ceil(STRIP) - first)
    }
}

/// Largest packed buffers (floats, K and V together) kept between calls: 64 MiB. A 26B full
/// layer's denoiser call over a 2k-token prompt packs 4.7 M floats (2 KV heads × 2,304 keys ×
/// 512 × K and V).
const RETAIN_FLOATS: usize = 16 << 20;

thread_local! {
    /// Packed buffers of the last call on this thread, reused so steady-state calls do not
    /// allocate. Taken (not borrowed) while in use: a nested call on the same thread, which
    /// rayon's work stealing allows, just allocates its own.
    static BUFFERS: Cell<(Vec<f32>, Vec<f32>)> = Cell::default();
}

/// The packed keys and values of every KV head.
pub(super) struct Packed {
    kt: Vec<f32>,
    v: Vec<f32>,
    d: usize,
    /// Key strips per KV head.
    strips: usize,
    /// Floats of one V strip (`padded keys · STRIP`).
    v_stride: usize,
    /// V strips per KV head.
    v_strips: usize,
}

impl Packed {
    /// Packs `keys` for `kv_heads` heads of width `d` (in parallel on the current pool).
    pub(super) fn take(keys: &Keys<'_>, kv_heads: usize, d: usize) -> Self {
        let (mut kt, mut v) = BUFFERS.with(Cell::take);
        let (padded, kv_w) = (keys.padded(), kv_heads * d);
        let strips = padded / STRIP;
        let v_strips = d.div_ceil(STRIP);
        kt.resize(kv_heads * strips * d * STRIP, 0.0);
        v.resize(kv_heads * v_strips * padded * STRIP, 0.0);
        if padded > 0 {
            kt.par_chunks_mut(d * STRIP).enumerate().for_each(|(idx, strip)| {
                let (kvh, s) = (idx / strips, idx % strips);
                for c in 0..STRIP {
                    let n = s * STRIP + c;
                    if n < keys.total {
                        let (sg, j) = keys.row(n);
                        for (k, &x) in sg.k[j * kv_w + kvh * d..][..d].iter().enumerate() {
                            strip[k * STRIP + c] = x;
                        }
                    } else {
                        (0..d).for_each(|k| strip[k * STRIP + c] = 0.0);
                    }
                }
            });
            v.par_chunks_mut(padded * STRIP).enumerate().for_each(|(idx, strip)| {
                let (kvh, t) = (idx / v_strips, idx % v_strips);
                let (c0, width) = (t * STRIP, STRIP.min(d - t * STRIP));
                for (n, dst) in strip.chunks_exact_mut(STRIP).enumerate() {
                    if n < keys.total {
                        let (sg, j) = keys.row(n);
                        dst[..width].copy_from_slice(&sg.v[j * kv_w + kvh * d + c0..][..width]);
                        dst[width..].fill(0.0);
                    } else {
                        dst.fill(0.0);
                    }
                }
            });
        }
        Packed { kt, v, d, strips, v_stride: padded * STRIP, v_strips }
    }

    /// `strips` key strips of KV head `kvh` from strip `first`.
    pub(super) fn k_strips(&self, kvh: usize, first: usize, strips: usize) -> &[f32] {
        let unit = self.d * STRIP;
        &self.kt[(kvh * self.strips + first) * unit..(kvh * self.strips + first + strips) * unit]
    }

    /// The values of KV head `kvh` from key strip `first` on, and the distance between their
    /// column strips.
    pub(super) fn v_strips(&self, kvh: usize, first: usize) -> (&[f32], usize) {
        let head = kvh * self.v_strips * self.v_stride;
        (&self.v[head + first * STRIP * STRIP..head + self.v_strips * self.v_stride], self.v_stride)
    }

    /// Returns the buffers to this thread for the next call, unless they are larger than
    /// [`RETAIN_FLOATS`] (a long prompt's full layers): those are freed, not kept for the
    /// lifetime of the thread.
    pub(super) fn give_back(self) {
        if self.kt.capacity() + self.v.capacity() <= RETAIN_FLOATS {
            BUFFERS.with(|b| b.set((self.kt, self.v)));
        }
    }
}
