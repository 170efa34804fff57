//! The fixture core's promises, proven end to end: cleanup order and exactly-once runs,
//! failure aggregation, details, outcomes, timeouts, resets, skips, and compatibility
//! with `cargo test` and `cargo nextest run`.
//!
//! Most cases drive the runner the way `#[testbed::test]`'s expansion does and inspect
//! the report it panics with, so a failing case can be observed without failing this
//! suite; `runners` checks the real attribute in a checked-in project run as a subprocess,
//! and `leaks` runs that project's leaking tests under both runners.

mod blind_spots;
mod body;
mod dangling;
mod details;
mod failures;
mod helper;
mod leaks;
mod order;
mod outcomes;
mod readme;
mod reset;
mod runners;
mod setup;
mod should_panic;
mod timeout;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testbed::__private::{Step, TestInfo};
use testbed::Scope;

/// The path every test run by these helpers has, crate first, as the macro gives it.
const NAME: &str = "core::case";

/// The name it reports under: libtest's, without the crate.
const REPORTED: &str = "case";

/// An ordered record of what setups, bodies and cleanups did, shared across threads.
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<String>>>);

thread_local! {
    /// The journal fixtures on this thread write to: `Fixture::setup` takes no arguments
    /// but the scope, and the runner sets fixtures up on the test's thread.
    static CURRENT: std::cell::RefCell<Journal> = std::cell::RefCell::default();
}

impl Journal {
    /// A new journal, made current on this thread (libtest may reuse a thread).
    fn fresh() -> Journal {
        let journal = Journal::default();
        CURRENT.with(|current| *current.borrow_mut() = journal.clone());
        journal
    }

    /// This thread's current journal.
    fn current() -> Journal {
        CURRENT.with(|current| current.borrow().clone())
    }

    fn record(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    /// A closure for `Scope::add_cleanup` that records `entry` and the outcome it saw.
    fn cleanup(&self, entry: &'static str) -> impl FnOnce(testbed::Outcome) + Send + 'static {
        let journal = self.clone();
        move |outcome| journal.record(format!("{entry} saw {outcome}"))
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// The report a run panicked with, or `None` if the test passed.
fn report_of(run: impl FnOnce()) -> Option<String> {
    let payload = catch_unwind(AssertUnwindSafe(run)).err()?;
    match payload.downcast::<String>() {
        Ok(report) => Some(*report),
        Err(_) => panic!("the runner panicked with a payload that is not a `String` report"),
    }
}

/// Runs `test` as a sync `#[testbed::test]` would; returns its report if it failed.
fn run_sync(test: impl FnOnce(&Scope) -> Step) -> Option<String> {
    let info = TestInfo {
        name: NAME,
        timeout: None,
        should_panic: testbed::__private::ShouldPanic::No,
        allow_leaks: &[],
    };
    report_of(|| testbed::__private::run_sync(&info, test))
}

/// Runs `test` as a sync `#[testbed::test(timeout = ...)]` would.
fn run_sync_with_timeout(
    limit: Duration,
    test: impl FnOnce(&Scope) -> Step + Send + 'static,
) -> Option<String> {
    let info = TestInfo {
        name: NAME,
        timeout: Some(limit),
        should_panic: testbed::__private::ShouldPanic::No,
        allow_leaks: &[],
    };
    report_of(|| testbed::__private::run_sync_with_timeout(&info, limit, test))
}

/// Runs `test` as an async `#[testbed::test]` would, with an optional timeout.
fn run_async<Fut>(timeout: Option<Duration>, test: impl FnOnce(Scope) -> Fut) -> Option<String>
where
    Fut: Future<Output = Step>,
{
    let info = TestInfo {
        name: NAME,
        timeout,
        should_panic: testbed::__private::ShouldPanic::No,
        allow_leaks: &[],
    };
    report_of(|| testbed::__private::run_async(&info, test))
}

/// Asserts that `needles` occur in `text` in this order.
#[track_caller]
fn assert_in_order(text: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match text[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("expected {needle:?} after byte {from} of:\n{text}"),
        }
    }
}

/// Panics with `message`. Returns `()` on paper, so closures that only panic still have
/// a type a body or cleanup accepts (edition 2024 infers `!` for `|| panic!()`).
fn panic_with(message: &str) {
    panic!("{message}")
}
