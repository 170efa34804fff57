//! How a test ended, judged from what its closure did, and its report: the outcome its
//! cleanups see (`#[should_panic]` applied), then one panic listing every failure, or a
//! skip line, or nothing.

use std::time::Duration;

use crate::core::{Failure, FailureKind, Outcome, Report, Scope, Unavailable, panic_message};
use crate::harness::registration::ShouldPanic;

use super::checks;
use super::skip_sink;
use super::steps::Step;
use super::timeout::DEFAULT_TIMEOUT_ENV;
use super::verdict::Verdict;

/// A test stopped at `limit`: its own `timeout` when `its_own`, else the suite-wide one.
pub(super) fn timed_out(limit: Duration, its_own: bool) -> Ending {
    // A limit the test did not set came from the environment: the message names it.
    let message = if !its_own {
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
pub(super) struct Ending {
    pub(super) outcome: Outcome,
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
    pub(super) fn expecting(mut self, should_panic: ShouldPanic) -> Ending {
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
pub(super) fn judge(scope: &Scope, result: std::thread::Result<Step>) -> Ending {
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
pub(super) fn conclude(
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
