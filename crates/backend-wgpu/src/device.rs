//! Adapter discovery and device creation: which GPUs exist, which one to use, and the limits and
//! features requested from it.

use std::fmt;

/// Graphics API to look for adapters on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuApi {
    /// Whatever the platform has (Vulkan on Linux/Windows, Metal on macOS).
    #[default]
    Auto,
    /// Vulkan only.
    Vulkan,
    /// Metal only.
    Metal,
}

impl GpuApi {
    pub(crate) fn backends(self) -> wgpu::Backends {
        match self {
            GpuApi::Auto => wgpu::Backends::VULKAN | wgpu::Backends::METAL,
            GpuApi::Vulkan => wgpu::Backends::VULKAN,
            GpuApi::Metal => wgpu::Backends::METAL,
        }
    }
}

/// Options of [`crate::WgpuBackend::new`].
#[derive(Clone, Debug, Default)]
pub struct WgpuOptions {
    /// API to use.
    pub api: GpuApi,
    /// Index into [`available_adapters`]; `None` picks the best (discrete > integrated > virtual
    /// > software).
    pub adapter: Option<usize>,
    /// Accept software rasterizers (Mesa lavapipe/llvmpipe, SwiftShader) when picking
    /// automatically. Always true when `adapter` names one explicitly.
    pub allow_software: bool,
    /// Split weights into buffers of at most this many bytes (default: the device's
    /// `max_storage_buffer_binding_size`). Tests use a tiny value to exercise the split path.
    pub max_weight_part_bytes: Option<u64>,
    /// Refuse weight uploads once the weights on the device would exceed this many bytes
    /// (default: no budget of our own; the driver's out-of-memory errors still apply). Lets a
    /// caller keep memory for activations, and lets tests force the out-of-memory path.
    pub max_weight_bytes: Option<u64>,
    /// Use the portable shared-memory reductions even where subgroups are supported.
    pub no_subgroups: bool,
    /// Run products with more than 8 tokens on the one-row-per-thread kernel and the MoE on the
    /// looped tile, instead of the tiled kernel with host-unrolled register tiles (both are
    /// `matmul_tiled.wgsl` as filled by `tiled_source.rs`). The unrolled tiles are the default
    /// since they were checked on an NVIDIA H200: same generated text, 1.4-1.6x faster per step
    /// on the L2 bench model (docs/gpu.md).
    pub no_unrolled_tiles: bool,
}

/// Errors creating a [`crate::WgpuBackend`].
#[derive(Debug, thiserror::Error)]
pub enum WgpuError {
    /// No adapter for the requested API (or only software ones, not allowed).
    #[error("no {api:?} GPU adapter found ({found} adapter(s) seen{hint}); on Linux install a Vulkan driver (e.g. `mesa-vulkan-drivers libvulkan1`), `dgemma devices` lists what is visible")]
    NoAdapter { api: GpuApi, found: usize, hint: &'static str },
    /// `adapter` index out of range.
    #[error("adapter #{index} does not exist ({count} adapter(s) available, see `dgemma devices`)")]
    BadAdapterIndex { index: usize, count: usize },
    /// The device could not be opened.
    #[error("cannot open adapter `{name}`: {source}")]
    RequestDevice { name: String, source: wgpu::RequestDeviceError },
    /// The adapter lacks a capability every kernel needs.
    #[error("adapter `{name}`: {what} is {got}, dgemma needs at least {need}")]
    Limit { name: String, what: &'static str, got: u64, need: u64 },
}

/// Kind of device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// Discrete GPU.
    Discrete,
    /// Integrated GPU (shares memory with the CPU).
    Integrated,
    /// Virtualised GPU.
    Virtual,
    /// Software implementation running on the CPU (lavapipe, SwiftShader).
    Cpu,
    /// Unknown.
    Other,
}

impl DeviceKind {
    fn from_wgpu(t: wgpu::DeviceType) -> Self {
        match t {
            wgpu::DeviceType::DiscreteGpu => DeviceKind::Discrete,
            wgpu::DeviceType::IntegratedGpu => DeviceKind::Integrated,
            wgpu::DeviceType::VirtualGpu => DeviceKind::Virtual,
            wgpu::DeviceType::Cpu => DeviceKind::Cpu,
            wgpu::DeviceType::Other => DeviceKind::Other,
        }
    }

    /// Preference when picking automatically (higher is better).
    fn rank(self) -> u8 {
        match self {
            DeviceKind::Discrete => 4,
            DeviceKind::Integrated => 3,
            DeviceKind::Virtual => 2,
            DeviceKind::Other => 1,
            DeviceKind::Cpu => 0,
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Discrete => "discrete",
            DeviceKind::Integrated => "integrated",
            DeviceKind::Virtual => "virtual",
            DeviceKind::Cpu => "cpu",
            DeviceKind::Other => "other",
        })
    }
}

