//! `dgemma devices`: the GPU adapters wgpu sees (Vulkan, Metal), with type, limits and
//! features; the index is what `--device` style options pass to the wgpu backend.

use anyhow::bail;
use dgemma_backend_wgpu::{available_adapters, AdapterDesc, GpuApi};

/// Graphics API filter.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Api {
    /// Every API this platform has.
    Auto,
    /// Vulkan only.
    Vulkan,
    /// Metal only.
    Metal,
}

#[derive(clap::Args)]
pub struct Args {
    /// Which API's adapters to list.
    #[arg(long, value_enum, default_value = "auto")]
    pub api: Api,
    /// Print a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn json(a: &AdapterDesc) -> serde_json::Value {
    serde_json::json!({
        "index": a.index,
        "name": a.name,
        "backend": a.backend,
        "type": a.kind.to_string(),
        "driver": a.driver,
        "max_storage_buffer_binding_size": a.max_storage_binding,
        "max_buffer_size": a.max_buffer,
        "max_compute_workgroup_storage_size": a.max_workgroup_storage,
        "max_compute_invocations_per_workgroup": a.max_invocations,
        "shader_f16": a.shader_f16,
        "subgroups": a.subgroups.map(|(lo, hi)| serde_json::json!({ "min_size": lo, "max_size": hi })),
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let api = match args.api {
        Api::Auto => GpuApi::Auto,
        Api::Vulkan => GpuApi::Vulkan,
        Api::Metal => GpuApi::Metal,
    };
    let adapters = available_adapters(api);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&adapters.iter().map(json).collect::<Vec<_>>())?);
        return Ok(());
    }
    if adapters.is_empty() {
        bail!("no {api:?} GPU adapter found; on Linux install a Vulkan driver (e.g. `apt-get install mesa-vulkan-drivers libvulkan1`)");
    }
    for a in &adapters {
        println!("#{} {} ({}, {})", a.index, a.name, a.backend, a.kind);
        println!("    driver:            {}", a.driver);
        println!("    max storage bind:  {}", mib(a.max_storage_binding));
        println!("    max buffer:        {}", mib(a.max_buffer));
        println!("    workgroup memory:  {} KiB, {} invocations", a.max_workgroup_storage / 1024, a.max_invocations);
        println!("    shader f16:        {}", if a.shader_f16 { "yes" } else { "no" });
        match a.subgroups {
            Some((lo, hi)) => println!("    subgroups:         yes (size {lo}..{hi})"),
            None => println!("    subgroups:         no"),
        }
        if a.kind == dgemma_backend_wgpu::DeviceKind::Cpu {
            println!("    note:              software implementation (runs on the CPU; for testing)");
        }
    }
    Ok(())
}
