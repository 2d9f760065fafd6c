// Entry point of a one-workgroup-per-row kernel (subgroup reductions).
@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_id) sid: u32,
    @builtin(num_subgroups) nsg: u32,
    @builtin(subgroup_invocation_id) sinv: u32,
) {
    sg_id = sid;
    sg_count = nsg;
    sg_inv = sinv;
    body(wg.y * nwg.x + wg.x, li);
}
