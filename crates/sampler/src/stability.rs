//! The stability half of `StableAndConfidentStoppingCriteria`.

/// The last `threshold` argmax canvases of a block.
///
/// The reference starts the history filled with −1, which no token equals; here the slots
/// not yet written simply count as "different", which is the same thing.
#[derive(Clone, Debug)]
pub struct StabilityHistory {
    threshold: usize,
    canvas_length: usize,
    /// `threshold` canvases back to back, used as a ring.
    slots: Vec<u32>,
    /// Next slot to overwrite (the oldest).
    next: usize,
    /// Slots written since the last reset.
    filled: usize,
}

impl StabilityHistory {
    /// An empty history for `threshold` canvases of `canvas_length` tokens.
    pub fn new(threshold: u32, canvas_length: usize) -> Self {
        let threshold = threshold as usize;
        StabilityHistory {
            threshold,
            canvas_length,
            slots: vec![0; threshold * canvas_length],
            next: 0,
            filled: 0,
        }
    }

    /// Back to the "filled with −1" state of a new block.
    pub fn reset(&mut self) {
        self.next = 0;
        self.filled = 0;
    }

    /// Whether `argmax` equals every remembered canvas (always true for threshold 0), then
    /// remembers it, dropping the oldest.
    pub fn check_and_push(&mut self, argmax: &[u32]) -> bool {
        if self.threshold == 0 {
            return true;
        }
        let c = self.canvas_length;
        let stable = self.filled == self.threshold
            && self.slots.chunks_exact(c).all(|slot| slot == argmax);
        self.slots[self.next * c..(self.next + 1) * c].copy_from_slice(argmax);
        self.next = (self.next + 1) % self.threshold;
        self.filled = (self.filled + 1).min(self.threshold);
        stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_zero_is_always_stable() {
        let mut h = StabilityHistory::new(0, 2);
        assert!(h.check_and_push(&[1, 2]));
        assert!(h.check_and_push(&[3, 4]));
    }

    #[test]
    fn threshold_one_needs_one_repeat() {
        let mut h = StabilityHistory::new(1, 2);
        assert!(!h.check_and_push(&[1, 2]), "first step of a block is never stable");
        assert!(h.check_and_push(&[1, 2]));
        assert!(!h.check_and_push(&[1, 3]));
        assert!(h.check_and_push(&[1, 3]));
        h.reset();
        assert!(!h.check_and_push(&[1, 3]));
    }

    #[test]
    fn threshold_two_needs_two_repeats() {
        let mut h = StabilityHistory::new(2, 1);
        assert!(!h.check_and_push(&[5]));
        assert!(!h.check_and_push(&[5]));
        assert!(h.check_and_push(&[5]));
        assert!(!h.check_and_push(&[6]));
        assert!(!h.check_and_push(&[6]));
        assert!(h.check_and_push(&[6]));
        assert!(!h.check_and_push(&[5]));
        assert!(!h.check_and_push(&[6]), "history holds 6 and 5");
    }
}
