//! Scalar building blocks shared by the ops: dot products, RMS scale.

/// f32 dot product with eight independent accumulators and a fixed summation order, so the
/// result does not depend on the thread that computes it. Uses AVX2+FMA where the CPU has it
/// (chosen once per process; `mul_add` without hardware FMA would be a slow libm call).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked above).
        return unsafe { dot_fma(a, b) };
    }
    dot_body::<false>(a, b)
}

/// Whether this CPU has AVX2 and FMA (checked once per process).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_fma() -> bool {
    use std::sync::OnceLock;
    static FMA: OnceLock<bool> = OnceLock::new();
    *FMA.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_fma(a: &[f32], b: &[f32]) -> f32 {
    dot_body::<true>(a, b)
}

/// Lanes of independent accumulators: four 8-wide vectors, so consecutive FMAs do not wait on
/// each other's latency.
const LANES: usize = 32;

#[inline(always)]
fn dot_body<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] = if FMA { x[i].mul_add(y[i], acc[i]) } else { x[i] * y[i] + acc[i] };
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    // Fixed pairwise reduction of the lanes.
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] += acc[i + w];
        }
    }
    acc[0] + tail
}

/// `y += a · x` (multiply then add, no FMA, so every path gives the same bits). Uses 8-wide AVX2
/// where the CPU has it: the baseline x86-64 build only vectorises it 4 wide.
#[inline]
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked above).
        return unsafe { axpy_avx2(a, x, y) };
    }
    axpy_body(a, x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2(a: f32, x: &[f32], y: &mut [f32]) {
    axpy_body(a, x, y)
}

#[inline(always)]
fn axpy_body(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * *xi;
    }
}

/// `(mean(x²) + eps)^(-1/2)`, the sum taken in f64 so long rows lose no precision.
#[inline]
pub(crate) fn rms_inv(x: &[f32], eps: f32) -> f32 {
    let ss: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    ((ss / x.len() as f64) as f32 + eps).powf(-0.5)
}

/// A raw pointer that may cross threads; used where parallel tasks write provably disjoint
/// elements of one output buffer (each task owns a distinct set of indices).
#[derive(Clone, Copy)]
pub(crate) struct SyncPtr(pub(crate) *mut f32);
unsafe impl Send for SyncPtr {}
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    /// Write `v` at index `i`.
    ///
    /// # Safety
    /// `i` must be in bounds of the buffer this pointer came from and no other thread may access
    /// index `i` during the parallel region.
    #[inline]
    pub(crate) unsafe fn write(self, i: usize, v: f32) {
        *self.0.add(i) = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axpy_dispatched_equals_the_portable_loop() {
        let x: Vec<f32> = (0..77).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut y: Vec<f32> = (0..77).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut want = y.clone();
        axpy(0.3, &x, &mut y);
        axpy_body(0.3, &x, &mut want);
        assert_eq!(y, want);
        assert_eq!(y[5], (5f32 * 0.11).cos() + 0.3 * (5f32 * 0.37).sin());
    }

    #[test]
    fn dot_matches_naive_sum_for_odd_lengths() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((dot(&a, &b) as f64 - naive).abs() < 1e-5);
    }
}
