//! Details attached by setups and cleanups are printed with the failures; a name used
//! twice gets a `-1`, `-2` suffix.

use testbed::__private::{body, setup};
use testbed::{BoxError, Detail, Fixture, Outcome, Scope};

use crate::{assert_in_order, panic_with, run_sync};

/// Attaches its address in setup, and its kept data from a cleanup when the test fails.
struct Database;

impl Fixture for Database {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.attach("url", "postgres://127.0.0.1/testbed_7");
        let details = scope.details();
        scope.add_cleanup(move |outcome: Outcome| {
            if outcome.is_failure() {
                details.attach("kept", "database `testbed_7` kept for inspection");
            }
        });
        Ok(Database)
    }
}

#[test]
fn details_from_setup_and_cleanups_are_printed_on_failure() {
    let report = run_sync(|scope| {
        let Database = setup::<Database>(scope)?;
        body(scope, || panic_with("row count was 2"))
    })
    .expect("a panicking body fails the test");
    assert_in_order(
        &report,
        &[
            "test panicked: row count was 2",
            "\ndetails:",
            "\n---- url ----\npostgres://127.0.0.1/testbed_7\n",
            "---- kept ----\ndatabase `testbed_7` kept for inspection\n",
            "---- end of details ----",
        ],
    );
}

#[test]
fn details_are_printed_when_only_a_cleanup_fails() {
    let report = run_sync(|scope| {
        scope.add_cleanup(|_| Err::<(), _>("drop failed"));
        let Database = setup::<Database>(scope)?;
        body(scope, || {})
    })
    .expect("a failing cleanup fails the test");
    assert_in_order(
        &report,
        &["failed: drop failed", "---- url ----", "postgres://"],
    );
    // The cleanup saw a passing body, so it kept nothing.
    assert!(!report.contains("---- kept ----"), "{report}");
}

/// Attaches a detail under a name every instance uses.
struct Logger;

impl Fixture for Logger {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let stored_as = scope.attach("log", "a line");
        scope.attach("stored as", stored_as);
        Ok(Logger)
    }
}

#[test]
fn a_repeated_name_gets_a_numbered_suffix() {
    let report = run_sync(|scope| {
        let Logger = setup::<Logger>(scope)?;
        let Logger = scope.use_fixture::<Logger>()?;
        let Logger = setup::<Logger>(scope)?;
        body(scope, || Err::<(), _>("show the details"))
    })
    .expect("an error from the body fails the test");
    assert_in_order(
        &report,
        &[
            "\n---- log ----\n",
            "\n---- stored as ----\nlog\n",
            "---- log-1 ----\n",
            "---- stored as-1 ----\nlog-1\n",
            "---- log-2 ----\n",
            "---- stored as-2 ----\nlog-2\n",
        ],
    );
}

#[test]
fn a_report_carries_the_details_as_values() {
    let scope = Scope::new("values");
    scope.attach("bytes", vec![0xff_u8, 0x00, 0xfe]);
    scope.add_cleanup(|_| Err::<(), _>("failed"));
    let report = scope.finish(Outcome::Passed).unwrap_err();
    assert_eq!(
        report.details(),
        [("bytes".to_owned(), Detail::Bytes(vec![0xff, 0x00, 0xfe]))]
    );
    assert!(
        report
            .to_string()
            .contains("---- bytes ----\n<3 bytes, not UTF-8> ff 00 fe\n"),
        "{report}"
    );
}

#[test]
fn a_passing_test_prints_nothing_even_with_details() {
    let report = run_sync(|scope| {
        let Database = setup::<Database>(scope)?;
        body(scope, || {})
    });
    assert_eq!(report, None);
}

#[test]
fn a_child_scope_attaches_to_the_tests_details() {
    let report = run_sync(|scope| {
        scope.child().attach("from child", "seen by the test");
        body(scope, || Err::<(), _>("show the details"))
    })
    .expect("an error from the body fails the test");
    assert!(
        report.contains("\n---- from child ----\nseen by the test\n"),
        "{report}"
    );
}
