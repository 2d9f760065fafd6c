//! Recording a batch of kernel dispatches and submitting them at once.
//!
//! Each dispatch gets a 256-byte slot of one uniform buffer for its parameters, and small
//! integer lists (ids, expert rows) go to one shared storage buffer; both are written with
//! `queue.write_buffer`, which wgpu orders after every earlier submission and before this one,
//! so reusing the same two buffers for every op is safe.

use std::num::NonZeroU64;
use std::sync::Mutex;

use crate::kernels::Kernel;
use crate::WgpuBackend;

/// Bytes per parameter slot (≥ every device's `min_uniform_buffer_offset_alignment`).
const SLOT: usize = 256;

/// A binding of a dispatch (bindings are numbered from 1; 0 is the parameters).
pub(crate) enum Bind<'a> {
    /// A device buffer, whole.
    Buf(&'a wgpu::Buffer),
    /// The integer list buffer of this batch.
    Aux,
    /// A binding number the entry point does not use (pipelines get their layout from the
    /// entry point, which leaves out unused bindings).
    Skip,
}

enum Owned {
    Buf(wgpu::Buffer),
    Aux,
    Skip,
}

struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    params_at: u64,
    binds: Vec<Owned>,
    groups: [u32; 3],
}

/// Reusable uniform and list buffers (grown, never shrunk).
pub(crate) struct Uploads {
    params: Option<wgpu::Buffer>,
    aux: Option<wgpu::Buffer>,
}

impl Uploads {
    pub(crate) fn new() -> Mutex<Self> {
        Mutex::new(Self { params: None, aux: None })
    }
}

fn ensure(device: &wgpu::Device, slot: &mut Option<wgpu::Buffer>, bytes: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    if slot.as_ref().is_none_or(|b| b.size() < bytes) {
        let size = bytes.next_power_of_two().max(1024);
        *slot = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dgemma uploads"),
            size,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }));
    }
    slot.clone().expect("just ensured")
}

/// Dispatches of one op, submitted together by [`Recorder::submit`].
pub(crate) struct Recorder<'b> {
    be: &'b WgpuBackend,
    params: Vec<u8>,
    aux: Vec<u32>,
    items: Vec<Dispatch>,
}

impl<'b> Recorder<'b> {
    pub(crate) fn new(be: &'b WgpuBackend) -> Self {
        Self { be, params: Vec::new(), aux: Vec::new(), items: Vec::new() }
    }

    /// Append `data` to the integer list buffer; returns its offset in words.
    pub(crate) fn aux(&mut self, data: &[u32]) -> u32 {
        let at = self.aux.len() as u32;
        self.aux.extend_from_slice(data);
        at
    }

    /// Whether tiled products use the unrolled kernel (not [`crate::WgpuOptions::no_unrolled_tiles`]).
    pub(crate) fn unrolled_tiles(&self) -> bool {
        self.be.unrolled_tiles
    }

    /// Queue `k` over `groups` workgroups with parameter words `params` (u32 or f32 bits).
    pub(crate) fn dispatch(&mut self, k: Kernel, params: &[u32], binds: &[Bind<'_>], groups: [u32; 3]) {
        if groups.contains(&0) {
            return;
        }
        let max = self.be.limits.max_compute_workgroups_per_dimension;
        assert!(groups.iter().all(|&g| g <= max), "{k:?}: grid {groups:?} exceeds the device's {max} workgroups per dimension");
        let params_at = self.params.len() as u64;
        assert!(params.len() * 4 <= SLOT);
        for p in params {
            self.params.extend_from_slice(&p.to_le_bytes());
        }
        self.params.resize(params_at as usize + SLOT, 0);
        let binds = binds
            .iter()
            .map(|b| match b {
                Bind::Buf(b) => Owned::Buf((*b).clone()),
                Bind::Aux => Owned::Aux,
                Bind::Skip => Owned::Skip,
            })
            .collect();
        let pipeline = self.be.pipelines.get(&self.be.device, k);
        self.items.push(Dispatch { pipeline, params_at, binds, groups });
    }

    /// Upload parameters and lists, encode every dispatch and submit.
    pub(crate) fn submit(self) {
        if self.items.is_empty() {
            return;
        }
        let be = self.be;
        let mut up = be.uploads.lock().unwrap_or_else(|p| p.into_inner());
        let params = ensure(&be.device, &mut up.params, self.params.len() as u64, wgpu::BufferUsages::UNIFORM);
        be.queue.write_buffer(&params, 0, &self.params);
        let aux = if self.aux.is_empty() {
            None
        } else {
            let aux = ensure(&be.device, &mut up.aux, self.aux.len() as u64 * 4, wgpu::BufferUsages::STORAGE);
            be.queue.write_buffer(&aux, 0, bytemuck::cast_slice(&self.aux));
            Some(aux)
        };
        let mut enc = be.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("dgemma op") });
        for d in &self.items {
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &params,
                    offset: d.params_at,
                    size: NonZeroU64::new(SLOT as u64),
                }),
            }];
            for (i, b) in d.binds.iter().enumerate() {
                let buf = match b {
                    Owned::Buf(b) => b,
                    Owned::Aux => aux.as_ref().expect("Bind::Aux used without Recorder::aux data"),
                    Owned::Skip => continue,
                };
                entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: buf.as_entire_binding() });
            }
            let bg = be.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &d.pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
            pass.set_pipeline(&d.pipeline);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
        }
        be.queue.submit([enc.finish()]);
    }
}

/// A 2-D grid of `groups` workgroups (more than 65535 do not fit one dimension); kernels
/// linearise it as `wg.y · num_workgroups.x + wg.x`.
pub(crate) fn grid(groups: usize) -> [u32; 3] {
    let gx = groups.min(65535);
    if gx == 0 {
        return [0, 1, 1];
    }
    [gx as u32, groups.div_ceil(gx) as u32, 1]
}

/// f32 parameter word.
#[inline]
pub(crate) fn f(v: f32) -> u32 {
    v.to_bits()
}

/// usize parameter word; activations and weights are bounded far below 2³² elements by the
/// binding size limits checked at allocation.
#[inline]
pub(crate) fn u(v: usize) -> u32 {
    u32::try_from(v).expect("parameter exceeds u32")
}
