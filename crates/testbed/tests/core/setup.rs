//! A failed setup (an error or a panic) runs the cleanups registered so far, reports the
//! setup's failure, and never runs the body.

use testbed::__private::{body, body_async, setup, setup_async};
use testbed::{AsyncFixture, BoxError, Fixture, Scope};

use crate::{Journal, REPORTED, assert_in_order, run_async, run_sync};

/// Sets up fine and registers one cleanup.
struct Healthy;

impl Fixture for Healthy {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(Journal::current().cleanup("healthy"));
        Ok(Healthy)
    }
}

/// Registers a cleanup for what it made, then fails.
struct Refused;

impl Fixture for Refused {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(Journal::current().cleanup("refused, half made"));
        Err("connection refused by `127.0.0.1:5432`".into())
    }
}

/// Registers a cleanup, then panics.
struct Exploding;

impl Fixture for Exploding {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(Journal::current().cleanup("exploding, half made"));
        panic!("setup exploded");
    }
}

#[test]
fn a_setup_error_runs_the_cleanups_so_far_and_skips_the_body() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        let Healthy = setup::<Healthy>(scope)?;
        let Refused = setup::<Refused>(scope)?;
        scope.add_cleanup(journal.cleanup("never registered"));
        body(scope, || journal.record("body"))
    })
    .expect("a failed setup fails the test");
    assert_eq!(
        report,
        format!("`{REPORTED}` setup failed: connection refused by `127.0.0.1:5432`")
    );
    assert_eq!(
        journal.entries(),
        ["refused, half made saw failed", "healthy saw failed"]
    );
}

#[test]
fn a_setup_panic_runs_the_cleanups_so_far_and_skips_the_body() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        let Healthy = setup::<Healthy>(scope)?;
        let Exploding = setup::<Exploding>(scope)?;
        body(scope, || journal.record("body"))
    })
    .expect("a panicking setup fails the test");
    assert_eq!(
        report,
        format!("`{REPORTED}` setup panicked: setup exploded")
    );
    assert_eq!(
        journal.entries(),
        ["exploding, half made saw panicked", "healthy saw panicked"]
    );
}

#[test]
fn a_setup_failure_and_a_cleanup_failure_are_both_reported() {
    let report = run_sync(|scope| {
        scope.add_cleanup(|_| Err::<(), _>("could not tidy up"));
        let Refused = setup::<Refused>(scope)?;
        body(scope, || {})
    })
    .expect("a failed setup fails the test");
    assert_in_order(
        &report,
        &[
            "failed with 2 errors:",
            "1. setup failed: connection refused",
            "2. cleanup registered at ",
            "failed: could not tidy up",
        ],
    );
}

/// Fails inside a fixture built from fixtures: what it already made is cleaned up.
struct Composite;

impl Fixture for Composite {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(Journal::current().cleanup("composite"));
        let Healthy = scope.use_fixture::<Healthy>()?;
        let Refused = scope.use_fixture::<Refused>()?;
        Ok(Composite)
    }
}

#[test]
fn a_failure_inside_a_composed_fixture_cleans_up_every_level() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        let Composite = setup::<Composite>(scope)?;
        body(scope, || journal.record("body"))
    })
    .expect("a failed setup fails the test");
    assert!(
        report.contains("setup failed: connection refused"),
        "{report}"
    );
    assert_eq!(
        journal.entries(),
        [
            "refused, half made saw failed",
            "healthy saw failed",
            "composite saw failed"
        ]
    );
}

/// An async fixture that registers an async cleanup, then fails.
struct AsyncRefused;

impl AsyncFixture for AsyncRefused {
    async fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let journal = Journal::current();
        scope.add_async_cleanup(move |outcome| async move {
            tokio::task::yield_now().await;
            journal.record(format!("async half made saw {outcome}"));
        });
        tokio::task::yield_now().await;
        Err("async setup refused".into())
    }
}

#[test]
fn an_async_setup_error_runs_the_cleanups_so_far_and_skips_the_body() {
    let journal = Journal::fresh();
    let report = run_async(None, |scope| {
        let journal = journal.clone();
        async move {
            let Healthy = setup_async::<Healthy>(&scope).await?;
            let AsyncRefused = setup_async::<AsyncRefused>(&scope).await?;
            body_async(&scope, async { journal.record("body") }).await
        }
    })
    .expect("a failed setup fails the test");
    assert_eq!(
        report,
        format!("`{REPORTED}` setup failed: async setup refused")
    );
    assert_eq!(
        journal.entries(),
        ["async half made saw failed", "healthy saw failed"]
    );
}
