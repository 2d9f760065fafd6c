//! Public entry points: argument checks, activation preparation and the row-parallel loops.

use rayon::prelude::*;

use super::activations::{ActKind, Activations};
use super::table::{row_kernel, row_kernel4, row_kernel8, transpose_scales, RowKernel, RowKernel4, RowKernel8, Scales8};
use super::{is_supported, Isa, KernelError};
use crate::types::GgmlType;

/// Rows per parallel task for a single token: enough tasks to balance, few enough that each
/// is a contiguous stretch of weights worth streaming.
const MATVEC_MIN_ROWS: usize = 16;
/// Rows per parallel task in a batch, at most: their weights (≈ 190 KB of Q8_0 at width 2816)
/// stay in L2 while every token passes, and each 8-token activation group is loaded once per
/// this many rows (64 instead of 16: +3-10 % single-core GFLOP/s on Q8_0, `kernels_cpu_time`).
const MATMUL_ROW_BLOCK_MAX: usize = 64;
/// Rows per parallel task in a batch, at least (small matrices on many threads).
const MATMUL_ROW_BLOCK_MIN: usize = 16;
/// Tokens per pass over a row block; their activations stay in L2.
const MATMUL_TOKEN_TILE: usize = 32;

/// Weight rows per task of a batched product, a multiple of `multiple` (a power of two): at
/// least four tasks per thread where the matrix allows, for balance, within
/// [`MATMUL_ROW_BLOCK_MIN`]..=[`MATMUL_ROW_BLOCK_MAX`]. Each value's bits do not depend on it.
fn row_block(rows: usize, multiple: usize) -> usize {
    (rows / (4 * rayon::current_num_threads())).clamp(MATMUL_ROW_BLOCK_MIN, MATMUL_ROW_BLOCK_MAX) & !(multiple - 1)
}

/// Fails unless `cols` is a whole number of blocks of a supported type.
pub(crate) fn check_width(ty: GgmlType, cols: usize) -> Result<(), KernelError> {
    if !is_supported(ty) {
        return Err(KernelError::UnsupportedType(ty));
    }
    if !cols.is_multiple_of(ty.block_size()) {
        return Err(KernelError::PartialBlock { ty, cols, block: ty.block_size() });
    }
    Ok(())
}

/// Bytes per weight row, after checking `w` holds exactly `rows` rows.
fn check_weights(ty: GgmlType, w: &[u8], rows: usize, cols: usize) -> Result<usize, KernelError> {
    check_width(ty, cols)?;
    let row_bytes = ty.row_bytes(cols).ok_or(KernelError::PartialBlock {
        ty,
        cols,
        block: ty.block_size(),
    })?;
    let total = row_bytes.checked_mul(rows).ok_or(KernelError::Overflow { what: "weights" })?;
    if w.len() != total {
        return Err(KernelError::Length { what: "weights (rows * row bytes)", expected: total, got: w.len() });
    }
    Ok(row_bytes)
}

/// `y = W x` for one activation vector: `w` is `rows` rows of `cols` values of type `ty`,
/// `x` has `cols` values, `y` receives `rows` values (overwritten).
pub fn matvec(
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    matvec_on(Isa::detected(), ty, w, rows, cols, x, y)
}

/// [`matvec`] on an explicit instruction set.
pub fn matvec_on(
    isa: Isa,
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    matmul_on(isa, ty, w, rows, cols, x, 1, y)
}

/// `Y = X Wᵀ` for a batch: `x` is `n` rows of `cols` (row-major), `y` is `n` rows of `rows`
/// (row-major, token-major: `y[t * rows + r]`), overwritten. The activations are quantized
/// once and every weight row is read from memory once for all `n` tokens.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    n: usize,
    y: &mut [f32],
) -> Result<(), KernelError> {
    matmul_on(Isa::detected(), ty, w, rows, cols, x, n, y)
}

