//! A `#[should_panic]` test: an expected panic is a pass for the cleanups and is raised
//! again, quietly, for libtest; a missing or unexpected panic is a failure.

use std::panic::{AssertUnwindSafe, catch_unwind};

use testbed::__private::{ShouldPanic, Step, TestInfo, body, run_sync};
use testbed::Outcome;

use crate::{Journal, NAME, panic_with};

/// How a `#[should_panic]` test's run ended, as libtest sees it.
#[derive(Debug, PartialEq)]
enum Seen {
    /// It panicked with this message.
    Panicked(String),
    /// It returned.
    Returned,
}

/// Runs a sync test with `should_panic`, its body panicking with `panic` (or returning),
/// and returns what its cleanup saw and what libtest would see.
fn run(should_panic: ShouldPanic, panic: Option<&str>) -> (Vec<String>, Seen) {
    let journal = Journal::fresh();
    let info = TestInfo {
        name: NAME,
        timeout: None,
        should_panic,
        allow_leaks: &[],
    };
    let cleanup_journal = journal.clone();
    let run = catch_unwind(AssertUnwindSafe(|| {
        run_sync(&info, |scope| -> Step {
            scope.add_cleanup(cleanup_journal.cleanup("cleanup"));
            body(scope, || {
                if let Some(message) = panic {
                    panic_with(message);
                }
            })
        })
    }));
    let seen = match run {
        Ok(()) => Seen::Returned,
        Err(payload) => Seen::Panicked(
            *payload
                .downcast::<String>()
                .expect("the runner panics with a `String`"),
        ),
    };
    (journal.entries(), seen)
}

#[test]
fn an_expected_panic_is_a_pass_for_the_cleanups_and_reaches_libtest() {
    let (entries, seen) = run(ShouldPanic::Yes, Some("boom"));
    assert_eq!(entries, [format!("cleanup saw {}", Outcome::Passed)]);
    assert_eq!(
        seen,
        Seen::Panicked("boom".into()),
        "the message, not a report"
    );
}

#[test]
fn a_panic_with_the_expected_text_is_a_pass() {
    let (entries, seen) = run(ShouldPanic::WithMessage("oo"), Some("boom"));
    assert_eq!(entries, [format!("cleanup saw {}", Outcome::Passed)]);
    assert_eq!(seen, Seen::Panicked("boom".into()));
}

#[test]
fn a_panic_without_the_expected_text_is_a_failure() {
    let (entries, seen) = run(ShouldPanic::WithMessage("quiet"), Some("boom"));
    assert_eq!(entries, [format!("cleanup saw {}", Outcome::Panicked)]);
    let Seen::Panicked(report) = seen else {
        panic!("libtest must see a panic to compare its text: {seen:?}");
    };
    assert!(!report.contains("quiet"), "{report}");
}

#[test]
fn a_missing_panic_is_a_failure_libtest_sees_as_a_return() {
    let (entries, seen) = run(ShouldPanic::Yes, None);
    assert_eq!(entries, [format!("cleanup saw {}", Outcome::Failed)]);
    assert_eq!(seen, Seen::Returned, "a panic here would pass the test");
}
