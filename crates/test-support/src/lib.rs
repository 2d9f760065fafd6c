//! Helpers for tests and benches only (a `[dev-dependencies]` entry, never a normal one):
//! deterministic pseudo-random inputs, a process CPU-time clock, and an f64 attention reference
//! with its error measure. One copy here so that every test draws the same sequences.

mod attention;
mod cpu_time;
mod random;

pub use attention::{attention_reference, rel_err};
pub use cpu_time::{process_cpu_ns, timed};
pub use random::{values, values_scaled};