/// [`matmul`] on an explicit instruction set.
#[allow(clippy::too_many_arguments)]
pub fn matmul_on(
    isa: Isa,
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    n: usize,
    y: &mut [f32],
) -> Result<(), KernelError> {
    // Check the weights before spending time on the activations.
    check_weights(ty, w, rows, cols)?;
    let acts = Activations::quantize(ty, x, n, cols)?;
    matmul_prepared_on(isa, ty, w, rows, &acts, y)
}

/// [`matmul`] with activations already prepared by [`Activations::quantize`] for this weight
/// type and width (reuse them across the matrices a batch is multiplied with).
pub fn matmul_prepared(
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    acts: &Activations,
    y: &mut [f32],
) -> Result<(), KernelError> {
    matmul_prepared_on(Isa::detected(), ty, w, rows, acts, y)
}

/// [`matmul_prepared`] on an explicit instruction set.
pub fn matmul_prepared_on(
    isa: Isa,
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    acts: &Activations,
    y: &mut [f32],
) -> Result<(), KernelError> {
    run(isa, ty, w, rows, acts, Tokens::All(acts.n()), None, y, Threads::Pool)
}

/// `Y = X[tokens] Wᵀ`: multiply only the prepared activation rows listed in `tokens` (in that
/// order, repeats allowed); `y` is `tokens.len()` rows of `rows`, overwritten. This is the
/// MoE step: prepare the batch once, then per expert pass its weight slice and its tokens.
pub fn matmul_gather(
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    acts: &Activations,
    tokens: &[usize],
    y: &mut [f32],
) -> Result<(), KernelError> {
    matmul_gather_on(Isa::detected(), ty, w, rows, acts, tokens, y)
}

/// [`matmul_gather`] on an explicit instruction set.
pub fn matmul_gather_on(
    isa: Isa,
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    acts: &Activations,
    tokens: &[usize],
    y: &mut [f32],
) -> Result<(), KernelError> {
    check_tokens(acts, tokens)?;
    run(isa, ty, w, rows, acts, Tokens::Listed(tokens), None, y, Threads::Pool)
}

/// [`matmul_gather_on`] for a block of weight rows, entirely on the calling thread (no rayon):
/// `w` is `rows` weight rows (any contiguous run of a matrix's rows, e.g. rows `r0..r1` of one
/// expert), `y` receives `tokens.len()` rows of `rows` values (`y[t * rows + i]`), overwritten.
///
/// This is one task of [`matmul_gather`]'s row-parallel loop, with the same loop structure and
/// kernels, so every value is bit-identical to the matching element of a [`matmul_gather`]
/// over the whole matrix. Callers with many small products (MoE: ~16 tokens per expert) schedule
/// their own flat set of (matrix, row block) tasks with it instead of nesting parallel loops.
pub fn matmul_gather_block_on(
    isa: Isa,
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    acts: &Activations,
    tokens: &[usize],
    y: &mut [f32],
) -> Result<(), KernelError> {
    check_tokens(acts, tokens)?;
    run(isa, ty, w, rows, acts, Tokens::Listed(tokens), None, y, Threads::Caller)
}

/// A token list packed once for several [`matmul_packed_block_on`] calls: MoE runs each
/// expert's tokens against many blocks of its weight rows, and packing them per block would
/// cost as much as the block's product.
#[derive(Default)]
pub struct PackedTokens {
    tokens: Vec<usize>,
    /// The activations' weight type, instruction set and size when packed.
    packed_for: Option<(Isa, GgmlType, usize, usize)>,
    #[cfg(target_arch = "x86_64")]
    lanes: Option<super::lanes::LaneActs>,
}

