//! WGSL of the tiled product (`shaders/matmul_tiled.wgsl`, a template): the host sets the tokens
//! per thread and fills in the per-thread part of the tile (8 rows × TJ tokens of accumulators,
//! the 32 decoded values of a chunk), either written out as straight-line code on named scalars
//! (`unrolled`, the default, so the module indexes no per-thread array with a loop variable) or
//! as loops over per-thread arrays. Both sum every output in the same order.

use std::fmt::Write;

const TEMPLATE: &str = include_str!("shaders/matmul_tiled.wgsl");

/// The per-thread code of the looped kernel, one fill per `//@` marker.
const LOOPED_DECLS: &str = "    var acc: array<array<f32, TJ>, 8>;\n";
const LOOPED_STORE: &str = "            for (var k = 0u; k < 32u; k++) {\n                ws[k * BM + li] = d[k];\n            }\n";
const LOOPED_ZERO: &str = "            for (var k = 0u; k < 32u; k++) {\n                ws[k * BM + li] = 0.0;\n            }\n";
const LOOPED_STEP: &str = "            var a: array<f32, 8>;
            for (var i = 0u; i < 8u; i++) {
                a[i] = ws[k * BM + tr + 8u * i];
            }
            for (var j = 0u; j < TJ; j++) {
                let t = tt + 8u * j;
                let b = xs[t * 32u + (k ^ (t & 31u))];
                for (var i = 0u; i < 8u; i++) {
                    acc[i][j] = fma(a[i], b, acc[i][j]);
                }
            }
";
const LOOPED_OUTPUT: &str = "    for (var j = 0u; j < TJ; j++) {
        for (var i = 0u; i < 8u; i++) {
            put(it, r0, tr + 8u * i, tt + 8u * j, acc[i][j]);
        }
    }
";

/// The tiled kernel body for `tj` tokens per thread, unrolled or looped (the decoder is
/// prepended by the caller).
pub(crate) fn tiled(tj: u32, unrolled: bool) -> String {
    let fills = if unrolled {
        unrolled_fills(tj)
    } else {
        [LOOPED_DECLS, LOOPED_STORE, LOOPED_ZERO, LOOPED_STEP, LOOPED_OUTPUT].map(String::from)
    };
    let [decls, store, zero, step, output] = fills;
    let body = TEMPLATE
        .replace("//@DECLS\n", &decls)
        .replace("//@STORE\n", &store)
        .replace("//@ZERO\n", &zero)
        .replace("//@STEP\n", &step)
        .replace("//@OUTPUT\n", &output);
    format!("const TJ: u32 = {tj}u;\n{body}")
}

/// The per-thread code written out on named scalars: declarations, chunk store, zero chunk,
/// one k step, output.
fn unrolled_fills(tj: u32) -> [String; 5] {
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
    [decls, store, zero, step, output]
}
