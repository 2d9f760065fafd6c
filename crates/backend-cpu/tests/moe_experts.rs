//! The CPU backend's MoE (flat (expert, row block) scheduling over activations quantized once)
//! against a straightforward f64 reference: per (row, pick), decode the expert's weights, dense
//! gate/up, GELU(gate)·up, down, weighted sum. Block weight types run on 8-bit activations, so
//! they match within the quantization tolerance; every type must give the same bits for any
//! thread count and for repeated calls on one backend (reused scratch).

use dgemma_backend::{Backend, MoeRoute, WeightShape, WeightSource};
use dgemma_backend_cpu::CpuBackend;
use dgemma_quant::GgmlType;
use dgemma_test_support::values;

/// One MoE layer: `e` experts, width `h`, intermediate `i`, weights stored as `gu_ty` / `down_ty`.
struct Layer {
    gu_ty: GgmlType,
    down_ty: GgmlType,
    e: usize,
    h: usize,
    i: usize,
    /// Stored bytes and their decoded values (what the reference multiplies with).
    gu: (Vec<u8>, Vec<f32>),
    down: (Vec<u8>, Vec<f32>),
}

/// `rows · cols` values stored as `ty`, with the values the stored bytes decode to.
fn stored(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let v: Vec<f32> = values(rows * cols, seed).iter().map(|x| x * 0.2).collect();
    let mut bytes = vec![0u8; ty.row_bytes(cols).unwrap() * rows];
    dgemma_quant::quantize(ty, &v, &mut bytes).unwrap();
    let mut back = vec![0f32; rows * cols];
    dgemma_quant::dequantize(ty, &bytes, &mut back).unwrap();
    (bytes, back)
}

impl Layer {
    fn new(gu_ty: GgmlType, down_ty: GgmlType, e: usize, h: usize, i: usize) -> Self {
        let gu = stored(gu_ty, e * 2 * i, h, 31);
        let down = stored(down_ty, e * h, i, 32);
        Layer { gu_ty, down_ty, e, h, i, gu, down }
    }

    fn run(&self, b: &CpuBackend, x: &[f32], route: &MoeRoute) -> Vec<f32> {
        let (e, h, i) = (self.e, self.h, self.i);
        let src = |name, ty, rows, cols, data| WeightSource { name, ty, shape: WeightShape { rows, cols, experts: e }, data };
        let wgu = b.upload_weight(src("gate_up", self.gu_ty, 2 * i, h, &self.gu.0)).unwrap();
        let wd = b.upload_weight(src("down", self.down_ty, h, i, &self.down.0)).unwrap();
        let mut out = b.alloc(route.rows * h);
        b.moe(&wgu, &wd, &x.to_vec(), route, &mut out);
        out
    }

    /// The exact result (f64) and per element the magnitude `Σ_j w_j Σ_c |Wd[o, c] · a_c|`
    /// that the activation rounding is relative to.
    fn reference(&self, x: &[f32], route: &MoeRoute) -> (Vec<f64>, Vec<f64>) {
        let (h, i) = (self.h, self.i);
        let gelu = |v: f64| 0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh());
        let mut want = vec![0f64; route.rows * h];
        let mut mag = vec![0f64; route.rows * h];
        for r in 0..route.rows {
            let xr = &x[r * h..(r + 1) * h];
            for j in 0..route.k {
                let ex = route.expert(r, j);
                let w_gu = &self.gu.1[ex * 2 * i * h..(ex + 1) * 2 * i * h];
                let dot = |row: &[f32]| row.iter().zip(xr).map(|(&a, &b)| a as f64 * b as f64).sum::<f64>();
                let a: Vec<f64> = (0..i).map(|o| gelu(dot(&w_gu[o * h..(o + 1) * h])) * dot(&w_gu[(i + o) * h..(i + o + 1) * h])).collect();
                let w_d = &self.down.1[ex * h * i..(ex + 1) * h * i];
                let wgt = route.weight(r, j) as f64;
                for o in 0..h {
                    let row = &w_d[o * i..(o + 1) * i];
                    want[r * h + o] += wgt * row.iter().zip(&a).map(|(&w, &v)| w as f64 * v).sum::<f64>();
                    mag[r * h + o] += wgt.abs() * row.iter().zip(&a).map(|(&w, &v)| (w as f64 * v).abs()).sum::<f64>();
                }
            }
        }
        (want, mag)
    }
}

