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
    versioned(version = "1.1", backport)
)]
#[derive(Clone, Serialize, Deserialize)]
pub struct Failure {
    type_names: Vec<String>,
    message: String,
    traceback: String,
    /// The messages of the error's sources, outermost first (since 1.1; a failure
    /// stored before reads with none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    causes: Vec<String>,
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
        failure.causes = causes_of(&error);
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
            causes: Vec::new(),
            error: None,
        }
    }

    /// The same failure with the messages of its error's sources, outermost first: what
    /// an adapter sets when it builds a failure from its parts.
    pub fn with_causes(mut self, causes: Vec<String>) -> Self {
        self.causes = causes;
        self
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

    /// The messages of the error's sources, outermost first (empty for a failure
    /// stored before flowstore recorded them).
    pub fn causes(&self) -> &[String] {
        &self.causes
    }

    /// The live error, when this failure was captured in this process and not reloaded.
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        self.error.as_deref()
    }

    /// Whether the captured error was of type `E`.
    pub fn check<E: Error + 'static>(&self) -> bool {
        self.type_names.iter().any(|name| name == type_name::<E>())
    }

    /// Whether `other` records the same error: same type names, message, traceback and
    /// causes, live error or not.
    pub fn matches(&self, other: &Failure) -> bool {
        self.type_names == other.type_names
            && self.message == other.message
            && self.traceback == other.traceback
            && self.causes == other.causes
    }

    /// This failure as a backend stores and returns it: the same data, no live error.
    pub fn persisted(&self) -> Failure {
        Failure {
            error: None,
            ..self.clone()
        }
    }
}

/// The messages of the error's chain of sources, outermost first.
fn causes_of(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes
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

/// Failures stored by flowstore 1.0 peers have no `causes`: what a failure is for them.
#[cfg(test)]
impl testbed::versioned::Backport for Failure {
    fn samples() -> Vec<Self> {
        #[derive(Debug, thiserror::Error)]
        #[error("the step failed")]
        struct Step(#[source] std::io::Error);
        vec![
            Failure::from_error(Step(std::io::Error::other("disk full"))),
            Failure::new(vec!["E".into()], "boom", "trace"),
        ]
    }

    fn backport(
        mut value: serde_json::Value,
        version: testbed::versioned::Version,
    ) -> Result<serde_json::Value, String> {
        if version < (testbed::versioned::Version { major: 1, minor: 1 }) {
            let object = value.as_object_mut().ok_or("a failure is an object")?;
            object.remove("causes");
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_failure_stored_by_a_1_0_peer_still_loads() {
        let stored = r#"{"type_names":["E"],"message":"boom","traceback":"trace"}"#;
        let failure: Failure = serde_json::from_str(stored).unwrap();
        assert!(failure.matches(&Failure::new(vec!["E".into()], "boom", "trace")));
        assert!(failure.causes().is_empty());
    }

    #[test]
    fn traceback_lists_the_sources() {
        let failure = Failure::from_error(Outer(std::io::Error::other("inner")));
        assert!(failure.traceback().starts_with("caused by: inner\n"));
        assert_eq!(failure.causes(), ["inner"]);
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
