//! How a test ended, as seen by its cleanups.

use std::fmt;

/// How the test body ended, passed to every cleanup.
///
/// A cleanup that keeps evidence of a failure (a temporary directory, a database, a log)
/// looks at this to decide whether to keep or discard.
///
/// ```
/// use testbed::Outcome;
///
/// assert!(Outcome::Passed.is_success());
/// assert!(Outcome::Skipped.is_success());
/// assert!(Outcome::Panicked.is_failure());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The body returned normally (or `Ok`).
    Passed,
    /// The test asked to be skipped at run time (its backend was unavailable, say).
    Skipped,
    /// Setup or the body returned an error.
    Failed,
    /// Setup or the body panicked.
    Panicked,
    /// The test ran past its timeout.
    TimedOut,
}

impl Outcome {
    /// Whether the test passed or was skipped: nothing needs keeping for a post-mortem.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Passed | Outcome::Skipped)
    }

    /// Whether the test failed, panicked or timed out.
    pub fn is_failure(self) -> bool {
        !self.is_success()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Passed => "passed",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Panicked => "panicked",
            Outcome::TimedOut => "timed out",
        })
    }
}
