//! llama.cpp's random stream: `std::mt19937` feeding libstdc++'s (g++ 12)
//! `uniform_int_distribution<int32_t>` and `uniform_real_distribution<float>(0, 1)`.
//!
//! Reproducing libstdc++'s distribution algorithms (not just the engine) is what makes the
//! same seed give the same canvas and draws in dgemma and llama.cpp.

/// A source of the two kinds of draws the diffusion sampler makes.
pub trait Rng {
    /// A token uniformly distributed over `[0, vocab)`.
    fn token(&mut self, vocab: u32) -> u32;
    /// A float uniformly distributed over `[0, 1)` (the inverse-CDF sampling draw).
    fn uniform(&mut self) -> f32;
}

const N: usize = 624;
const M: usize = 397;

/// The 32-bit Mersenne Twister exactly as `std::mt19937`.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    index: usize,
}

impl Mt19937 {
    /// `std::mt19937 rng(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, index: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % N] & 0x7fff_ffff);
            let mut v = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    /// The next 32-bit output (`rng()`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// libstdc++ `uniform_int_distribution<int32_t>(0, range - 1)` for `range >= 1`.
    ///
    /// The engine's range is exactly 2^32, so g++ 11 and later take the "nearly divisionless"
    /// branch (Lemire 2019, `_S_nd` with a 64-bit product) rather than the older
    /// scale-and-reject loop; the two agree only for power-of-two ranges, and
    /// ../shared/interop/reference/rng.json (V = 1000) confirms this branch for g++ 12.2.
    pub fn uniform_below(&mut self, range: u32) -> u32 {
        debug_assert!(range >= 1);
        let mut product = self.next_u32() as u64 * range as u64;
        let mut low = product as u32;
        if low < range {
            let threshold = range.wrapping_neg() % range;
            while low < threshold {
                product = self.next_u32() as u64 * range as u64;
                low = product as u32;
            }
        }
        (product >> 32) as u32
    }

    /// libstdc++ `generate_canonical<float, 24>`: one engine call (24 bits need one 32-bit
    /// word), converted to float (rounding to nearest), divided by 2^32; a result that
    /// rounded up to 1.0 is replaced by the largest float below 1 (the LWG 2524 fix).
    /// `uniform_real_distribution<float>(0, 1)` returns it unchanged (`r * (1 - 0) + 0`).
    pub fn canonical_f32(&mut self) -> f32 {
        let r = self.next_u32() as f32 / 4_294_967_296.0f32;
        if r >= 1.0 {
            f32::from_bits(0x3f7f_ffff)
        } else {
            r
        }
    }
}

/// llama.cpp's diffusion random stream: one seeded [`Mt19937`] with libstdc++'s distributions.
#[derive(Clone)]
pub struct LlamaRng {
    engine: Mt19937,
}

impl LlamaRng {
    /// llama.cpp's default sampling seed (`LLAMA_DEFAULT_SEED`).
    pub const DEFAULT_SEED: u32 = 0xFFFF_FFFF;

    /// Seeds the stream like `std::mt19937 rng(seed)`.
    pub fn new(seed: u32) -> Self {
        LlamaRng { engine: Mt19937::new(seed) }
    }
}

impl Rng for LlamaRng {
    fn token(&mut self, vocab: u32) -> u32 {
        self.engine.uniform_below(vocab)
    }
    fn uniform(&mut self) -> f32 {
        self.engine.canonical_f32()
    }
}

/// Fills the initial canvas: one token draw per position, in position order.
pub fn draw_initial_canvas(rng: &mut impl Rng, vocab: u32, canvas: &mut [u32]) {
    for t in canvas {
        *t = rng.token(vocab);
    }
}

/// One step's draws: for each position in order, the sampling float and then the re-noise
/// token (drawn even for positions that end up accepted, as llama.cpp does).
pub fn draw_step(rng: &mut impl Rng, vocab: u32, uniforms: &mut [f32], noise: &mut [u32]) {
    for (u, t) in uniforms.iter_mut().zip(noise.iter_mut()) {
        *u = rng.uniform();
        *t = rng.token(vocab);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_standard_10000th_output() {
        // C++11 [rand.predef]: the 10000th invocation of a default-constructed mt19937
        // (seed 5489) produces 4123659995.
        let mut mt = Mt19937::new(5489);
        for _ in 0..9999 {
            mt.next_u32();
        }
        assert_eq!(mt.next_u32(), 4_123_659_995);
    }

    #[test]
    fn canonical_is_below_one_even_for_max_word() {
        // 0xFFFFFFFF rounds to 2^32 as a float: the result must be clamped below 1.
        let r = (u32::MAX as f32) / 4_294_967_296.0f32;
        assert_eq!(r, 1.0);
        let mut mt = Mt19937::new(0);
        for _ in 0..100_000 {
            let u = mt.canonical_f32();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn uniform_below_stays_in_range() {
        let mut mt = Mt19937::new(7);
        for range in [1u32, 2, 3, 1000, 262_144, 262_145, u32::MAX] {
            for _ in 0..1000 {
                assert!(mt.uniform_below(range) < range);
            }
        }
    }
}
