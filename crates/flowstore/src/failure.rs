//! [`Failure`]: an error captured so it can be stored, reloaded and compared.

use std::any::type_name;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The live error a failure was captured from.
type LiveError = Arc<dyn Error + Send + Sync + 'static>;

/// An error an atom raised, captured as data: the error's type names, its message and a
/// traceback text (its chain of sources, then a backtrace when `RUST_BACKTRACE` or
/// `RUST_LIB_BACKTRACE` enables one).
///
/// A failure captured in this process also keeps the live error. Two failures are
/// *equal* (`==`) when their data match and they hold the same live error, or both have
/// none; [`matches`](Failure::matches) compares the data alone, which is what survives a
/// trip through a backend.
///
/// ```
/// use flowstore::Failure;
///
/// let failure = Failure::from_error(std::io::Error::other("disk on fire"));
/// assert_eq!(failure.message(), "disk on fire");
/// assert!(failure.check::<std::io::Error>());
///
/// let reloaded = failure.persisted();
/// assert!(failure.matches(&reloaded));
/// assert_ne!(failure, reloaded, "the reloaded copy has lost the live error");
/// ```
#[cfg_attr(
    test,
    derive(testbed::versioned::Versioned),
    versioned(version = "1.0")
)]
#[derive(Clone, Serialize, Deserialize)]
pub struct Failure {
    type_names: Vec<String>,
    message: String,
    traceback: String,
    #[serde(skip)]
    error: Option<LiveError>,
}

impl Failure {
    /// Captures `error`, keeping it as the live error.
    pub fn from_error<E: Error + Send + Sync + 'static>(error: E) -> Self {
        let mut failure = Failure::new(
            vec![type_name::<E>().to_owned()],
            error.to_string(),
            traceback_of(&error),
        );
        failure.error = Some(Arc::new(error));
        failure
    }

    /// A failure from its parts, with no live error: what a backend builds when it reads
    /// a failure back, or what an adapter builds from another language's exception.
    pub fn new(
        type_names: Vec<String>,
        message: impl Into<String>,
        traceback: impl Into<String>,
    ) -> Self {
        Failure {
            type_names,
            message: message.into(),
            traceback: traceback.into(),
            error: None,
        }
    }

    /// The error's type names, most specific first.
    pub fn type_names(&self) -> &[String] {
        &self.type_names
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's sources and backtrace, as text.
    pub fn traceback(&self) -> &str {
        &self.traceback
    }

    /// The live error, when this failure was captured in this process and not reloaded.
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        self.error.as_deref()
    }

    /// Whether the captured error was of type `E`.
    pub fn check<E: Error + 'static>(&self) -> bool {
        self.type_names.iter().any(|name| name == type_name::<E>())
    }

    /// Whether `other` records the same error: same type names, message and traceback,
    /// live error or not.
    pub fn matches(&self, other: &Failure) -> bool {
        self.type_names == other.type_names
            && self.message == other.message
            && self.traceback == other.traceback
    }

    /// This failure as a backend stores and returns it: the same data, no live error.
    pub fn persisted(&self) -> Failure {
        Failure {
            error: None,
            ..self.clone()
        }
    }
}

/// The error's chain of sources, then its backtrace if the environment enables one.
fn traceback_of(error: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = writeln!(text, "caused by: {cause}");
        source = cause.source();
    }
    let backtrace = Backtrace::capture();
    if backtrace.status() == BacktraceStatus::Captured {
        let _ = write!(text, "{backtrace}");
    }
    text
}

impl PartialEq for Failure {
    fn eq(&self, other: &Failure) -> bool {
        let same_error = match (&self.error, &other.error) {
            (Some(mine), Some(theirs)) => Arc::ptr_eq(mine, theirs),
            (None, None) => true,
            _ => false,
        };
        same_error && self.matches(other)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("type_names", &self.type_names)
            .field("message", &self.message)
            .field("live", &self.error.is_some())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.type_names.first().map_or("error", String::as_str);
        write!(f, "{kind}: {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn traceback_lists_the_sources() {
        let failure = Failure::from_error(Outer(std::io::Error::other("inner")));
        assert!(failure.traceback().starts_with("caused by: inner\n"));
        assert!(failure.check::<Outer>());
        assert!(!failure.check::<std::io::Error>());
    }

    #[test]
    fn equal_only_with_the_same_live_error() {
        let first = Failure::from_error(std::io::Error::other("x"));
        let twin = Failure::from_error(std::io::Error::other("x"));
        assert_ne!(first, twin);
        assert_eq!(first, first.clone());
        assert_eq!(first.persisted(), first.persisted());
    }

    #[test]
    fn serializes_without_the_live_error() {
        let failure = Failure::from_error(std::io::Error::other("boom"));
        let json = serde_json::to_string(&failure).unwrap();
        let back: Failure = serde_json::from_str(&json).unwrap();
        assert!(back.error().is_none());
        assert!(back.matches(&failure));
    }
}