/// `rows` rows routed to `k` distinct experts each; expert 0 takes every third row (a group
/// longer than the 8- and 32-token tiles), the last expert none.
fn route(rows: usize, k: usize, e: usize, seed: u64) -> MoeRoute {
    let noise = values(rows * k * 2, seed);
    let mut route = MoeRoute { rows, k, n_experts: e, experts: vec![], weights: vec![] };
    for r in 0..rows {
        let mut picked: Vec<u32> = Vec::new();
        if r % 3 == 0 {
            picked.push(0);
        }
        let mut s = r * k;
        while picked.len() < k {
            let cand = ((noise[s % noise.len()] + 1.0) * 0.5 * (e - 1) as f32) as u32 % (e as u32 - 1);
            if !picked.contains(&cand) {
                picked.push(cand);
            }
            s += 1;
            if s > r * k + 64 {
                // Fall back to the first unused experts (the noise repeated itself).
                let next = (0..e as u32 - 1).find(|c| !picked.contains(c)).unwrap();
                picked.push(next);
            }
        }
        for (j, &ex) in picked.iter().enumerate() {
            route.experts.push(ex);
            route.weights.push(0.2 + 0.5 * (noise[(r * k + j + rows) % noise.len()] + 1.0) * 0.5);
        }
    }
    route
}

/// Checks `layer` against the reference with relative tolerance `rel` (of the magnitude),
/// and 1 vs 2 vs 3 threads bit for bit. Returns the largest error / magnitude seen.
fn check(layer: &Layer, rows: usize, k: usize, rel: f64) -> f64 {
    let x = values(rows * layer.h, 40);
    let rt = route(rows, k, layer.e, 41);
    assert!(rt.experts.iter().all(|&ex| (ex as usize) < layer.e - 1), "the last expert stays unused");
    let out = layer.run(&CpuBackend::new(2).unwrap(), &x, &rt);
    let (want, mag) = layer.reference(&x, &rt);
    let mut worst = 0f64;
    for (idx, ((&got, &w), &m)) in out.iter().zip(&want).zip(&mag).enumerate() {
        let err = (got as f64 - w).abs();
        assert!(err <= rel * m + 1e-6, "{}/{} element {idx}: got {got}, want {w}, magnitude {m}", layer.gu_ty, layer.down_ty);
        worst = worst.max(err / m.max(1e-30));
    }
    for threads in [1, 3] {
        let again = layer.run(&CpuBackend::new(threads).unwrap(), &x, &rt);
        assert!(out.iter().zip(&again).all(|(a, b)| a.to_bits() == b.to_bits()), "{}/{}: {threads} threads vs 2", layer.gu_ty, layer.down_ty);
    }
    eprintln!("{}/{}: largest error / magnitude {worst:.2e} (allowed {rel:.0e})", layer.gu_ty, layer.down_ty);
    worst
}

// Tolerances: for block types both products see 8-bit activations (step amax(block) / 127 each,
// so every value is off by at most amax / 254 — a few times 1/254 of the magnitude once amax
// exceeds the typical value); 3 % of the magnitude covers both stages with margin while a wrong
// expert, weight or missing GELU is off by about 100 %. Float weights see f32 activations, so
// only f32 accumulation remains.
const BLOCK_REL: f64 = 0.03;
const FLOAT_REL: f64 = 1e-4;

#[test]
fn q8_0_experts_match_the_reference() {
    let worst = check(&Layer::new(GgmlType::Q8_0, GgmlType::Q8_0, 9, 320, 160), 37, 3, BLOCK_REL);
    assert!(worst > 0.0, "8-bit activations must leave some rounding");
}

#[test]
fn q4_k_gate_up_with_q5_0_down_match_the_reference() {
    // Q4_K_M's layout: the 704-wide down projection is not a whole number of 256-blocks.
    check(&Layer::new(GgmlType::Q4_K, GgmlType::Q5_0, 7, 512, 96), 29, 4, BLOCK_REL);
}

#[test]
fn q6_k_experts_match_the_reference() {
    check(&Layer::new(GgmlType::Q6_K, GgmlType::Q6_K, 6, 512, 256), 21, 2, BLOCK_REL);
}

#[test]
fn bf16_and_f32_experts_match_the_reference() {
    check(&Layer::new(GgmlType::BF16, GgmlType::BF16, 8, 80, 72), 33, 3, FLOAT_REL);
    check(&Layer::new(GgmlType::F32, GgmlType::F32, 5, 48, 136), 17, 2, FLOAT_REL);
}

#[test]
fn repeated_calls_reuse_scratch_without_stale_results() {
    let layer = Layer::new(GgmlType::Q8_0, GgmlType::Q8_0, 9, 320, 160);
    let b = CpuBackend::new(2).unwrap();
    // A large call, then a smaller one with another route, then the large one again.
    let (x1, r1) = (values(40 * 320, 50), route(40, 4, 9, 51));
    let (x2, r2) = (values(5 * 320, 52), route(5, 2, 9, 53));
    let first = layer.run(&b, &x1, &r1);
    let small = layer.run(&b, &x2, &r2);
    assert_eq!(small, layer.run(&CpuBackend::new(2).unwrap(), &x2, &r2), "small call after a large one");
    assert_eq!(first, layer.run(&b, &x1, &r1), "large call after a small one");
    // One row (the single-token kernels).
    let (x3, r3) = (values(320, 54), route(1, 3, 9, 55));
    assert_eq!(layer.run(&b, &x3, &r3), layer.run(&CpuBackend::new(1).unwrap(), &x3, &r3));
}
