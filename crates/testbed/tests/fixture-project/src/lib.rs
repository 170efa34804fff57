//! Tests that end every way a `#[testbed::test]` can: passing, failing with a report,
//! skipped, timed out. Each name says how the test must end; testbed's `core` suite
//! runs this project under `cargo test` and `cargo nextest run` and checks exactly that.
#![cfg(test)]

use std::time::Duration;

use testbed::{BoxError, Fixture, Scope, Unavailable};

/// Attaches a detail and says on stderr which outcome its cleanup saw, so a runner's
/// captured output proves the cleanup ran.
struct Noisy;

impl Fixture for Noisy {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.attach("noisy", "attached by Noisy::setup");
        scope.add_cleanup(|outcome| eprintln!("noisy cleanup saw: {outcome}"));
        Ok(Noisy)
    }
}

/// A backend that is never there: its setup reports it unavailable.
struct MissingBackend;

impl Fixture for MissingBackend {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(|outcome| eprintln!("backend cleanup saw: {outcome}"));
        Err(Unavailable::new("fixture-backend", "nothing listens on `127.0.0.1:1`").into())
    }
}

#[testbed::test]
fn passes(_noisy: Noisy) {}

#[testbed::test]
fn passes_returning_ok() -> Result<(), String> {
    Ok(())
}

#[testbed::test]
fn fails_with_report(_noisy: Noisy, scope: &Scope) {
    scope.add_cleanup(|_| Err::<(), _>("cannot remove `/tmp/fixture-project`"));
    scope.attach("request", "GET /health");
    panic!("body assertion broke");
}

#[testbed::test]
fn fails_returning_err() -> Result<(), String> {
    Err("body returned this error".to_owned())
}

#[testbed::test]
fn skipped_by_call(_noisy: Noisy) {
    testbed::skip("fixture-tool", "`fixture-tool` is not installed");
}

#[testbed::test]
fn skipped_by_setup(_backend: MissingBackend) {
    unreachable!("the body of a test whose setup is unavailable ran");
}

#[testbed::test(timeout = "200ms")]
fn times_out_sync(_noisy: Noisy) {
    std::thread::sleep(Duration::from_secs(60));
}

#[testbed::test(timeout = "200ms")]
async fn times_out_async(_noisy: Noisy) {
    std::future::pending::<()>().await;
}

/// Slower than a short `TESTBED_TIMEOUT`: passes without one, times out under one.
#[testbed::test]
fn slow_without_own_timeout_sync() {
    std::thread::sleep(Duration::from_millis(1500));
}

/// The same, async.
#[testbed::test]
async fn slow_without_own_timeout_async() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// Tests that leave one thing behind each, or leave things that must not be reported.
/// `#[ignore]`d: testbed's `core` suite runs them on purpose (`--ignored leaks::`).
mod leaks;
/// Two tests running side by side, only one of which leaks.
mod overlap;