/// What `dgemma devices` shows about one adapter.
#[derive(Clone, Debug)]
pub struct AdapterDesc {
    /// Index to pass as [`WgpuOptions::adapter`].
    pub index: usize,
    /// Device name.
    pub name: String,
    /// API (`Vulkan`, `Metal`).
    pub backend: String,
    /// Device type.
    pub kind: DeviceKind,
    /// Driver name and version.
    pub driver: String,
    /// Largest storage buffer one binding can see, bytes.
    pub max_storage_binding: u64,
    /// Largest buffer, bytes.
    pub max_buffer: u64,
    /// Shared memory per workgroup, bytes.
    pub max_workgroup_storage: u32,
    /// Invocations per workgroup.
    pub max_invocations: u32,
    /// `SHADER_F16` (f16 arithmetic in shaders).
    pub shader_f16: bool,
    /// Subgroup operations, with the subgroup size range.
    pub subgroups: Option<(u32, u32)>,
}

fn instance(api: GpuApi) -> wgpu::Instance {
    wgpu::Instance::new(&wgpu::InstanceDescriptor { backends: api.backends(), ..Default::default() })
}

fn describe(index: usize, a: &wgpu::Adapter) -> AdapterDesc {
    let info = a.get_info();
    let limits = a.limits();
    let features = a.features();
    AdapterDesc {
        index,
        name: info.name,
        backend: format!("{:?}", info.backend),
        kind: DeviceKind::from_wgpu(info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        max_storage_binding: limits.max_storage_buffer_binding_size as u64,
        max_buffer: limits.max_buffer_size,
        max_workgroup_storage: limits.max_compute_workgroup_storage_size,
        max_invocations: limits.max_compute_invocations_per_workgroup,
        shader_f16: features.contains(wgpu::Features::SHADER_F16),
        subgroups: features
            .contains(wgpu::Features::SUBGROUP)
            .then_some((limits.min_subgroup_size, limits.max_subgroup_size)),
    }
}

/// Every adapter of `api`, in the order [`WgpuOptions::adapter`] indexes them.
pub fn available_adapters(api: GpuApi) -> Vec<AdapterDesc> {
    instance(api).enumerate_adapters(api.backends()).iter().enumerate().map(|(i, a)| describe(i, a)).collect()
}

/// An opened device.
pub(crate) struct Opened {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) desc: AdapterDesc,
    pub(crate) limits: wgpu::Limits,
}

/// Workgroup storage the kernels need: the tiled matmul's 64 × 32 decoded weights + 64 × 32
/// activations (4096 f32); WebGPU guarantees 16 KiB on every device.
const NEED_WORKGROUP_STORAGE: u64 = 16 * 1024;

pub(crate) fn open(opts: &WgpuOptions) -> Result<Opened, WgpuError> {
    let mut adapters = instance(opts.api).enumerate_adapters(opts.api.backends());
    let found = adapters.len();
    let index = match opts.adapter {
        Some(i) if i >= found => return Err(WgpuError::BadAdapterIndex { index: i, count: found }),
        Some(i) => i,
        None => {
            let best = adapters
                .iter()
                .enumerate()
                .map(|(i, a)| (i, DeviceKind::from_wgpu(a.get_info().device_type)))
                .filter(|(_, k)| opts.allow_software || *k != DeviceKind::Cpu)
                .max_by_key(|(i, k)| (k.rank(), std::cmp::Reverse(*i)));
            match best {
                Some((i, _)) => i,
                None => {
                    let hint = if found > 0 { " (only software adapters; allow them to use one)" } else { "" };
                    return Err(WgpuError::NoAdapter { api: opts.api, found, hint });
                }
            }
        }
    };
    let adapter = adapters.swap_remove(index);
    let desc = describe(index, &adapter);
    let limits = adapter.limits();
    if (limits.max_compute_workgroup_storage_size as u64) < NEED_WORKGROUP_STORAGE {
        return Err(WgpuError::Limit {
            name: desc.name,
            what: "max_compute_workgroup_storage_size",
            got: limits.max_compute_workgroup_storage_size as u64,
            need: NEED_WORKGROUP_STORAGE,
        });
    }
    if limits.max_compute_invocations_per_workgroup < 256 {
        return Err(WgpuError::Limit {
            name: desc.name,
            what: "max_compute_invocations_per_workgroup",
            got: limits.max_compute_invocations_per_workgroup as u64,
            need: 256,
        });
    }
    // Ask for the adapter's real limits (the defaults cap storage bindings at 128 MiB) and the
    // optional features it has.
    let features = adapter.features() & (wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP);
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("dgemma"),
        required_features: features,
        required_limits: limits.clone(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }))
    .map_err(|source| WgpuError::RequestDevice { name: desc.name.clone(), source })?;
    Ok(Opened { device, queue, desc, limits })
}
