//! Progress reporting on stderr: an indicatif bar (tensors, bytes/s, ETA) when stderr is a
//! terminal, nothing otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-counting progress bar that may be hidden.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `total` output bytes, `n_tensors` tensors; `show` = caller allows it (still hidden when
    /// stderr is not a terminal).
    pub fn new(total: u64, show: bool) -> Self {
        let bar = if show && std::io::stderr().is_terminal() {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{msg:>24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        } else {
            ProgressBar::hidden()
        };
        Progress { bar }
    }
    /// Current tensor (index, count, name).
    pub fn tensor(&self, i: usize, n: usize, name: &str) {
        self.bar.set_message(format!("{}/{} {}", i + 1, n, short(name)));
    }
    /// Bytes written.
    pub fn add(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn short(name: &str) -> &str {
    let n = name.len();
    if n > 14 { &name[n - 14..] } else { name }
}
