//! How many databases the run acquired per backend and what acquiring them cost, as a
//! section of the harness's end-of-run summary (which already counts the tests of each
//! scenario and lists the skip reasons).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Per backend: databases acquired, and the time spent acquiring them.
static ACQUIRED: Mutex<BTreeMap<&'static str, (u32, Duration)>> = Mutex::new(BTreeMap::new());

/// Counts a database acquired for `backend` in `took`.
pub fn record(backend: &'static str, took: Duration) {
    testbed::harness::summary_section("flowstore databases", render);
    // A panicking test cannot leave a count half-updated: the data is still good.
    let mut acquired = ACQUIRED.lock().unwrap_or_else(PoisonError::into_inner);
    let (count, time) = acquired.entry(backend).or_default();
    *count += 1;
    *time += took;
}

/// `sqlite 61 in 0.110s (1.8 ms each) | ...`, or nothing when no database was acquired.
fn render() -> Option<String> {
    let acquired = ACQUIRED.lock().unwrap_or_else(PoisonError::into_inner);
    let mut text = String::new();
    for (backend, (count, time)) in acquired.iter() {
        if !text.is_empty() {
            text.push_str(" | ");
        }
        let seconds = time.as_secs_f64();
        let each = seconds * 1000.0 / f64::from(*count);
        let _ = write!(
            text,
            "{backend} {count} in {seconds:.3}s ({each:.1} ms each)"
        );
    }
    (!text.is_empty()).then_some(text)
}
