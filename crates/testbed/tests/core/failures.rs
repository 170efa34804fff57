//! Every cleanup runs even when others fail or panic, and every failure lands in one
//! report: the body's first, then each cleanup's in the order they ran.

use std::fmt;

use testbed::__private::{body, body_async};
use testbed::{FailureKind, Outcome, Scope};

use crate::{Journal, REPORTED, assert_in_order, panic_with, run_async, run_sync};

/// Registers, in this order: a passing cleanup, a failing one, a panicking one, a failing
/// async one, a panicking async one and a passing one. Each records that it ran first.
fn register_mixed_cleanups(scope: &Scope, journal: &Journal) {
    scope.add_cleanup(journal.cleanup("a ok"));
    let j = journal.clone();
    scope.add_cleanup(move |_| {
        j.record("b error");
        Err::<(), _>("b broke")
    });
    let j = journal.clone();
    scope.add_cleanup(move |_| {
        j.record("c panic");
        panic_with("c broke")
    });
    let j = journal.clone();
    scope.add_async_cleanup(move |_| async move {
        tokio::task::yield_now().await;
        j.record("d async error");
        Err::<(), _>("d broke")
    });
    let j = journal.clone();
    scope.add_async_cleanup(move |_| async move {
        j.record("e async panic");
        tokio::task::yield_now().await;
        panic_with("e broke")
    });
    scope.add_cleanup(journal.cleanup("f ok"));
}

const MIXED_RUN: [&str; 6] = [
    "f ok saw passed",
    "e async panic",
    "d async error",
    "c panic",
    "b error",
    "a ok saw passed",
];

/// The report of [`register_mixed_cleanups`]: four failures, last registered first.
fn assert_mixed_report(report: &str) {
    assert_in_order(
        report,
        &[
            "failed with 4 errors:",
            "1. cleanup registered at ",
            "panicked: e broke",
            "2. cleanup registered at ",
            "failed: d broke",
            "3. cleanup registered at ",
            "panicked: c broke",
            "4. cleanup registered at ",
            "failed: b broke",
        ],
    );
}

#[test]
fn every_cleanup_runs_when_others_fail_or_panic_in_a_sync_test() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        register_mixed_cleanups(scope, &journal);
        body(scope, || {})
    })
    .expect("failing cleanups fail the test");
    assert_eq!(journal.entries(), MIXED_RUN);
    assert_mixed_report(&report);
}

#[test]
fn every_cleanup_runs_when_others_fail_or_panic_in_an_async_test() {
    let journal = Journal::fresh();
    let report = run_async(None, |scope| {
        let journal = journal.clone();
        async move {
            register_mixed_cleanups(&scope, &journal);
            body_async(&scope, async {}).await
        }
    })
    .expect("failing cleanups fail the test");
    assert_eq!(journal.entries(), MIXED_RUN);
    assert_mixed_report(&report);
}

#[test]
fn the_report_lists_the_body_failure_first_then_cleanups_as_they_ran() {
    let report = run_sync(|scope| {
        scope.add_cleanup(|_| Err::<(), _>("registered first"));
        scope.add_cleanup(|_| Err::<(), _>("registered second"));
        body(scope, || panic_with("the body broke"))
    })
    .expect("a panicking body fails the test");
    assert!(
        report.starts_with(&format!("`{REPORTED}` failed with 3 errors:")),
        "{report}"
    );
    assert_in_order(
        &report,
        &[
            "\n  1. test panicked: the body broke",
            "\n  2. cleanup registered at ",
            "failed: registered second",
            "\n  3. cleanup registered at ",
            "failed: registered first",
        ],
    );
}

#[test]
fn a_single_failure_is_reported_without_numbering() {
    let report = run_sync(|scope| body(scope, || Err::<(), _>("only this")))
        .expect("an error from the body fails the test");
    assert_eq!(
        report,
        format!("`{REPORTED}` test returned an error: \"only this\"")
    );
}

#[test]
fn report_failures_name_kind_message_and_where_the_cleanup_was_registered() {
    let scope = Scope::new("kinds");
    let error_line = line!() + 1;
    scope.add_cleanup(|_| Err::<(), _>("returned an error"));
    let panic_line = line!() + 1;
    scope.add_cleanup(|_| panic_with("panicked here"));
    let report = scope.finish(Outcome::Passed).unwrap_err();

    let failures = report.failures();
    assert_eq!(failures.len(), 2, "{report}");
    assert_eq!(failures[0].message, "panicked here");
    match &failures[0].kind {
        FailureKind::CleanupPanic(at) => {
            assert!(at.file().ends_with("failures.rs"), "{at}");
            assert_eq!(at.line(), panic_line);
        }
        other => panic!("expected a cleanup panic, got {other:?}"),
    }
    assert_eq!(failures[1].message, "returned an error");
    match &failures[1].kind {
        FailureKind::CleanupError(at) => assert_eq!(at.line(), error_line),
        other => panic!("expected a cleanup error, got {other:?}"),
    }

    let text = report.to_string();
    assert_in_order(
        &text,
        &[
            "`kinds` failed with 2 errors:",
            &format!("1. {}", failures[0]),
            &format!("2. {}", failures[1]),
        ],
    );
    assert!(
        text.contains(&format!("failures.rs:{panic_line}:")),
        "{text}"
    );
}

#[test]
fn a_nested_scope_report_is_flattened_into_its_failures() {
    let parent = Scope::new("nested");
    let child = parent.child();
    child.add_cleanup(|_| Err::<(), _>("child one"));
    child.add_cleanup(|_| Err::<(), _>("child two"));
    // A cleanup that finishes the child itself and returns the child's whole report.
    let finishing = child.clone();
    parent.add_cleanup(move |outcome| finishing.finish(outcome));

    let report = parent.finish(Outcome::Passed).unwrap_err();
    let messages: Vec<&str> = report
        .failures()
        .iter()
        .map(|failure| failure.message.as_str())
        .collect();
    assert_eq!(messages, ["child two", "child one"], "{report}");
}

/// An error with a cause, to see the chain in the report.
#[derive(Debug)]
struct Wrapped(std::io::Error);

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot drop database `testbed_1`")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn a_cleanup_errors_causes_are_reported() {
    let report = run_sync(|scope| {
        scope.add_cleanup(|_| Err::<(), _>(Wrapped(std::io::Error::other("connection reset"))));
        body(scope, || {})
    })
    .expect("a failing cleanup fails the test");
    assert_in_order(
        &report,
        &[
            "failed: cannot drop database `testbed_1`",
            "\n   caused by: connection reset",
        ],
    );
}

/// An error that quotes its source in its own message (`...: {source}`).
#[derive(Debug)]
struct Quoting(std::io::Error);

impl fmt::Display for Quoting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot drop database `testbed_1`: {}", self.0)
    }
}

impl std::error::Error for Quoting {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn a_cause_the_message_quotes_is_not_repeated() {
    let report = run_sync(|scope| {
        scope.add_cleanup(|_| Err::<(), _>(Quoting(std::io::Error::other("connection reset"))));
        body(scope, || {})
    })
    .expect("a failing cleanup fails the test");
    let text = report.to_string();
    assert_eq!(text.matches("connection reset").count(), 1, "{text}");
    assert!(!text.contains("caused by"), "{text}");
}
