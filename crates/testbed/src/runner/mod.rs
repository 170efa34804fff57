//! Running one test: build its scope, set up its fixtures, run the body under the
//! checks and the timeout, always run the cleanups, then report every failure.
//!
//! `#[testbed::test]` expands into a call to [`run_sync`], [`run_sync_with_timeout`] or
//! [`run_async`]; nothing here is meant to be called by hand.

mod checks;
pub(crate) mod expected_panic;
mod skip_sink;
mod verdict;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

pub use checks::{Check, install_check};
#[cfg(feature = "harness")]
pub use skip_sink::capture_skip;
pub use verdict::{IntoVerdict, Verdict};

#[cfg(feature = "tokio")]
use crate::core::catch_unwind_future;
use crate::core::panic_message;
use crate::core::{
    AsyncFixture, BoxError, Failure, FailureKind, Fixture, Outcome, Report, Scope, Unavailable,
};
use crate::harness::registration::ShouldPanic;

/// What the macro knows about a test.
#[derive(Debug)]
pub struct TestInfo {
    /// The test's full path, `module::path::name`.
    pub name: &'static str,
    /// The test's time limit, if it has one.
    pub timeout: Option<Duration>,
    /// What `#[should_panic]` asked for: an expected panic is a pass for the cleanups.
    pub should_panic: ShouldPanic,
}

/// What the generated setup-and-body closure returns: the body's verdict, or the error
/// a fixture's setup returned.
pub type Step = Result<Verdict, BoxError>;

/// Sets up a sync fixture argument.
pub fn setup<T: Fixture>(scope: &Scope) -> Result<T, BoxError> {
    T::setup(scope)
}

/// Sets up a fixture argument of an async test.
pub async fn setup_async<T: AsyncFixture>(scope: &Scope) -> Result<T, BoxError> {
    T::setup(scope).await
}

/// Runs a sync body: marks setup as over, routes logs to the test's capture, and turns
/// what the body returned into a verdict.
pub fn body<R: IntoVerdict>(scope: &Scope, body: impl FnOnce() -> R) -> Step {
    enter_body(scope);
    Ok(crate::builtins::logs::with_capture(scope, body).into_verdict())
}

/// Runs an async body, as [`body`].
pub async fn body_async<R: IntoVerdict>(scope: &Scope, body: impl Future<Output = R>) -> Step {
    enter_body(scope);
    Ok(crate::builtins::logs::with_capture_async(scope, body)
        .await
        .into_verdict())
}

fn enter_body(scope: &Scope) {
    scope.mark_body_started();
}

/// A test's name as libtest gives it: its path without the crate's segment
/// (`module::test`, not `crate::module::test`), in reports, skip lines and the harness.
pub(crate) fn libtest_name(path: &str) -> &str {
    path.split_once("::").map_or(path, |(_crate, rest)| rest)
}

/// Runs a sync test on the calling thread.
pub fn run_sync(info: &TestInfo, test: impl FnOnce(&Scope) -> Step) {
    let scope = Scope::new(libtest_name(info.name));
    let checks = checks::before(&scope);
    let expecting = !matches!(info.should_panic, ShouldPanic::No);
    let result = expected_panic::marked(expecting, || {
        catch_unwind(AssertUnwindSafe(|| test(&scope)))
    });
    let ending = judge(&scope, result).expecting(info.should_panic);
    let cleanup_failures = scope.run_cleanups(ending.outcome);
    conclude(&scope, ending, cleanup_failures, checks);
}

/// The environment variable that gives every test without a `timeout` of its own a
/// time limit (`30s`, `500ms`, `2m`): a suite-wide guard against a stuck test. A sync
/// test under it runs on a worker thread, as one with its own `timeout` does.
///
/// ```
/// assert_eq!(testbed::DEFAULT_TIMEOUT_ENV, "TESTBED_TIMEOUT");
/// // TESTBED_TIMEOUT=60s cargo test
/// ```
pub const DEFAULT_TIMEOUT_ENV: &str = "TESTBED_TIMEOUT";

