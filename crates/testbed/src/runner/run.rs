//! The entry points `#[testbed::test]` expands into: each builds the test's scope, runs
//! the checks around it, its setup and body (on a worker thread or a runtime of its own
//! when it needs one), always its cleanups, then concludes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

#[cfg(feature = "tokio")]
use crate::core::catch_unwind_future;
use crate::core::running;
use crate::core::{Failure, FailureKind, Outcome, Scope};
use crate::harness::registration::ShouldPanic;
use crate::leaks::{Category, RunnerHolds};

use super::ending::{conclude, judge, timed_out};
use super::steps::Step;
#[cfg(feature = "tokio")]
use super::timeout::default_timeout;
use super::{checks, expected_panic};

/// What the macro knows about a test.
#[derive(Debug)]
pub struct TestInfo {
    /// The test's full path, `module::path::name`.
    pub name: &'static str,
    /// The test's time limit, if it has one.
    pub timeout: Option<Duration>,
    /// What `#[should_panic]` asked for: an expected panic is a pass for the cleanups.
    pub should_panic: ShouldPanic,
    /// The leak categories `allow_leaks(...)` lets this test leave behind.
    pub allow_leaks: &'static [Category],
}

/// A test's name as libtest gives it: its path without the crate's segment
/// (`module::test`, not `crate::module::test`), in reports, skip lines and the harness.
pub(crate) fn libtest_name(path: &str) -> &str {
    path.split_once("::").map_or(path, |(_crate, rest)| rest)
}

/// Runs a sync test on the calling thread.
pub fn run_sync(info: &TestInfo, test: impl FnOnce(&Scope) -> Step) {
    crate::helper::take_over_if_asked();
    let scope = Scope::new(libtest_name(info.name));
    let _running = running::enter(&scope);
    let _holds = RunnerHolds::this_thread();
    let checks = checks::before(&scope, info.allow_leaks);
    let expecting = !matches!(info.should_panic, ShouldPanic::No);
    let result = expected_panic::marked(expecting, || {
        catch_unwind(AssertUnwindSafe(|| test(&scope)))
    });
    let ending = judge(&scope, result).expecting(info.should_panic);
    let cleanup_failures = scope.run_cleanups(ending.outcome);
    conclude(&scope, ending, cleanup_failures, checks);
}

/// Runs a sync test without a `timeout` of its own: on the calling thread, or on a
/// worker thread under the limit [`DEFAULT_TIMEOUT_ENV`](crate::DEFAULT_TIMEOUT_ENV) sets.
pub fn run_sync_default(info: &TestInfo, test: impl FnOnce(&Scope) -> Step + Send + 'static) {
    match super::timeout::default_timeout() {
        Some(limit) => run_sync_with_timeout(info, limit, test),
        None => run_sync(info, test),
    }
}

/// Runs a sync test on a worker thread and stops waiting for it after the timeout.
///
/// A sync body cannot be interrupted: on timeout the test fails and its cleanups run
/// while the worker is left running (it ends with the test process).
pub fn run_sync_with_timeout(
    info: &TestInfo,
    limit: Duration,
    test: impl FnOnce(&Scope) -> Step + Send + 'static,
) {
    crate::helper::take_over_if_asked();
    let scope = Scope::new(libtest_name(info.name));
    let _running = running::enter(&scope);
    let _holds = RunnerHolds::this_thread();
    let mut checks = checks::before(&scope, info.allow_leaks);
    let worker_scope = scope.clone();
    let expecting = !matches!(info.should_panic, ShouldPanic::No);
    let (sender, receiver) = mpsc::channel();
    let (tid_sender, tid_receiver) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(info.name.to_owned())
        .spawn(move || {
            let _ = tid_sender.send(crate::leaks::current_thread_id());
            let _running = running::enter(&worker_scope);
            let _holds = RunnerHolds::this_thread();
            let result = expected_panic::marked(expecting, || {
                catch_unwind(AssertUnwindSafe(|| test(&worker_scope)))
            });
            let _ = sender.send(result);
        });
    let ending = match spawned {
        Err(error) => (
            Outcome::Failed,
            Some(Failure::from_error(FailureKind::SetupError, &error)),
        )
            .into(),
        Ok(worker) => match receiver.recv_timeout(limit) {
            Ok(result) => {
                // It has sent its result and is returning: waiting for it keeps the
                // leak check from seeing a thread that is ending.
                let _ = worker.join();
                judge(&scope, result).expecting(info.should_panic)
            }
            Err(_) => {
                // The worker left running is the timeout's doing, reported as such: not
                // a leak of the test's.
                if let Ok(Some(tid)) = tid_receiver.recv() {
                    checks.expect_thread(tid);
                }
                timed_out(limit, info.timeout.is_some())
            }
        },
    };
    let cleanup_failures = scope.run_cleanups(ending.outcome);
    conclude(&scope, ending, cleanup_failures, checks);
}

/// Runs an async test on a current-thread tokio runtime of its own.
#[cfg(feature = "tokio")]
pub fn run_async<Fut>(info: &TestInfo, test: impl FnOnce(Scope) -> Fut)
where
    Fut: Future<Output = Step>,
{
    crate::helper::take_over_if_asked();
    let scope = Scope::new(libtest_name(info.name));
    let _running = running::enter(&scope);
    // Built before the leak checks' snapshot, and held for the runner: the runtime's
    // descriptors (its poll and its waker) are neither this test's leak nor another's,
    // and one of them can outlive the runtime for a moment when a connection opened on
    // it is closed elsewhere later.
    let mut holds = RunnerHolds::this_thread();
    let runtime = holds.runtime(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("testbed: cannot build the tokio runtime for an async test")
    });
    let mut checks = checks::before(&scope, info.allow_leaks);
    let (ending, cleanup_failures) = runtime.block_on(async {
        let expecting = !matches!(info.should_panic, ShouldPanic::No);
        let run =
            expected_panic::marked_future(expecting, catch_unwind_future(test(scope.clone())));
        let ending = match info.timeout.or_else(default_timeout) {
            None => judge(&scope, run.await),
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(result) => judge(&scope, result),
                Err(_) => timed_out(limit, info.timeout.is_some()),
            },
        }
        .expecting(info.should_panic);
        let cleanup_failures = scope.run_cleanups_async(ending.outcome).await;
        (ending, cleanup_failures)
    });
    if checks.watches_tasks() {
        checks.set_tasks_alive(settle_tasks(&runtime));
    }
    drop(runtime);
    holds.runtime_ended();
    conclude(&scope, ending, cleanup_failures, checks);
}

/// The tasks still alive on `runtime`, once those finishing have had a moment (the leak
/// checks' backoff) to finish, the runtime running meanwhile.
#[cfg(feature = "tokio")]
fn settle_tasks(runtime: &tokio::runtime::Runtime) -> usize {
    let alive = || runtime.metrics().num_alive_tasks();
    if alive() == 0 {
        return 0;
    }
    for pause in crate::leaks::backoff() {
        runtime.block_on(async { tokio::time::sleep(pause).await });
        if alive() == 0 {
            return 0;
        }
    }
    alive()
}

/// Without the `tokio` feature there is no runtime to run an async test on.
#[cfg(not(feature = "tokio"))]
pub fn run_async<Fut>(info: &TestInfo, _test: impl FnOnce(Scope) -> Fut)
where
    Fut: Future<Output = Step>,
{
    panic!(
        "`{}` is an async test, but testbed was built without its `tokio` feature \
         (hint: enable it: `testbed = {{ version = \"*\", features = [\"tokio\"] }}`)",
        info.name
    );
}
