//! `dgemma bench --kernel TYPE:ROWSxCOLS:N[,N..]`: time one backend `matmul` (`y = x · Wᵀ`,
//! `W [ROWS, COLS]` of TYPE, `x [N, COLS]` f32) the way the model calls it — activation
//! quantization, threading and all — so the numbers line up with ggml's `test-backend-ops perf`
//! MUL_MAT cases (`ne = [ROWS, N]`, `src0 = TYPE [COLS, ROWS]`, `src1 = f32 [COLS, N]`) run with
//! the same thread count.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dgemma_backend::{Backend, WeightShape, WeightSource};
use dgemma_quant::GgmlType;
use serde_json::json;

/// One `--kernel` argument: a weight type and shape, and the batch sizes to time it at.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelSpec {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub batches: Vec<usize>,
}

/// Parse `q8_0:4096x2816:1,16,256` (type names as ggml spells them, case-insensitive).
pub fn parse_spec(s: &str) -> Result<KernelSpec> {
    let parts: Vec<&str> = s.split(':').collect();
    let [ty, shape, batches] = parts[..] else { bail!("--kernel {s}: expected TYPE:ROWSxCOLS:N[,N..]") };
    let ty = GgmlType::ALL
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(ty))
        .with_context(|| format!("--kernel {s}: unknown type '{ty}'"))?;
    let (rows, cols) = shape.split_once('x').with_context(|| format!("--kernel {s}: shape '{shape}' is not ROWSxCOLS"))?;
    let num = |v: &str, what: &str| -> Result<usize> {
        match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("--kernel {s}: {what} '{v}' is not a positive integer"),
        }
    };
    let (rows, cols) = (num(rows, "rows")?, num(cols, "cols")?);
    if cols % ty.block_size() != 0 {
        bail!("--kernel {s}: {cols} columns are not whole {} blocks of {}", ty.name(), ty.block_size());
    }
    let batches = batches.split(',').map(|b| num(b, "batch")).collect::<Result<Vec<_>>>()?;
    Ok(KernelSpec { ty, rows, cols, batches })
}

/// Deterministic pseudo-random values in [-1, 1).
fn fill_random(out: &mut [f32], seed: u64) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for v in out {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *v = (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
    }
}

/// Weight bytes of `spec`: a block of up to 256 random rows quantized once and repeated, so a
/// 262,144-row head needs no 3 GB f32 source; the matrix is still far larger than the caches
/// whenever the real one is.
fn weight_bytes(spec: &KernelSpec) -> Result<Vec<u8>> {
    let row_bytes = spec.ty.row_bytes(spec.cols).context("row bytes")?;
    let tile_rows = spec.rows.min(256);
    let mut src = vec![0f32; tile_rows * spec.cols];
    fill_random(&mut src, 7);
    let mut tile = vec![0u8; tile_rows * row_bytes];
    dgemma_quant::quantize(spec.ty, &src, &mut tile).with_context(|| format!("quantizing a {} tile", spec.ty.name()))?;
    let mut bytes = Vec::with_capacity(spec.rows * row_bytes);
    while bytes.len() < spec.rows * row_bytes {
        let take = (spec.rows * row_bytes - bytes.len()).min(tile.len());
        bytes.extend_from_slice(&tile[..take]);
    }
    Ok(bytes)
}

/// Timing of one (spec, batch) case.
struct Case {
    ty: GgmlType,
    rows: usize,
    cols: usize,
    n: usize,
    /// Per-call times, one per timed call.
    samples: Vec<Duration>,
}

impl Case {
    fn min_median_us(&self) -> (f64, f64) {
        let mut v: Vec<f64> = self.samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    }
}

/// Time every case: one warm-up call, then calls until `min_reps` are done and at least
/// `min_time` has passed.
fn time_cases<B: Backend>(backend: &B, specs: &[KernelSpec], min_reps: usize, min_time: Duration) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for spec in specs {
        let bytes = weight_bytes(spec)?;
        let shape = WeightShape { rows: spec.rows, cols: spec.cols, experts: 1 };
        let w = backend.upload_weight(WeightSource { name: "bench", ty: spec.ty, shape, data: &bytes })?;
        let n_max = *spec.batches.iter().max().unwrap_or(&1);
        let mut host = vec![0f32; n_max * spec.cols];
        fill_random(&mut host, 11);
        let mut x = backend.alloc(n_max * spec.cols);
        backend.write(&mut x, 0, &host);
        let mut y = backend.alloc(n_max * spec.rows);
        // A one-value read-back after each call, so an asynchronous (GPU) backend is timed to
        // completion; on the CPU it is a 4-byte copy.
        let mut one = [0f32; 1];
        for &n in &spec.batches {
            backend.matmul(&w, &x, n, &mut y);
            backend.read(&y, 0, &mut one);
            let (mut samples, start) = (Vec::new(), Instant::now());
            while samples.len() < min_reps || start.elapsed() < min_time {
                let t0 = Instant::now();
                backend.matmul(&w, &x, n, &mut y);
                backend.read(&y, 0, &mut one);
                samples.push(t0.elapsed());
            }
            cases.push(Case { ty: spec.ty, rows: spec.rows, cols: spec.cols, n, samples });
        }
    }
    Ok(cases)
}

/// Run the `--kernel` cases and print a table or JSON.
pub fn run<B: Backend>(backend: &B, specs: &[KernelSpec], min_reps: usize, json_out: bool) -> Result<()> {
    let cases = time_cases(backend, specs, min_reps, Duration::from_millis(500))?;
    let threads = backend.threads();
    if json_out {
        let rows: Vec<_> = cases
            .iter()
            .map(|c| {
                let (min, median) = c.min_median_us();
                let flop = 2.0 * (c.rows * c.cols * c.n) as f64;
                json!({"type": c.ty.name(), "rows": c.rows, "cols": c.cols, "n": c.n, "calls": c.samples.len(),
                       "us_min": min, "us_median": median, "gflops_median": flop / median / 1e3})
            })
            .collect();
        let doc = json!({"backend": backend.name(), "threads": threads, "kernels": rows});
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("| type | rows x cols | n | calls | min us | median us | GFLOP/s (median) |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        for c in &cases {
            let (min, median) = c.min_median_us();
            let gflops = 2.0 * (c.rows * c.cols * c.n) as f64 / median / 1e3;
            println!("| {} | {}x{} | {} | {} | {min:.1} | {median:.1} | {gflops:.1} |", c.ty.name(), c.rows, c.cols, c.n, c.samples.len());
        }
        println!("\nbackend {} threads {threads}", backend.name());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_and_refuses_bad_ones() {
        let s = parse_spec("Q8_0:4096x2816:1,16,256").unwrap();
        assert_eq!(s, KernelSpec { ty: GgmlType::Q8_0, rows: 4096, cols: 2816, batches: vec![1, 16, 256] });
        assert_eq!(parse_spec("q4_k:704x2816:1").unwrap().ty, GgmlType::Q4_K);
        for bad in ["q8_0:4096x2816", "q9_0:1x32:1", "q8_0:4096:1", "q8_0:0x32:1", "q4_K:2816x704:1", "q8_0:1x32:1,x"] {
            assert!(parse_spec(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn weight_bytes_repeat_the_tile_to_the_full_size() {
        let spec = parse_spec("q8_0:300x64:1").unwrap();
        let b = weight_bytes(&spec).unwrap();
        let row = GgmlType::Q8_0.row_bytes(64).unwrap();
        assert_eq!(b.len(), 300 * row);
        assert_eq!(&b[256 * row..300 * row], &b[..44 * row]);
    }
}
