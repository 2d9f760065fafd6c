//! WGSL sources and the compiled pipelines, built on first use and cached.
//!
//! Kernels that read weights are composed from three pieces: the byte helpers, the weight
//! type's `dq_chunk` (decode 32 values of a row) and the kernel body; so each weight type gets
//! its own specialised pipeline and no dequantized copy of a weight ever exists.

use std::collections::HashMap;
use std::sync::Mutex;

use dgemma_quant::GgmlType;

const BYTES: &str = include_str!("shaders/bytes.wgsl");
const REDUCE: &str = include_str!("shaders/reduce.wgsl");
const REDUCE_SG: &str = include_str!("shaders/reduce_subgroup.wgsl");
const ENTRY_ROW: &str = include_str!("shaders/entry_row.wgsl");
const ENTRY_ROW_SG: &str = include_str!("shaders/entry_row_subgroup.wgsl");
const KSCALE: &str = include_str!("shaders/decode/kscale.wgsl");

/// A compute kernel: which WGSL module and entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    /// `y = x Wᵀ` for one weight type, one thread per weight row.
    Matmul(GgmlType),
    /// `y = x Wᵀ` for few tokens (a row's columns split over 32 threads), one weight type.
    MatmulRows(GgmlType),
    /// `y = x Wᵀ` over a list of (rows × tokens) work items in 64-row tiles, one weight type,
    /// tokens per thread (2, 4 or 8) and loop (false) or host-unrolled (true) register tile.
    MatmulTiled(GgmlType, u32, bool),
    /// `y = x W` for one weight type.
    MatmulT(GgmlType),
    /// Row gather for one weight type.
    GetRows(GgmlType),
    Add,
    GeluMul,
    Scale,
    Softcap,
    /// `subgroups`: reductions with subgroup operations (device has `SUBGROUP`).
    RmsNorm { subgroups: bool },
    /// `subgroups`: as for `RmsNorm`.
    Softmax { subgroups: bool },
    Rope,
    Attention,
    MoeGather,
    MoeGeluSplit,
    MoeScatter,
    MoeSumSlots,
}

/// Weight types with a `dq_chunk` decoder.
pub const WEIGHT_TYPES: [GgmlType; 10] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

fn decoder(ty: GgmlType) -> Option<String> {
    let body = match ty {
        GgmlType::F32 => include_str!("shaders/decode/f32.wgsl"),
        GgmlType::F16 => include_str!("shaders/decode/f16.wgsl"),
        GgmlType::BF16 => include_str!("shaders/decode/bf16.wgsl"),
        GgmlType::Q8_0 => include_str!("shaders/decode/q8_0.wgsl"),
        GgmlType::Q4_0 => include_str!("shaders/decode/q4_0.wgsl"),
        GgmlType::Q5_0 => include_str!("shaders/decode/q5_0.wgsl"),
        GgmlType::Q5_1 => include_str!("shaders/decode/q5_1.wgsl"),
        GgmlType::Q4_K => return Some(format!("{KSCALE}\n{}", include_str!("shaders/decode/q4_k.wgsl"))),
        GgmlType::Q5_K => return Some(format!("{KSCALE}\n{}", include_str!("shaders/decode/q5_k.wgsl"))),
        GgmlType::Q6_K => include_str!("shaders/decode/q6_k.wgsl"),
        _ => return None,
    };
    Some(body.to_string())
}

/// A one-workgroup-per-row kernel (`body(row, li)`) with portable or subgroup reductions.
fn per_row(body: &str, subgroups: bool) -> String {
    if subgroups {
        // naga 26 accepts subgroup builtins without `enable subgroups;` (and rejects the
        // directive); the device feature `SUBGROUP` gates them.
        format!("{REDUCE_SG}\n{body}\n{ENTRY_ROW_SG}")
    } else {
        format!("{REDUCE}\n{body}\n{ENTRY_ROW}")
    }
}

/// Whether the kernels can read weights of this type.
pub(crate) fn supported(ty: GgmlType) -> bool {
    WEIGHT_TYPES.contains(&ty)
}

