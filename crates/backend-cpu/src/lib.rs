//! The CPU backend: f32 activations in `Vec<f32>`, weights borrowed from the memory-mapped GGUF,
//! a rayon thread pool owned by the backend (`-t` threads).
//!
//! Every op is deterministic for a given input regardless of the thread count: each output
//! element is produced by one task with a fixed summation order.

mod attention;
mod elementwise;
mod fast_math;
mod math;
mod matmul;
mod moe;
mod transposed;
mod weight;

use std::sync::Mutex;

use dgemma_backend::{AttnGeometry, Backend, BackendError, KvSegment, Mask, MoeRoute, WeightShape, WeightSource};
use dgemma_quant::GgmlType;

pub use weight::CpuWeight;

/// Errors creating a CPU backend.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// The rayon pool could not be built.
    #[error("cannot start {threads} CPU threads: {source}")]
    ThreadPool { threads: usize, source: rayon::ThreadPoolBuildError },
}

/// A CPU backend with its own thread pool.
pub struct CpuBackend {
    pool: rayon::ThreadPool,
    moe_scratch: Mutex<moe::MoeScratch>,
    /// Quantized activations of the last matmul, reused so steady-state calls do not allocate.
    acts: Mutex<dgemma_quant::kernels::Activations>,
    /// Opt-in: the soft embedding with bfloat16 operands ([`CpuBackend::set_bf16_soft_embedding`]).
    bf16_soft_embedding: std::sync::atomic::AtomicBool,
}

impl CpuBackend {
    /// A backend running on `threads` threads (0 = one per available core).
    pub fn new(threads: usize) -> Result<Self, CpuError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("dgemma-cpu-{i}"))
            .build()
            .map_err(|source| CpuError::ThreadPool { threads, source })?;
        Ok(Self {
            pool,
            moe_scratch: Mutex::new(moe::MoeScratch::default()),
            acts: Mutex::new(Default::default()),
            bf16_soft_embedding: Default::default(),
        })
    }

    /// Opt-in (off by default): compute the soft embedding (`matmul_transposed`, model.md §7)
    /// with bfloat16 operands, twice the products per instruction, where the CPU has AVX-512
    /// BF16. The probabilities and the decoded embedding values are rounded to 8 significant
    /// bits (the products are summed in f32 and f64 as in the exact kernels); how much that
    /// changes the denoiser's output cannot be judged without trained weights (docs/perf.md).
    /// Returns whether this CPU runs it; where it does not, the exact kernels stay in use.
    pub fn set_bf16_soft_embedding(&self, on: bool) -> bool {
        let supported = transposed::bf16_available();
        self.bf16_soft_embedding.store(on && supported, std::sync::atomic::Ordering::Relaxed);
        supported
    }
}

impl Backend for CpuBackend {
    type Buffer = Vec<f32>;
    type Weight<'a> = CpuWeight<'a>;

    fn name(&self) -> &'static str {
        "cpu"
    }

    fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn alloc(&self, len: usize) -> Vec<f32> {
        vec![0.0; len]
    }

    fn write(&self, buf: &mut Vec<f32>, offset: usize, data: &[f32]) {
        self.pool.install(|| elementwise::copy(data, &mut buf[offset..offset + data.len()]));
    }

    fn read(&self, buf: &Vec<f32>, offset: usize, out: &mut [f32]) {
        self.pool.install(|| elementwise::copy(&buf[offset..offset + out.len()], out));
    }

    fn copy(&self, src: &Vec<f32>, src_off: usize, dst: &mut Vec<f32>, dst_off: usize, n: usize) {
        dst[dst_off..dst_off + n].copy_from_slice(&src[src_off..src_off + n]);
    }

    fn copy_within(&self, buf: &mut Vec<f32>, src_off: usize, dst_off: usize, n: usize) {
        buf.copy_within(src_off..src_off + n, dst_off);
    }

    fn supports(&self, ty: GgmlType) -> bool {
        weight::supported(ty)
    }

    fn upload_weight<'a>(&self, src: WeightSource<'a>) -> Result<CpuWeight<'a>, BackendError> {
        CpuWeight::new(src)
    }

    fn weight_shape(&self, w: &CpuWeight<'_>) -> WeightShape {
        w.shape
    }

    fn get_rows(&self, w: &CpuWeight<'_>, ids: &[u32], scale: f32, out: &mut Vec<f32>) {
        self.pool.install(|| matmul::get_rows(w, ids, scale, out));
    }

    fn matmul(&self, w: &CpuWeight<'_>, x: &Vec<f32>, n: usize, y: &mut Vec<f32>) {
        let mut acts = self.acts.lock().unwrap_or_else(|p| p.into_inner());
        let acts: &mut dgemma_quant::kernels::Activations = &mut acts;
        self.pool.install(|| matmul::matmul(w, x, n, y, acts));
    }

    fn matmul_transposed(&self, w: &CpuWeight<'_>, x: &Vec<f32>, n: usize, y: &mut Vec<f32>) {
        let bf16 = self.bf16_soft_embedding.load(std::sync::atomic::Ordering::Relaxed);
        self.pool.install(|| transposed::matmul_transposed(w, x, n, y, bf16));
    }

    fn rms_norm(&self, x: &mut Vec<f32>, groups: usize, width: usize, weight: Option<&Vec<f32>>, eps: f32) {
        self.pool.install(|| elementwise::rms_norm(x, groups, width, weight.map(|w| &w[..width]), eps));
    }

    fn rope(&self, x: &mut Vec<f32>, rows: usize, heads: usize, head_dim: usize, pos0: usize, freqs: &Vec<f32>) {
        self.pool.install(|| elementwise::rope(x, rows, heads, head_dim, pos0, freqs));
    }

    fn attention(
        &self,
        q: &Vec<f32>,
        geo: AttnGeometry,
        cache: KvSegment<'_, Vec<f32>>,
        new: KvSegment<'_, Vec<f32>>,
        mask: Mask,
        out: &mut Vec<f32>,
    ) {
        self.pool.install(|| attention::attention(q, geo, cache, new, mask, out));
    }

    fn gelu_mul(&self, gate: &mut Vec<f32>, up: &Vec<f32>, n: usize) {
        self.pool.install(|| elementwise::gelu_mul(gate, up, n));
    }

    fn moe(&self, gate_up: &CpuWeight<'_>, down: &CpuWeight<'_>, x: &Vec<f32>, route: &MoeRoute, out: &mut Vec<f32>) {
        // A poisoned lock only means an earlier call panicked; the scratch is plain buffers.
        let mut scratch = self.moe_scratch.lock().unwrap_or_else(|p| p.into_inner());
        let scratch: &mut moe::MoeScratch = &mut scratch;
        self.pool.install(|| moe::moe(gate_up, down, x, route, out, scratch));
    }

    fn add(&self, dst: &mut Vec<f32>, src: &Vec<f32>, n: usize) {
        self.pool.install(|| elementwise::add(dst, src, n));
    }

    fn scale(&self, x: &mut Vec<f32>, s: f32, n: usize) {
        self.pool.install(|| elementwise::scale(x, s, n));
    }

    fn softcap(&self, x: &mut Vec<f32>, cap: f32, n: usize) {
        self.pool.install(|| elementwise::softcap(x, cap, n));
    }

    fn softmax(&self, x: &Vec<f32>, out: &mut Vec<f32>, rows: usize, width: usize) {
        self.pool.install(|| elementwise::softmax(x, out, rows, width));
    }
}