impl PackedTokens {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Packs activation rows `tokens` of `acts` (in that order, repeats allowed) for products
    /// on `isa`, reusing this value's buffers. The packed copy stands for `acts` as they are
    /// now: pack again after preparing `acts` anew (a later call with activations of another
    /// type, size or instruction set is refused, but new values of the same shape cannot be
    /// told apart).
    pub fn pack(&mut self, isa: Isa, acts: &Activations, tokens: &[usize]) -> Result<(), KernelError> {
        check_tokens(acts, tokens)?;
        self.tokens.clear();
        self.tokens.extend_from_slice(tokens);
        let ty = acts.weight_type();
        self.packed_for = Some((isa, ty, acts.n(), acts.cols()));
        #[cfg(target_arch = "x86_64")]
        {
            if super::lanes::format(isa, ty, tokens.len()).is_some() {
                let lanes = self.lanes.get_or_insert_with(Default::default);
                lanes.pack(acts, tokens.len(), |i| tokens[i]);
            } else if let Some(lanes) = &mut self.lanes {
                lanes.n = 0;
            }
        }
        Ok(())
    }

    /// The packed token indices.
    pub fn tokens(&self) -> &[usize] {
        &self.tokens
    }

    /// The lane-packed form, if this list was packed for the token-lane kernels.
    #[cfg(target_arch = "x86_64")]
    fn lanes(&self) -> Option<&super::lanes::LaneActs> {
        self.lanes.as_ref().filter(|l| l.n == self.tokens.len() && l.n > 0)
    }
}

/// [`matmul_gather_block_on`] with the token list packed beforehand by [`PackedTokens::pack`]
/// from the same `acts` (same results, bit for bit).
pub fn matmul_packed_block_on(
    isa: Isa,
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    acts: &Activations,
    packed: &PackedTokens,
    y: &mut [f32],
) -> Result<(), KernelError> {
    if packed.packed_for != Some((isa, acts.weight_type(), acts.n(), acts.cols())) && !packed.tokens.is_empty() {
        return Err(KernelError::ActivationMismatch { prepared: acts.weight_type(), ty });
    }
    check_tokens(acts, &packed.tokens)?;
    #[cfg(target_arch = "x86_64")]
    let prepacked = packed.lanes();
    #[cfg(not(target_arch = "x86_64"))]
    let prepacked = None;
    run(isa, ty, w, rows, acts, Tokens::Listed(&packed.tokens), prepacked, y, Threads::Caller)
}

/// Activations already packed for the token-lane kernels, if the caller has them.
#[cfg(target_arch = "x86_64")]
type Prepacked<'a> = Option<&'a super::lanes::LaneActs>;
#[cfg(not(target_arch = "x86_64"))]
type Prepacked<'a> = Option<&'a ()>;

/// Fails unless every token index is a prepared activation row.
fn check_tokens(acts: &Activations, tokens: &[usize]) -> Result<(), KernelError> {
    match tokens.iter().find(|&&t| t >= acts.n()) {
        Some(&index) => Err(KernelError::TokenIndex { index, n: acts.n() }),
        None => Ok(()),
    }
}

/// Which activation rows produce the output rows.
#[derive(Clone, Copy)]
enum Tokens<'a> {
    /// Output row i is activation row i.
    All(usize),
    /// Output row i is activation row `list[i]` (checked `< n`).
    Listed(&'a [usize]),
}

impl Tokens<'_> {
    fn len(self) -> usize {
        match self {
            Tokens::All(n) => n,
            Tokens::Listed(list) => list.len(),
        }
    }

    #[inline]
    fn get(self, i: usize) -> usize {
        match self {
            Tokens::All(_) => i,
            Tokens::Listed(list) => list[i],
        }
    }
}

/// Where a batched call runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Threads {
    /// Row blocks in parallel on the current rayon pool.
    Pool,
    /// Everything on the calling thread.
    Caller,
}

