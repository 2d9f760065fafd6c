//! Activation buffers: storage buffers of f32, written through the queue and read back through
//! a reused mappable staging buffer.

use std::sync::Mutex;

use crate::WgpuBackend;

/// A device buffer of f32 activations.
pub struct WgpuBuffer {
    pub(crate) buf: wgpu::Buffer,
    pub(crate) len: usize,
}

impl WgpuBuffer {
    /// Number of f32 it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Reused host-visible buffers for reads and overlapping moves.
#[derive(Default)]
pub(crate) struct Transfer {
    staging: Option<wgpu::Buffer>,
    temp: Option<wgpu::Buffer>,
}

impl Transfer {
    pub(crate) fn new() -> Mutex<Self> {
        Mutex::new(Self::default())
    }
}

fn grown(device: &wgpu::Device, slot: &mut Option<wgpu::Buffer>, bytes: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    if slot.as_ref().is_none_or(|b| b.size() < bytes) {
        *slot = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dgemma transfer"),
            size: bytes.next_power_of_two().max(4096),
            usage,
            mapped_at_creation: false,
        }));
    }
    slot.clone().expect("just ensured")
}

impl WgpuBackend {
    pub(crate) fn alloc_buffer(&self, len: usize) -> WgpuBuffer {
        let bytes = (len.max(1) * 4) as u64;
        let max = (self.limits.max_storage_buffer_binding_size as u64).min(self.limits.max_buffer_size);
        assert!(
            bytes <= max,
            "activation buffer of {len} f32 ({bytes} bytes) exceeds the device's storage binding limit of {max} bytes ({})",
            self.desc.name
        );
        // wgpu zero-initialises new buffers.
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dgemma activations"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        WgpuBuffer { buf, len }
    }

    pub(crate) fn write_buffer(&self, buf: &WgpuBuffer, offset: usize, data: &[f32]) {
        assert!(offset + data.len() <= buf.len, "write: {}+{} past a buffer of {}", offset, data.len(), buf.len);
        if !data.is_empty() {
            self.queue.write_buffer(&buf.buf, offset as u64 * 4, bytemuck::cast_slice(data));
        }
    }

    pub(crate) fn read_buffer(&self, buf: &WgpuBuffer, offset: usize, out: &mut [f32]) {
        assert!(offset + out.len() <= buf.len, "read: {}+{} past a buffer of {}", offset, out.len(), buf.len);
        if out.is_empty() {
            return;
        }
        let bytes = out.len() as u64 * 4;
        let mut t = self.transfer.lock().unwrap_or_else(|p| p.into_inner());
        let staging =
            grown(&self.device, &mut t.staging, bytes, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&buf.buf, offset as u64 * 4, &staging, 0, bytes);
        self.queue.submit([enc.finish()]);
        let slice = staging.slice(..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::Wait).expect("device lost while waiting for a read");
        rx.recv().expect("map callback ran").expect("mapping the staging buffer failed");
        out.copy_from_slice(bytemuck::cast_slice(&slice.get_mapped_range()));
        staging.unmap();
    }

    pub(crate) fn copy_buffer(&self, src: &WgpuBuffer, src_off: usize, dst: &WgpuBuffer, dst_off: usize, n: usize) {
        assert!(src_off + n <= src.len && dst_off + n <= dst.len, "copy: range past a buffer");
        if n == 0 {
            return;
        }
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&src.buf, src_off as u64 * 4, &dst.buf, dst_off as u64 * 4, n as u64 * 4);
        self.queue.submit([enc.finish()]);
    }

    /// Same-buffer copies are not allowed by WebGPU, so overlapping moves go through a
    /// reused temporary buffer.
    pub(crate) fn copy_inside(&self, buf: &WgpuBuffer, src_off: usize, dst_off: usize, n: usize) {
        assert!(src_off + n <= buf.len && dst_off + n <= buf.len, "copy_within: range past the buffer");
        if n == 0 || src_off == dst_off {
            return;
        }
        let bytes = n as u64 * 4;
        let mut t = self.transfer.lock().unwrap_or_else(|p| p.into_inner());
        let temp = grown(&self.device, &mut t.temp, bytes, wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST);
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&buf.buf, src_off as u64 * 4, &temp, 0, bytes);
        enc.copy_buffer_to_buffer(&temp, 0, &buf.buf, dst_off as u64 * 4, bytes);
        self.queue.submit([enc.finish()]);
    }
}
