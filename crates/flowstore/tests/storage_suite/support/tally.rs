//! What the run did per backend, printed after it: tests passed, failed and skipped (with
//! each distinct reason), and how many databases were acquired and what acquiring cost.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use testbed::Outcome;

/// The four backends, in the order the summary lists them.
pub const BACKENDS: [&str; 4] = ["memory", "sqlite", "postgres", "mysql"];

#[derive(Default)]
struct BackendTally {
    passed: u32,
    failed: u32,
    skipped: u32,
    skip_reasons: BTreeSet<String>,
    acquired: u32,
    acquire_time: Duration,
}

static TALLY: Mutex<BTreeMap<&'static str, BackendTally>> = Mutex::new(BTreeMap::new());

fn with_tally(backend: &'static str, update: impl FnOnce(&mut BackendTally)) {
    // A panicking test cannot leave a count half-updated: the data is still good.
    let mut tally = TALLY.lock().unwrap_or_else(PoisonError::into_inner);
    update(tally.entry(backend).or_default());
}

/// Counts a test of `backend` that ended with `outcome`; `skip_reason` says why a skipped
/// test was skipped.
pub fn record_outcome(backend: &'static str, outcome: Outcome, skip_reason: Option<String>) {
    with_tally(backend, |tally| match outcome {
        Outcome::Passed => tally.passed += 1,
        Outcome::Skipped => {
            tally.skipped += 1;
            tally.skip_reasons.extend(skip_reason);
        }
        _ => tally.failed += 1,
    });
}

/// Counts a database acquired for `backend` in `took`.
pub fn record_acquired(backend: &'static str, took: Duration) {
    with_tally(backend, |tally| {
        tally.acquired += 1;
        tally.acquire_time += took;
    });
}

/// The summary, one line per backend that ran tests; empty when none did.
pub fn render() -> String {
    let tally = TALLY.lock().unwrap_or_else(PoisonError::into_inner);
    if tally.is_empty() {
        return String::new();
    }
    let mut text = String::from("flowstore storage suite, per backend:\n");
    for backend in BACKENDS {
        let Some(counts) = tally.get(backend) else {
            continue;
        };
        let _ = write!(
            text,
            "  {backend:<9}{} passed, {} failed, {} skipped",
            counts.passed, counts.failed, counts.skipped
        );
        if counts.acquired > 0 {
            let total = counts.acquire_time.as_secs_f64();
            let _ = write!(
                text,
                "; {} databases acquired in {total:.3}s ({:.1} ms each)",
                counts.acquired,
                total * 1000.0 / f64::from(counts.acquired)
            );
        }
        text.push('\n');
        for reason in &counts.skip_reasons {
            let _ = writeln!(text, "    skipped: {reason}");
        }
    }
    text
}