/// Shared checks and dispatch of the batched entry points.
#[allow(clippy::too_many_arguments)]
fn run(
    isa: Isa,
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    acts: &Activations,
    tokens: Tokens<'_>,
    prepacked: Prepacked<'_>,
    y: &mut [f32],
    threads: Threads,
) -> Result<(), KernelError> {
    let cols = acts.cols();
    let row_bytes = check_weights(ty, w, rows, cols)?;
    // Weight types sharing an activation format (Q4_0 and Q8_0, say) can share activations.
    if ActKind::for_weight(ty)? != acts.kind() && acts.n() > 0 {
        return Err(KernelError::ActivationMismatch { prepared: acts.weight_type(), ty });
    }
    let n = tokens.len();
    let expected = rows.checked_mul(n).ok_or(KernelError::Overflow { what: "output" })?;
    if y.len() != expected {
        return Err(KernelError::Length { what: "output (tokens * rows)", expected, got: y.len() });
    }
    if expected == 0 {
        return Ok(());
    }
    let kernels = Kernels::new(isa, ty)?;
    if row_bytes == 0 {
        y.fill(0.0);
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(fmt) = super::lanes::format(isa, ty, n) {
        run_lanes(&fmt, w, row_bytes, rows, acts, tokens, prepacked, y, threads);
        return Ok(());
    }
    match threads {
        Threads::Pool if n == 1 => run_single(kernels.one, w, row_bytes, acts, tokens.get(0), y),
        Threads::Pool => run_batch(kernels, w, row_bytes, rows, acts, tokens, y),
        Threads::Caller => {
            let out = SharedOut { ptr: y.as_mut_ptr(), len: y.len() };
            // SAFETY: `y` is exactly `n * rows` long, borrowed mutably here (no other access),
            // and every token index was checked against `acts.n()` by the caller.
            unsafe { run_block(kernels, w, row_bytes, acts, tokens, out, rows, 0) };
        }
    }
    Ok(())
}

/// One token: contiguous row ranges per task.
fn run_single(kernel: RowKernel, w: &[u8], row_bytes: usize, acts: &Activations, token: usize, y: &mut [f32]) {
    let rows = y.len();
    let chunk = rows.div_ceil(rayon::current_num_threads() * 8).max(MATVEC_MIN_ROWS);
    y.par_chunks_mut(chunk).zip(w.par_chunks(chunk * row_bytes)).for_each(|(yc, wc)| {
        for (yr, wr) in yc.iter_mut().zip(wc.chunks_exact(row_bytes)) {
            *yr = kernel.dot(wr, acts, token);
        }
    });
}

/// The output matrix shared between tasks that write disjoint rows of it.
#[derive(Clone, Copy)]
struct SharedOut {
    ptr: *mut f32,
    len: usize,
}
// SAFETY: tasks write disjoint index sets (each owns a distinct range of weight rows `r`, and
// writes only `y[t * rows + r]` for its own `r`), so no element is accessed by two threads.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// Store `v` at `idx`.
    ///
    /// # Safety
    /// `idx < len`, and no other thread accesses `idx` while the output is shared.
    #[inline]
    unsafe fn write(&self, idx: usize, v: f32) {
        debug_assert!(idx < self.len);
        unsafe { *self.ptr.add(idx) = v };
    }
}

/// A batch: each task owns a block of weight rows and runs every token over it, so the block is
/// fetched from memory once and served from cache for the remaining tokens.
#[allow(clippy::too_many_arguments)]
fn run_batch(
    kernels: Kernels,
    w: &[u8],
    row_bytes: usize,
    rows: usize,
    acts: &Activations,
    tokens: Tokens<'_>,
    y: &mut [f32],
) {
    let out = SharedOut { ptr: y.as_mut_ptr(), len: y.len() };
    // An even count keeps the two-row kernel's pairs whole.
    let block = row_block(rows, 2);
    w.par_chunks(block * row_bytes).enumerate().for_each(|(blk, wc)| {
        // SAFETY: `y` is `tokens.len() * rows` long and outlives the loop; task `blk` alone
        // writes output rows r0..r0 + block (see `SharedOut`).
        unsafe { run_block(kernels, wc, row_bytes, acts, tokens, out, rows, blk * block) };
    });
}

