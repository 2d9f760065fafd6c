//! A GPU backend over wgpu (Vulkan, Metal): f32 activations in storage buffers, weights uploaded
//! once as the GGUF bytes and decoded inside the WGSL kernels (F32, F16, BF16, Q8_0, Q4_0, Q5_0,
//! Q5_1, Q4_K, Q5_K, Q6_K). Design notes, tolerances and what was verified where:
//! docs/gpu.md.
//!
//! Every op records its dispatches and submits them at once; `read` waits for the device, so
//! the model graph (crates/model) runs unchanged over this backend.

mod attention;
mod buffer;
mod device;
mod kernels;
mod matmul;
mod moe;
mod ops;
mod recorder;
mod tiled_source;
mod weight;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dgemma_backend::{AttnGeometry, Backend, BackendError, KvSegment, Mask, MoeRoute, WeightShape, WeightSource};
use dgemma_quant::GgmlType;

pub use buffer::WgpuBuffer;
pub use device::{available_adapters, AdapterDesc, DeviceKind, GpuApi, WgpuError, WgpuOptions};
pub use kernels::{shader_sources, WEIGHT_TYPES};
pub use weight::WgpuWeight;

use recorder::Recorder;

/// A wgpu device with its queue, pipelines and reusable transfer buffers.
pub struct WgpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    desc: AdapterDesc,
    limits: wgpu::Limits,
    /// Largest weight buffer part, bytes.
    part_limit: u64,
    /// Bytes of weights the device may hold ([`WgpuOptions::max_weight_bytes`]).
    weight_budget: Option<u64>,
    pipelines: kernels::PipelineCache,
    uploads: Mutex<recorder::Uploads>,
    transfer: Mutex<buffer::Transfer>,
    moe_scratch: Mutex<moe::MoeScratch>,
    /// Bound where an op has no optional input (rms_norm without weight).
    dummy: WgpuBuffer,
    /// Device bytes of the live weights (each [`WgpuWeight`] subtracts its own on drop).
    uploaded: Arc<AtomicU64>,
    /// Row reductions use subgroup operations.
    subgroups: bool,
    /// Not [`WgpuOptions::no_unrolled_tiles`].
    unrolled_tiles: bool,
}

