//! WGSL of the unrolled tiled product (`shaders/matmul_tiled_unrolled.wgsl`): the host writes
//! out the per-thread loops of the tile (8 rows × TJ tokens of accumulators, the 32 decoded
//! values of a chunk) as straight-line code on named scalars, so the module indexes no
//! per-thread array with a loop variable.

use std::fmt::Write;

const TEMPLATE: &str = include_str!("shaders/matmul_tiled_unrolled.wgsl");

/// The unrolled tiled kernel body for `tj` tokens per thread (the decoder is prepended by the
/// caller).
pub(crate) fn unrolled_tiled(tj: u32) -> String {
    let mut decls = String::new();
    let mut store = String::new();
    let mut zero = String::new();
    let mut step = String::new();
    let mut output = String::new();
    for i in 0..8 {
        for j in 0..tj {
            let _ = writeln!(decls, "    var c{i}_{j} = 0.0;");
        }
    }
    for k in 0..32 {
        let _ = writeln!(store, "            ws[{k}u * BM + li] = d[{k}];");
        let _ = writeln!(zero, "            ws[{k}u * BM + li] = 0.0;");
    }
    for i in 0..8 {
        let _ = writeln!(step, "            let a{i} = ws[k * BM + tr + {}u];", 8 * i);
    }
    for j in 0..tj {
        let _ = writeln!(step, "            let t{j} = tt + {}u;", 8 * j);
        let _ = writeln!(step, "            let b{j} = xs[t{j} * 32u + (k ^ (t{j} & 31u))];");
    }
    for i in 0..8 {
        for j in 0..tj {
            let _ = writeln!(step, "            c{i}_{j} = fma(a{i}, b{j}, c{i}_{j});");
        }
    }
    for i in 0..8 {
        for j in 0..tj {
            let _ = writeln!(output, "    put(it, r0, tr + {}u, tt + {}u, c{i}_{j});", 8 * i, 8 * j);
        }
    }
    let body = TEMPLATE
        .replace("//@DECLS\n", &decls)
        .replace("//@STORE\n", &store)
        .replace("//@ZERO\n", &zero)
        .replace("//@STEP\n", &step)
        .replace("//@OUTPUT\n", &output);
    format!("const TJ: u32 = {tj}u;\n{body}")
}
