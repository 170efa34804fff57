//! Timing cases side by side, for testbed's benches: each repetition runs a batch of
//! calls of every case in turn, so frequency scaling and noisy neighbours hit them
//! alike, and a case reports the median of its per-call times.

use std::time::{Duration, Instant};

/// One thing timed: a name, a call, and how many calls make a timed batch.
pub struct Case {
    pub name: &'static str,
    run: Box<dyn Fn()>,
    /// Calls per timed batch: enough for a batch to last well over the timer's grain.
    batch: u32,
    /// Nanoseconds per call, one per repetition.
    samples: Vec<f64>,
}

impl Case {
    pub fn new(name: &'static str, batch: u32, run: impl Fn() + 'static) -> Self {
        Case {
            name,
            run: Box::new(run),
            batch,
            samples: Vec::new(),
        }
    }

    /// The median time per call, in nanoseconds.
    pub fn median(&self) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }
}

/// Runs every case for `warm` (caches, the allocator, lazily initialised statics), then
/// takes `repetitions` interleaved samples of each.
pub fn measure(cases: &mut [Case], warm: Duration, repetitions: usize) {
    let warm_until = Instant::now() + warm;
    while Instant::now() < warm_until {
        for case in cases.iter() {
            (case.run)();
        }
    }
    for _ in 0..repetitions {
        for case in cases.iter_mut() {
            let start = Instant::now();
            for _ in 0..case.batch {
                (case.run)();
            }
            let per_call = start.elapsed().as_nanos() as f64 / f64::from(case.batch);
            case.samples.push(per_call);
        }
    }
}