impl WgpuBackend {
    /// Open an adapter (see [`WgpuOptions`]); fails with a clear error when none is usable.
    pub fn new(options: &WgpuOptions) -> Result<Self, WgpuError> {
        let opened = device::open(options)?;
        let subgroups = opened.desc.subgroups.is_some() && !options.no_subgroups;
        let binding = (opened.limits.max_storage_buffer_binding_size as u64).min(opened.limits.max_buffer_size);
        let part_limit = options.max_weight_part_bytes.map_or(binding, |b| b.min(binding));
        let dummy = WgpuBuffer {
            buf: opened.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("dgemma dummy"),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            }),
            len: 4,
        };
        Ok(Self {
            device: opened.device,
            queue: opened.queue,
            desc: opened.desc,
            limits: opened.limits,
            part_limit,
            weight_budget: options.max_weight_bytes,
            pipelines: Default::default(),
            uploads: recorder::Uploads::new(),
            transfer: buffer::Transfer::new(),
            moe_scratch: moe::MoeScratch::new(),
            dummy,
            uploaded: Arc::new(AtomicU64::new(0)),
            subgroups,
            unrolled_tiles: !options.no_unrolled_tiles,
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterDesc {
        &self.desc
    }

    /// Whether the row reductions (rms_norm, softmax) run with subgroup operations.
    pub fn uses_subgroups(&self) -> bool {
        self.subgroups
    }

    /// Device bytes of the weights currently uploaded (padding included).
    pub fn uploaded_bytes(&self) -> u64 {
        self.uploaded.load(Ordering::Relaxed)
    }

    /// Run `f` on a fresh recorder and submit what it recorded.
    fn run(&self, f: impl FnOnce(&mut Recorder<'_>)) {
        let mut rec = Recorder::new(self);
        f(&mut rec);
        rec.submit();
    }
}

impl Backend for WgpuBackend {
    type Buffer = WgpuBuffer;
    type Weight<'a> = WgpuWeight;

    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn threads(&self) -> usize {
        0
    }

    fn alloc(&self, len: usize) -> WgpuBuffer {
        self.alloc_buffer(len)
    }

    fn write(&self, buf: &mut WgpuBuffer, offset: usize, data: &[f32]) {
        self.write_buffer(buf, offset, data);
    }

    fn read(&self, buf: &WgpuBuffer, offset: usize, out: &mut [f32]) {
        self.read_buffer(buf, offset, out);
    }

    fn copy(&self, src: &WgpuBuffer, src_off: usize, dst: &mut WgpuBuffer, dst_off: usize, n: usize) {
        self.copy_buffer(src, src_off, dst, dst_off, n);
    }

    fn copy_within(&self, buf: &mut WgpuBuffer, src_off: usize, dst_off: usize, n: usize) {
        self.copy_inside(buf, src_off, dst_off, n);
    }

    fn supports(&self, ty: GgmlType) -> bool {
        kernels::supported(ty)
    }

    fn upload_weight<'a>(&self, src: WeightSource<'a>) -> Result<WgpuWeight, BackendError> {
        self.upload(src)
    }

    fn weight_shape(&self, w: &WgpuWeight) -> WeightShape {
        w.shape
    }

    fn get_rows(&self, w: &WgpuWeight, ids: &[u32], scale: f32, out: &mut WgpuBuffer) {
        self.run(|r| matmul::get_rows(r, w, ids, scale, out));
    }

    fn matmul(&self, w: &WgpuWeight, x: &WgpuBuffer, n: usize, y: &mut WgpuBuffer) {
        self.run(|r| matmul::matmul(r, w, x, n, y));
    }

    fn matmul_transposed(&self, w: &WgpuWeight, x: &WgpuBuffer, n: usize, y: &mut WgpuBuffer) {
        self.run(|r| matmul::matmul_transposed(r, w, x, n, y));
    }

    fn rms_norm(&self, x: &mut WgpuBuffer, groups: usize, width: usize, weight: Option<&WgpuBuffer>, eps: f32) {
        self.run(|r| ops::rms_norm(r, x, groups, width, weight, eps, &self.dummy, self.subgroups));
    }

    fn rope(&self, x: &mut WgpuBuffer, rows: usize, heads: usize, head_dim: usize, pos0: usize, freqs: &WgpuBuffer) {
        self.run(|r| ops::rope(r, x, rows, heads, head_dim, pos0, freqs));
    }

    fn attention(
        &self,
        q: &WgpuBuffer,
        geo: AttnGeometry,
        cache: KvSegment<'_, WgpuBuffer>,
        new: KvSegment<'_, WgpuBuffer>,
        mask: Mask,
        out: &mut WgpuBuffer,
    ) {
        self.run(|r| attention::attention(r, q, geo, cache, new, mask, out));
    }

    fn gelu_mul(&self, gate: &mut WgpuBuffer, up: &WgpuBuffer, n: usize) {
        self.run(|r| ops::gelu_mul(r, gate, up, n));
    }

    fn moe(&self, gate_up: &WgpuWeight, down: &WgpuWeight, x: &WgpuBuffer, route: &MoeRoute, out: &mut WgpuBuffer) {
        let mut s = self.moe_scratch.lock().unwrap_or_else(|p| p.into_inner());
        self.run(|r| moe::moe(self, r, gate_up, down, x, route, out, &mut s));
    }

    fn add(&self, dst: &mut WgpuBuffer, src: &WgpuBuffer, n: usize) {
        self.run(|r| ops::add(r, dst, src, n));
    }

    fn scale(&self, x: &mut WgpuBuffer, s: f32, n: usize) {
        self.run(|r| ops::scale(r, x, s, n));
    }

    fn softcap(&self, x: &mut WgpuBuffer, cap: f32, n: usize) {
        self.run(|r| ops::softcap(r, x, cap, n));
    }

    fn softmax(&self, x: &WgpuBuffer, out: &mut WgpuBuffer, rows: usize, width: usize) {
        self.run(|r| ops::softmax(r, x, out, rows, width, self.subgroups));
    }
}