/// The limit [`DEFAULT_TIMEOUT_ENV`] sets, read once. A value that is not a duration
/// fails every test that would use it, naming the variable.
fn default_timeout() -> Option<Duration> {
    static LIMIT: std::sync::OnceLock<Result<Option<Duration>, String>> =
        std::sync::OnceLock::new();
    let limit = LIMIT.get_or_init(|| match std::env::var(DEFAULT_TIMEOUT_ENV) {
        Err(_) => Ok(None),
        Ok(text) => parse_duration(&text).map(Some).ok_or_else(|| {
            format!(
                "{DEFAULT_TIMEOUT_ENV}=`{text}` is not a duration (hint: a whole number and a unit: `500ms`, `30s`, `2m`)"
            )
        }),
    });
    match limit {
        Ok(limit) => *limit,
        Err(message) => panic!("{message}"),
    }
}

/// `500ms`, `30s`, `2m`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(amount)),
        "s" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_secs(amount.checked_mul(60)?)),
        _ => None,
    }
}

/// Runs a sync test without a `timeout` of its own: on the calling thread, or on a
/// worker thread under the limit [`DEFAULT_TIMEOUT_ENV`] sets.
pub fn run_sync_default(info: &TestInfo, test: impl FnOnce(&Scope) -> Step + Send + 'static) {
    match default_timeout() {
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
    let scope = Scope::new(libtest_name(info.name));
    let checks = checks::before(&scope);
    let worker_scope = scope.clone();
    let expecting = !matches!(info.should_panic, ShouldPanic::No);
    let (sender, receiver) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(info.name.to_owned())
        .spawn(move || {
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
        Ok(_worker) => match receiver.recv_timeout(limit) {
            Ok(result) => judge(&scope, result).expecting(info.should_panic),
            Err(_) => timed_out(limit, info),
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
    let scope = Scope::new(libtest_name(info.name));
    let checks = checks::before(&scope);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("testbed: cannot build the tokio runtime for an async test");
    let (ending, cleanup_failures) = runtime.block_on(async {
        let expecting = !matches!(info.should_panic, ShouldPanic::No);
        let run =
            expected_panic::marked_future(expecting, catch_unwind_future(test(scope.clone())));
        let ending = match info.timeout.or_else(default_timeout) {
            None => judge(&scope, run.await),
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(result) => judge(&scope, result),
                Err(_) => timed_out(limit, info),
            },
        }
        .expecting(info.should_panic);
        let cleanup_failures = scope.run_cleanups_async(ending.outcome).await;
        (ending, cleanup_failures)
    });
    drop(runtime);
    conclude(&scope, ending, cleanup_failures, checks);
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

fn timed_out(limit: Duration, info: &TestInfo) -> Ending {
    // A limit the test did not set came from the environment: the message names it.
    let message = if info.timeout.is_none() {
        DEFAULT_TIMEOUT_ENV.to_owned()
    } else {
        String::new()
    };
    let failure = Failure {
        kind: FailureKind::Timeout(limit),
        message,
    };
    (Outcome::TimedOut, Some(failure)).into()
}

/// How a test ended, before its cleanups ran.
struct Ending {
    outcome: Outcome,
    failure: Option<Failure>,
    /// The missing requirement, when the test was skipped.
    skipped: Option<Unavailable>,
    /// What `#[should_panic]` makes of the ending.
    expected: Expected,
}

/// A `#[should_panic]` test's ending, as libtest (or the harness) must see it.
enum Expected {
    /// Not a `#[should_panic]` test, or one that failed in another way.
    Nothing,
    /// Panicked as expected: a pass, re-raised (with this message) for the runner.
    Panic(String),
    /// Did not panic: a failure, which the runner sees as a test that returned.
    NoPanic,
}

impl From<(Outcome, Option<Failure>)> for Ending {
    fn from((outcome, failure): (Outcome, Option<Failure>)) -> Self {
        Ending {
            outcome,
            failure,
            skipped: None,
            expected: Expected::Nothing,
        }
    }
}

impl Ending {
    /// Applies `#[should_panic]`: a body panic it expects is a pass for the cleanups (a
    /// `TempDir` is removed, as for any passing test), and a body that returned is a
    /// failure (its evidence is kept).
    fn expecting(mut self, should_panic: ShouldPanic) -> Ending {
        let expected = match should_panic {
            ShouldPanic::No => return self,
            ShouldPanic::Yes => None,
            ShouldPanic::WithMessage(text) => Some(text),
        };
        match (&self.outcome, &self.failure) {
            (Outcome::Passed, None) => {
                self.outcome = Outcome::Failed;
                self.expected = Expected::NoPanic;
            }
            (Outcome::Panicked, Some(failure))
                if failure.kind == FailureKind::BodyPanic
                    && expected.is_none_or(|text| failure.message.contains(text)) =>
            {
                let message = failure.message.clone();
                self.outcome = Outcome::Passed;
                self.failure = None;
                self.expected = Expected::Panic(message);
            }
            _ => {}
        }
        self
    }
}

/// Turns what the setup-and-body closure did into the test's outcome and its failure.
fn judge(scope: &Scope, result: std::thread::Result<Step>) -> Ending {
    let judged = match result {
        Ok(Ok(Verdict::Passed)) => (Outcome::Passed, None),
        Ok(Ok(Verdict::Failed(message))) => (
            Outcome::Failed,
            Some(Failure {
                kind: FailureKind::BodyError,
                message,
            }),
        ),
        Ok(Err(error)) => match error.downcast::<Unavailable>() {
            Ok(unavailable) => return unavailable_ending(*unavailable),
            Err(error) => (
                Outcome::Failed,
                Some(Failure::from_error(FailureKind::SetupError, &*error)),
            ),
        },
        Err(payload) => {
            let payload = match payload.downcast::<Unavailable>() {
                Ok(unavailable) => return unavailable_ending(*unavailable),
                Err(payload) => payload,
            };
            let kind = if scope.body_started() {
                FailureKind::BodyPanic
            } else {
                FailureKind::SetupPanic
            };
            let message = panic_message(&*payload);
            (Outcome::Panicked, Some(Failure { kind, message }))
        }
    };
    judged.into()
}

/// A missing requirement: a skip, or a failure when `TESTBED_REQUIRE` names it.
fn unavailable_ending(unavailable: Unavailable) -> Ending {
    if unavailable.is_required() {
        let failure = Failure {
            kind: FailureKind::RequiredUnavailable,
            message: unavailable.to_string(),
        };
        (Outcome::Failed, Some(failure)).into()
    } else {
        Ending {
            outcome: Outcome::Skipped,
            failure: None,
            skipped: Some(unavailable),
            expected: Expected::Nothing,
        }
    }
}

/// Reports the test: nothing when all went well, otherwise one panic whose message lists
/// every failure and every detail (libtest and nextest print it under the test's name).
fn conclude(
    scope: &Scope,
    ending: Ending,
    cleanup_failures: Vec<Failure>,
    checks: checks::Pending,
) {
    let check_failures = checks.after(scope, ending.outcome);
    let clean =
        ending.failure.is_none() && cleanup_failures.is_empty() && check_failures.is_empty();
    if clean {
        match ending.expected {
            // The expected panic, raised again for libtest (or the harness) to see,
            // without printing it a second time.
            Expected::Panic(message) => std::panic::resume_unwind(Box::new(message)),
            Expected::NoPanic | Expected::Nothing => {}
        }
        if let Some(unavailable) = &ending.skipped {
            skip_sink::announce(scope.test_name(), unavailable);
        }
        return;
    }
    let mut report = Report::new(scope.test_name());
    report.extend(ending.failure);
    report.extend(cleanup_failures);
    report.extend(check_failures);
    report.set_details(scope.details().snapshot());
    match ending.expected {
        // A panic here would pass a `#[should_panic]` test: the report goes to stderr,
        // and the test fails as one that did not panic.
        Expected::Panic(_) | Expected::NoPanic => eprintln!("{report}"),
        Expected::Nothing => panic!("{report}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_milliseconds_seconds_and_minutes() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 30s "), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("2h"), None);
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_duration("30"), None);
    }
}
