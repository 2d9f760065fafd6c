// Entry point of a one-workgroup-per-row kernel (portable reductions).
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    body(wg.y * nwg.x + wg.x, li);
}
