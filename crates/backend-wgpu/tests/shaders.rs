//! Every WGSL kernel parses and validates with naga (the version wgpu uses) and translates to
//! SPIR-V (Vulkan) and MSL (Metal), so a Metal translation failure shows up on Linux CI.

use dgemma_backend_wgpu::shader_sources;

#[test]
fn every_kernel_validates_and_translates_to_spirv_and_msl() {
    let sources = shader_sources();
    assert!(sources.len() >= 40, "expected every kernel × weight type, got {}", sources.len());
    for (name, src, entry) in &sources {
        let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: WGSL parse error:\n{}", e.emit_to_string(src)));
        assert!(module.entry_points.iter().any(|e| e.name == *entry), "{name}: no entry point `{entry}`");
        let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: validation error:\n{}", e.emit_to_string(src)));
        let spv = naga::back::spv::write_vec(&module, &info, &naga::back::spv::Options::default(), None)
            .unwrap_or_else(|e| panic!("{name}: SPIR-V translation failed: {e}"));
        assert!(spv.len() > 5 && spv[0] == 0x0723_0203, "{name}: not a SPIR-V module");
        let pipeline = naga::back::msl::PipelineOptions::default();
        // MSL 2.4 (macOS 12 / iOS 15): what wgpu asks for on current Apple GPUs; subgroup
        // (simdgroup) reductions need ≥ 2.1.
        let options = naga::back::msl::Options { lang_version: (2, 4), ..Default::default() };
        let (msl, _) = naga::back::msl::write_string(&module, &info, &options, &pipeline)
            .unwrap_or_else(|e| panic!("{name}: MSL translation failed: {e}"));
        assert!(msl.contains("kernel void"), "{name}: MSL has no kernel function");
    }
}
