//! What a test body's return value means.

use std::fmt::Debug;

/// How a test body ended, before cleanups.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The body returned `()` or `Ok(())`.
    Passed,
    /// The body returned an error, formatted with `Debug` as libtest does.
    Failed(String),
}

/// The return types a `#[testbed::test]` body may have: `()` or `Result<(), E: Debug>`.
pub trait IntoVerdict {
    /// Interprets the return value.
    fn into_verdict(self) -> Verdict;
}

impl IntoVerdict for () {
    fn into_verdict(self) -> Verdict {
        Verdict::Passed
    }
}

impl<E: Debug> IntoVerdict for Result<(), E> {
    fn into_verdict(self) -> Verdict {
        match self {
            Ok(()) => Verdict::Passed,
            Err(error) => Verdict::Failed(format!("{error:?}")),
        }
    }
}
