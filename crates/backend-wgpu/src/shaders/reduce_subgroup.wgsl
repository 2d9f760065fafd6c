// Workgroup reductions over 256 threads with subgroup operations: one subgroupAdd/Max per
// subgroup, then one value per subgroup through shared memory (instead of 8 barrier rounds).
// The entry point stores its subgroup builtins in these private variables first. Callers must
// reach these in uniform control flow. Needs the device feature SUBGROUP.

var<private> sg_id: u32;
var<private> sg_count: u32;
var<private> sg_inv: u32;
var<workgroup> red: array<f32, 256>;

fn reduce_sum(v: f32, li: u32) -> f32 {
    let part = subgroupAdd(v);
    if (sg_inv == 0u) {
        red[sg_id] = part;
    }
    workgroupBarrier();
    var r = 0.0;
    for (var i = 0u; i < sg_count; i++) {
        r += red[i];
    }
    workgroupBarrier();
    return r;
}

fn reduce_max(v: f32, li: u32) -> f32 {
    let part = subgroupMax(v);
    if (sg_inv == 0u) {
        red[sg_id] = part;
    }
    workgroupBarrier();
    var r = red[0];
    for (var i = 1u; i < sg_count; i++) {
        r = max(r, red[i]);
    }
    workgroupBarrier();
    return r;
}
