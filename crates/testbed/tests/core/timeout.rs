//! A test past its timeout fails, sync or async, and still runs its cleanups and prints
//! its details.

use std::sync::mpsc;
use std::time::Duration;

use testbed::__private::{body, body_async};

use crate::{Journal, REPORTED, assert_in_order, panic_with, run_async, run_sync_with_timeout};

const LIMIT: Duration = Duration::from_millis(100);

/// Longer than any sane run of the suite: a body that waits this long was not stopped.
const FOREVER: Duration = Duration::from_secs(60);

#[test]
fn a_sync_test_past_its_timeout_fails_and_still_cleans_up() {
    let journal = Journal::fresh();
    let (release, stuck) = mpsc::channel::<()>();
    let test_journal = journal.clone();
    let report = run_sync_with_timeout(LIMIT, move |scope| {
        scope.add_cleanup(test_journal.cleanup("cleanup"));
        scope.attach("evidence", "the lock was held by pid 42");
        // Stuck until released (or for a minute, failing this test by passing).
        body(scope, move || {
            let _ = stuck.recv_timeout(FOREVER);
        })
    })
    .expect("a stuck test fails once its timeout passes");
    // Let the worker the runner left behind finish.
    let _ = release.send(());
    assert_in_order(
        &report,
        &[
            &format!("`{REPORTED}` test timed out after 100ms (hint: raise `timeout`"),
            "\n---- evidence ----\nthe lock was held by pid 42\n",
        ],
    );
    assert_eq!(journal.entries(), ["cleanup saw timed out"]);
}

#[test]
fn an_async_test_past_its_timeout_fails_and_still_cleans_up() {
    let journal = Journal::fresh();
    let report = run_async(Some(LIMIT), |scope| {
        let journal = journal.clone();
        async move {
            scope.add_cleanup(journal.cleanup("sync cleanup"));
            let async_journal = journal.clone();
            scope.add_async_cleanup(move |outcome| async move {
                // The test's runtime still drives timers after the timeout.
                tokio::time::sleep(Duration::from_millis(1)).await;
                async_journal.record(format!("async cleanup saw {outcome}"));
            });
            scope.attach("evidence", "a request was in flight");
            body_async(&scope, tokio::time::sleep(FOREVER)).await
        }
    })
    .expect("a stuck test fails once its timeout passes");
    assert_in_order(
        &report,
        &[
            &format!("`{REPORTED}` test timed out after 100ms"),
            "\n---- evidence ----\na request was in flight\n",
        ],
    );
    assert_eq!(
        journal.entries(),
        ["async cleanup saw timed out", "sync cleanup saw timed out"]
    );
}

#[test]
fn a_test_within_its_timeout_passes() {
    let journal = Journal::fresh();
    let sync_journal = journal.clone();
    let sync_report = run_sync_with_timeout(Duration::from_secs(30), move |scope| {
        scope.add_cleanup(sync_journal.cleanup("sync test"));
        body(scope, || {})
    });
    let async_report = run_async(Some(Duration::from_secs(30)), |scope| {
        let journal = journal.clone();
        async move {
            scope.add_cleanup(journal.cleanup("async test"));
            body_async(&scope, tokio::task::yield_now()).await
        }
    });
    assert_eq!((sync_report, async_report), (None, None));
    assert_eq!(
        journal.entries(),
        ["sync test saw passed", "async test saw passed"]
    );
}

#[test]
fn a_panic_within_the_timeout_is_reported_as_a_panic() {
    let report = run_sync_with_timeout(Duration::from_secs(30), |scope| {
        body(scope, || panic_with("broke before the limit"))
    })
    .expect("a panicking body fails the test");
    assert_eq!(
        report,
        format!("`{REPORTED}` test panicked: broke before the limit")
    );
}
