//! One batched matmul per (instruction set, weight type), for instruction counts under
//! callgrind (deterministic, unaffected by other processes on a shared machine):
//!
//! ```text
//! cargo bench -p dgemma-quant --bench kernels_callgrind --no-run
//! valgrind --tool=callgrind --toggle-collect='*matmul_prepared_on*' \
//!     target/release/deps/kernels_callgrind-<hash> avx512 q8_0
//! ```
//!
//! Shape: 64 rows x 2816 columns x 256 tokens on one thread; divide the collected `Ir` by the
//! printed number of (256 weights x token) units. Without arguments it runs every available
//! SIMD level and type once (a smoke test of the harness).

use dgemma_quant::kernels::{matmul_prepared_on, Activations, Isa};
use dgemma_quant::GgmlType;

const TYPES: [GgmlType; 8] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];
const ROWS: usize = 64;
const COLS: usize = 2816;
const TOKENS: usize = 256;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let isas: Vec<Isa> = match args.first() {
        Some(name) => vec![Isa::from_name(name).expect("first argument: scalar, avx2, avx512 or neon")],
        None => Isa::ALL.into_iter().filter(|i| i.is_available()).collect(),
    };
    let types: Vec<GgmlType> = match args.get(1) {
        Some(name) => vec![*TYPES.iter().find(|t| t.name().eq_ignore_ascii_case(name)).expect("second argument: a quantized type")],
        None => TYPES.to_vec(),
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let x: Vec<f32> = (0..TOKENS * COLS).map(|_| (next() % 2000) as f32 / 1000.0 - 1.0).collect();
    for ty in types {
        let mut w: Vec<u8> = (0..ty.row_bytes(COLS).unwrap() * ROWS).map(|_| next() as u8).collect();
        // Finite, small binary16 scales where the format keeps them (same fields as the
        // CPU-time bench); the rest stays random.
        let fields: &[usize] = match ty {
            GgmlType::Q6_K => &[208],
            GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q4_1 | GgmlType::Q5_1 => &[0, 2],
            _ => &[0],
        };
        for b in w.chunks_exact_mut(ty.type_size()) {
            for &f in fields {
                b[f..f + 2].copy_from_slice(&0x1400u16.to_le_bytes());
            }
        }
        let acts = Activations::quantize(ty, &x, TOKENS, COLS).expect("activations");
        let mut y = vec![0.0f32; TOKENS * ROWS];
        for &isa in &isas {
            if !isa.is_available() {
                eprintln!("{} is not available on this CPU", isa.name());
                continue;
            }
            pool.install(|| matmul_prepared_on(isa, ty, &w, ROWS, &acts, &mut y)).expect("matmul");
            println!(
                "{}/{}: {} units of 256 weights x token, checksum {}",
                isa.name(),
                ty.name(),
                ROWS * COLS * TOKENS / 256,
                y.iter().map(|v| *v as f64).sum::<f64>()
            );
        }
    }
}