/// A batch on the token-lane kernels ([`super::lanes`]): the activations are packed once per
/// call, then row blocks run as in [`run_batch`] (or all on the calling thread).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn run_lanes(
    fmt: &super::lanes::Format,
    w: &[u8],
    row_bytes: usize,
    rows: usize,
    acts: &Activations,
    tokens: Tokens<'_>,
    prepacked: Prepacked<'_>,
    y: &mut [f32],
    threads: Threads,
) {
    use super::lanes::{run_block, LaneActs};
    let n = tokens.len();
    let cols = acts.cols();
    let out = SharedOut { ptr: y.as_mut_ptr(), len: y.len() };
    match threads {
        Threads::Pool => {
            let run_all = |packed: &mut LaneActs| {
                packed.pack(acts, n, |i| tokens.get(i));
                let packed = &*packed;
                // Whole 4-row panels.
                let block = row_block(rows, 4);
                w.par_chunks(block * row_bytes).enumerate().for_each(|(blk, wc)| {
                    // SAFETY: `fmt` came from `lanes::format` for `ty`, `packed` from `acts`;
                    // task `blk` alone writes rows blk * block.. of `y` (`n * rows` long).
                    unsafe { run_block(fmt, wc, row_bytes, cols, packed, |i, r, v| out.write(i * rows + blk * block + r, v)) };
                });
            };
            // The calling thread's buffer, reused from call to call (a batch's packed copy is
            // as large as its activations); a fresh one if a call nested in this one holds it.
            POOL_LANE_ACTS.with(|cell| match cell.try_borrow_mut() {
                Ok(mut packed) => run_all(&mut packed),
                Err(_) => run_all(&mut LaneActs::default()),
            });
        }
        Threads::Caller if prepacked.is_some() => {
            let packed = prepacked.expect("checked");
            // SAFETY: as above, all on this thread; `packed` was packed from `acts`.
            unsafe { run_block(fmt, w, row_bytes, cols, packed, |i, r, v| out.write(i * rows + r, v)) };
        }
        Threads::Caller => LANE_ACTS.with_borrow_mut(|packed| {
            packed.pack(acts, n, |i| tokens.get(i));
            // SAFETY: as above, all on this thread.
            unsafe { run_block(fmt, w, row_bytes, cols, packed, |i, r, v| out.write(i * rows + r, v)) };
        }),
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// Per thread: the packed activations of the current [`matmul_gather_block_on`] call,
    /// reused so that the many small MoE products do not allocate.
    static LANE_ACTS: std::cell::RefCell<super::lanes::LaneActs> = std::cell::RefCell::new(Default::default());
    /// Per calling thread: the packed activations of the current row-parallel batch.
    static POOL_LANE_ACTS: std::cell::RefCell<super::lanes::LaneActs> = std::cell::RefCell::new(Default::default());
}

/// The kernels of one (instruction set, weight type) pair: one-token, and where they exist the
/// four- and eight-token shapes.
#[derive(Clone, Copy)]
struct Kernels {
    one: RowKernel,
    four: Option<RowKernel4>,
    eight: Option<RowKernel8>,
}

impl Kernels {
    fn new(isa: Isa, ty: GgmlType) -> Result<Self, KernelError> {
        Ok(Kernels { one: row_kernel(isa, ty)?, four: row_kernel4(isa, ty), eight: row_kernel8(isa, ty) })
    }
}

/// Every token of `tokens` against the weight rows `wc` (a whole number of `row_bytes` rows),
/// on the calling thread: writes `out[t * stride + r0 + i]` for token position `t` and block row
/// `i`. The body of both [`run_batch`]'s tasks and [`matmul_gather_block_on`].
///
/// # Safety
/// `(tokens.len() - 1) * stride + r0 + wc.len() / row_bytes <= out.len`, and no other thread
/// accesses those elements while this runs. `acts` matches the kernels' type and width, and
/// every token index is `< acts.n()`.
#[allow(clippy::too_many_arguments)]
unsafe fn run_block(
    kernels: Kernels,
    wc: &[u8],
    row_bytes: usize,
    acts: &Activations,
    tokens: Tokens<'_>,
    out: SharedOut,
    stride: usize,
    r0: usize,
) {
    let n = tokens.len();
    let block_rows = wc.len() / row_bytes;
    let mut t_done = 0;
    if let Some(k8) = kernels.eight {
        // Eight tokens at a time, all rows of the block per group: the group's activations
        // (8 x 3.5 KB at width 2816) stay in L1 while the block's rows stream from L2.
        SCALES.with_borrow_mut(|table| {
            while t_done < n {
                let t = t_done;
                let valid = (n - t).min(8);
                if !pad_to_eight(valid) {
                    break;
                }
                // A short last group repeats its last token; only `valid` results are kept.
                let ts = std::array::from_fn(|k| tokens.get(t + k.min(valid - 1)));
                if k8.needs_scales() {
                    transpose_scales(acts, ts, table);
                }
                for i in (0..block_rows).step_by(RowKernel8::ROWS) {
                    // An odd last row is passed twice; only its first result is kept.
                    let i1 = (i + 1).min(block_rows - 1);
                    let pair = [&wc[i * row_bytes..][..row_bytes], &wc[i1 * row_bytes..][..row_bytes]];
                    let ys = k8.dot8(pair, acts, ts, table);
                    for (j, y_row) in ys.iter().enumerate().take(block_rows - i) {
                        for (k, &v) in y_row.iter().enumerate().take(valid) {
                            // SAFETY: t + k < n and i + j < block_rows (caller's contract).
                            unsafe { out.write((t + k) * stride + r0 + i + j, v) };
                        }
                    }
                }
                t_done += valid;
            }
        });
    }
    for t0 in (t_done..n).step_by(MATMUL_TOKEN_TILE) {
        let t1 = (t0 + MATMUL_TOKEN_TILE).min(n);
        for (i, wr) in wc.chunks_exact(row_bytes).enumerate() {
            let r = r0 + i;
            let mut t = t0;
            if let Some(k4) = kernels.four {
                while t + 4 <= t1 {
                    let ts = std::array::from_fn(|k| tokens.get(t + k));
                    for (k, v) in k4.dot4(wr, acts, ts).into_iter().enumerate() {
                        // SAFETY: as above.
                        unsafe { out.write((t + k) * stride + r, v) };
                    }
                    t += 4;
                }
            }
            for t in t..t1 {
                // SAFETY: as above.
                unsafe { out.write(t * stride + r, kernels.one.dot(wr, acts, tokens.get(t))) };
            }
        }
    }
}

/// Whether a group of `valid` tokens (1..=8) runs on the eight-token kernel, padded by
/// repeating its last token. Every kernel shape gives the same bits per token (tested), so this
/// is a speed choice only: the eight-token kernel costs about as much as two four-token calls or
/// two to three one-token calls, so a tail of 3, 5, 6 or 7 tokens is cheaper padded; 1, 2 and 4
/// are cheaper on the smaller kernels. MoE expert batches (≈ 16 tokens, rarely a multiple of 8)
/// and short batches take this path.
#[inline]
fn pad_to_eight(valid: usize) -> bool {
    matches!(valid, 3 | 5..=8)
}

thread_local! {
    /// Per worker thread: the transposed scale table of the current eight-token group (see
    /// `RowKernel8`), kept between calls so that a batch does not allocate.
    static SCALES: std::cell::RefCell<Vec<Scales8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Dot product of one weight row (`w_row`: one row of type `ty`, `x.len()` values) with `x`.
pub fn dot_row(ty: GgmlType, w_row: &[u8], x: &[f32]) -> Result<f32, KernelError> {
    dot_row_on(Isa::detected(), ty, w_row, x)
}

/// [`dot_row`] on an explicit instruction set.
pub fn dot_row_on(isa: Isa, ty: GgmlType, w_row: &[u8], x: &[f32]) -> Result<f32, KernelError> {
    let mut y = [0.0f32];
    matvec_on(isa, ty, w_row, 1, x.len(), x, &mut y)?;
    Ok(y[0])
}
