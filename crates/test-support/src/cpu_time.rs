//! A clock that other processes on a shared machine do not inflate: the CPU time the threads of
//! this process have run (`/proc/self/task/*/schedstat`, Linux).

use std::time::{Duration, Instant};

/// Nanoseconds all threads of this process have run on a CPU, or `None` where the kernel does
/// not say (no `/proc`, or a thread whose stat could not be read).
pub fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Time `iters` runs of `f`: the CPU time of the process when `cpu` (and the kernel says),
/// else wall-clock time.
pub fn timed(iters: u64, cpu: bool, mut f: impl FnMut()) -> Duration {
    let (wall, c0) = (Instant::now(), process_cpu_ns().filter(|_| cpu));
    for _ in 0..iters {
        f();
    }
    match (c0, process_cpu_ns()) {
        (Some(c0), Some(c1)) => Duration::from_nanos(c1 - c0),
        _ => wall.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_runs_f_iters_times_on_either_clock() {
        for cpu in [false, true] {
            let mut calls = 0;
            timed(5, cpu, || calls += 1);
            assert_eq!(calls, 5);
        }
    }
}
