//! The one error a test produces: its setup or body failure, then every cleanup failure,
//! then its details.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use super::details::Detail;

/// The error type fixtures and cleanups return: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, in one entry of a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// A fixture's setup returned an error.
    SetupError,
    /// A fixture's setup panicked.
    SetupPanic,
    /// The test body returned an error.
    BodyError,
    /// The test body panicked.
    BodyPanic,
    /// The test ran past its timeout.
    Timeout(Duration),
    /// A requirement named in `TESTBED_REQUIRE` was unavailable.
    RequiredUnavailable,
    /// A check run around the body (leak detection, say) found a problem.
    Check,
    /// A cleanup returned an error.
    CleanupError(&'static Location<'static>),
    /// A cleanup panicked.
    CleanupPanic(&'static Location<'static>),
}

/// One failure: what kind, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What failed.
    pub kind: FailureKind,
    /// The error's or panic's message, with its chain of causes.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` whose message is `error` and each of its sources that the
    /// message does not quote already (many errors end with `: {source}`).
    pub fn from_error(kind: FailureKind, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str("\n   caused by: ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        Failure { kind, message }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FailureKind::SetupError => write!(f, "setup failed: {}", self.message),
            FailureKind::SetupPanic => write!(f, "setup panicked: {}", self.message),
            FailureKind::BodyError => write!(f, "test returned an error: {}", self.message),
            FailureKind::BodyPanic => write!(f, "test panicked: {}", self.message),
            FailureKind::Timeout(limit) if self.message.is_empty() => write!(
                f,
                "test timed out after {limit:?} (hint: raise `timeout` in `#[testbed::test(timeout = ...)]` if the test is slow, not stuck)"
            ),
            FailureKind::Timeout(limit) => write!(
                f,
                "test timed out after {limit:?}, the limit {} sets for every test without its own (hint: raise it, or give a slow test its own `#[testbed::test(timeout = ...)]`)",
                self.message
            ),
            FailureKind::RequiredUnavailable => write!(
                f,
                "required but {} (hint: `TESTBED_REQUIRE` lists it; start it, or unset `TESTBED_REQUIRE` to skip)",
                self.message
            ),
            FailureKind::Check => write!(f, "check failed: {}", self.message),
            FailureKind::CleanupError(at) => {
                write!(f, "cleanup registered at {at} failed: {}", self.message)
            }
            FailureKind::CleanupPanic(at) => {
                write!(f, "cleanup registered at {at} panicked: {}", self.message)
            }
        }
    }
}

/// Everything that went wrong in one test (or one scope), printed together.
///
/// The first failure, if any, is the setup's or the body's; every cleanup failure follows
/// in the order the cleanups ran; the details come last.
///
/// ```
/// use testbed::{Outcome, Scope};
///
/// let scope = Scope::new("demo");
/// scope.add_cleanup(|_| Err::<(), _>("first cleanup failed"));
/// scope.add_cleanup(|_| Err::<(), _>("second cleanup failed"));
/// scope.attach("url", "sqlite::memory:");
/// let report = scope.finish(Outcome::Passed).unwrap_err();
/// let text = report.to_string();
/// assert!(text.contains("2 errors"));
/// assert!(text.find("second").unwrap() < text.find("first").unwrap());
/// assert!(text.contains("sqlite::memory:"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Report {
    test: String,
    failures: Vec<Failure>,
    details: Vec<(String, Detail)>,
}

impl Report {
    pub(crate) fn new(test: &str) -> Self {
        Report {
            test: test.to_owned(),
            ..Report::default()
        }
    }

    pub(crate) fn extend(&mut self, failures: impl IntoIterator<Item = Failure>) {
        self.failures.extend(failures);
    }

    pub(crate) fn set_details(&mut self, details: Vec<(String, Detail)>) {
        self.details = details;
    }

    /// The failures, in order: setup or body first, then cleanups as they ran.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// The details attached to the test.
    pub fn details(&self) -> &[(String, Detail)] {
        &self.details
    }

    /// Whether nothing failed.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }

    pub(crate) fn into_failures(self) -> Vec<Failure> {
        self.failures
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failures.as_slice() {
            [] => write!(f, "`{}`: no failures", self.test)?,
            [only] => write!(f, "`{}` {only}", self.test)?,
            all => {
                write!(f, "`{}` failed with {} errors:", self.test, all.len())?;
                for (index, failure) in all.iter().enumerate() {
                    // Continuation lines (assertion diffs, causes) line up under the text.
                    let text = failure.to_string().replace('\n', "\n     ");
                    write!(f, "\n  {}. {text}", index + 1)?;
                }
            }
        }
        if !self.details.is_empty() {
            f.write_str("\ndetails:\n")?;
            for (name, detail) in &self.details {
                let text = detail.to_string();
                // Each detail starts on a line of its own, with no blank line between.
                let newline = if text.ends_with('\n') { "" } else { "\n" };
                write!(f, "---- {name} ----\n{text}{newline}")?;
            }
            f.write_str("---- end of details ----")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// Turns a panic payload into its message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "<panic payload that is not a string>".to_owned()
    }
}

/// Writes `text` and a newline to stderr past libtest's output capture (which takes
/// only `eprint!`), so a skip or a warning about a test that passes shows in a normal
/// `cargo test` run.
pub(crate) fn emit(text: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.write_all(b"\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runner's report of a test that passed holds no failure: it is ok.
    #[test]
    fn a_report_without_failures_is_ok() {
        assert!(Report::new("passes").is_ok());
    }
}