impl Kernel {
    /// The full WGSL module and the entry point.
    pub(crate) fn source(self) -> (String, &'static str) {
        let weighted = |ty: GgmlType, body: &str| {
            let dec = decoder(ty).expect("kernel requested for a supported weight type");
            format!("{BYTES}\n{dec}\n{body}")
        };
        let elementwise = include_str!("shaders/elementwise.wgsl");
        let moe = include_str!("shaders/moe.wgsl");
        match self {
            Kernel::Matmul(ty) => (weighted(ty, include_str!("shaders/matmul.wgsl")), "main"),
            Kernel::MatmulRows(ty) => (weighted(ty, include_str!("shaders/matmul_rows.wgsl")), "main"),
            Kernel::MatmulTiled(ty, tj, unrolled) => (weighted(ty, &crate::tiled_source::tiled(tj, unrolled)), "main"),
            Kernel::MatmulT(ty) => (weighted(ty, include_str!("shaders/matmul_t.wgsl")), "main"),
            Kernel::GetRows(ty) => (weighted(ty, include_str!("shaders/get_rows.wgsl")), "main"),
            Kernel::Add => (elementwise.into(), "add"),
            Kernel::GeluMul => (elementwise.into(), "gelu_mul"),
            Kernel::Scale => (elementwise.into(), "scale"),
            Kernel::Softcap => (elementwise.into(), "softcap"),
            Kernel::RmsNorm { subgroups } => (per_row(include_str!("shaders/rms_norm.wgsl"), subgroups), "main"),
            Kernel::Softmax { subgroups } => (per_row(include_str!("shaders/softmax.wgsl"), subgroups), "main"),
            Kernel::Rope => (include_str!("shaders/rope.wgsl").into(), "main"),
            Kernel::Attention => (include_str!("shaders/attention.wgsl").into(), "main"),
            Kernel::MoeGather => (moe.into(), "gather"),
            Kernel::MoeGeluSplit => (moe.into(), "gelu_split"),
            Kernel::MoeScatter => (moe.into(), "scatter"),
            Kernel::MoeSumSlots => (moe.into(), "sum_slots"),
        }
    }

    /// Every kernel the backend can build (for the shader translation tests).
    pub(crate) fn all() -> Vec<Kernel> {
        let mut v = Vec::new();
        for ty in WEIGHT_TYPES {
            v.extend([Kernel::Matmul(ty), Kernel::MatmulRows(ty), Kernel::MatmulT(ty), Kernel::GetRows(ty)]);
            for unrolled in [false, true] {
                v.extend([2, 4, 8].map(|tj| Kernel::MatmulTiled(ty, tj, unrolled)));
            }
        }
        v.extend([
            Kernel::Add,
            Kernel::GeluMul,
            Kernel::Scale,
            Kernel::Softcap,
            Kernel::RmsNorm { subgroups: false },
            Kernel::RmsNorm { subgroups: true },
            Kernel::Softmax { subgroups: false },
            Kernel::Softmax { subgroups: true },
            Kernel::Rope,
            Kernel::Attention,
            Kernel::MoeGather,
            Kernel::MoeGeluSplit,
            Kernel::MoeScatter,
            Kernel::MoeSumSlots,
        ]);
        v
    }
}

/// Every WGSL module with its entry point and a name, for validation and translation tests.
pub fn shader_sources() -> Vec<(String, String, &'static str)> {
    Kernel::all()
        .into_iter()
        .map(|k| {
            let (src, entry) = k.source();
            (format!("{k:?}"), src, entry)
        })
        .collect()
}

/// Pipelines built so far.
#[derive(Default)]
pub(crate) struct PipelineCache {
    map: Mutex<HashMap<Kernel, wgpu::ComputePipeline>>,
}

impl PipelineCache {
    /// The pipeline of `k`, compiling it on first use.
    pub(crate) fn get(&self, device: &wgpu::Device, k: Kernel) -> wgpu::ComputePipeline {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(k)
            .or_insert_with(|| {
                let (src, entry) = k.source();
                let label = format!("{k:?}");
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(src.into()),
                });
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .clone()
    }
}
