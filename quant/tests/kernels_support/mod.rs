//! Shared pieces of the kernel tests: a seeded generator, valid random weight rows, and the
//! f32 values of a row (through the crate's reference dequantizer) for the exact reference.

use dgemma_quant::blocks::f32_to_f16;
use dgemma_quant::GgmlType;

/// splitmix64: tiny, seeded, good enough to fill test buffers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// `n` activations of the size a transformer sees, with a few outliers per block.
pub fn activations(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v = rng.uniform() * 2.0;
            if i % 97 == 13 { v * 20.0 } else { v }
        })
        .collect()
}

/// Offsets of the f16 scale fields inside one block (random bytes there could be NaN/inf).
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    use GgmlType::*;
    match ty {
        Q4_0 | Q5_0 | Q8_0 => &[0],
        Q4_1 | Q5_1 | Q4_K | Q5_K => &[0, 2],
        Q6_K => &[208],
        _ => &[],
    }
}

/// `rows` valid rows of `cols` values of type `ty`: random quant bits, sane finite scales.
pub fn weights(rng: &mut Rng, ty: GgmlType, rows: usize, cols: usize) -> Vec<u8> {
    let count = rows * cols;
    match ty {
        GgmlType::F32 => (0..count).flat_map(|_| (rng.uniform() * 0.1).to_le_bytes()).collect(),
        GgmlType::F16 => {
            (0..count).flat_map(|_| f32_to_f16(rng.uniform() * 0.1).to_le_bytes()).collect()
        }
        GgmlType::BF16 => (0..count)
            .flat_map(|_| (((rng.uniform() * 0.1).to_bits() >> 16) as u16).to_le_bytes())
            .collect(),
        _ => {
            let size = ty.type_size();
            let mut w = rng.bytes(count / ty.block_size() * size);
            for block in w.chunks_exact_mut(size) {
                for &off in f16_fields(ty) {
                    let scale = 0.001 + 0.01 * (rng.uniform() + 1.0);
                    block[off..off + 2].copy_from_slice(&f32_to_f16(scale).to_le_bytes());
                }
            }
            w
        }
    }
}

/// Every value of weight row `w` of type `ty`, via `dgemma_quant::dequantize`.
pub fn decode_row(ty: GgmlType, w: &[u8]) -> Vec<f32> {
    let n = w.len() / ty.type_size() * ty.block_size();
    let mut out = vec![0.0; n];
    dgemma_quant::dequantize(ty, w, &mut out).expect("dequantize a valid row");
    out
}
