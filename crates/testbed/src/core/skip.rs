//! Runtime skips: a test whose requirement (a database server, a feature) is missing
//! here is reported as skipped with the reason, or failed when CI requires it.

use std::fmt;

/// The environment variable listing requirements that must be met: a comma-separated
/// list of names (`postgres,mysql`) or `all`. A skip of a listed requirement fails the
/// test instead; CI sets it so a green run proves every backend ran.
pub const REQUIRE_ENV: &str = "TESTBED_REQUIRE";

/// A requirement of the test that is not met here: return it from a fixture's setup (or
/// call [`skip`]) and the test is skipped with the reason, unless [`REQUIRE_ENV`] names
/// the requirement, in which case the test fails.
///
/// ```
/// use testbed::{BoxError, Fixture, Scope, Unavailable};
///
/// struct Redis(std::net::TcpStream);
///
/// impl Fixture for Redis {
///     fn setup(_scope: &Scope) -> Result<Self, BoxError> {
///         match std::net::TcpStream::connect("127.0.0.1:6379") {
///             Ok(stream) => Ok(Redis(stream)),
///             Err(error) => Err(Unavailable::new("redis", format!("127.0.0.1:6379: {error}")).into()),
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    requirement: String,
    reason: String,
}

impl Unavailable {
    /// `requirement` is the name `TESTBED_REQUIRE` matches (`postgres`, `redis`, ...);
    /// `reason` says why it is missing and, ideally, how to provide it.
    pub fn new(requirement: impl Into<String>, reason: impl Into<String>) -> Self {
        Unavailable {
            requirement: requirement.into(),
            reason: reason.into(),
        }
    }

    /// The name of what is missing.
    pub fn requirement(&self) -> &str {
        &self.requirement
    }

    /// Why it is missing.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether [`REQUIRE_ENV`] demands this requirement, turning the skip into a failure.
    pub fn is_required(&self) -> bool {
        std::env::var(REQUIRE_ENV)
            .map(|list| requirement_listed(&list, &self.requirement))
            .unwrap_or(false)
    }
}

/// Whether `requirement` is named in the comma-separated `list` (or `list` is `all`).
pub(crate) fn requirement_listed(list: &str, requirement: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|item| item.eq_ignore_ascii_case("all") || item.eq_ignore_ascii_case(requirement))
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} unavailable: {}", self.requirement, self.reason)
    }
}

impl std::error::Error for Unavailable {}

/// Stops the running test and reports it skipped (or failed, if `TESTBED_REQUIRE` names
/// `requirement`). Cleanups registered so far still run.
///
/// ```no_run
/// #[testbed::test]
/// fn needs_docker() {
///     if std::env::var_os("DOCKER_HOST").is_none() {
///         testbed::skip("docker", "DOCKER_HOST is not set");
///     }
///     // ... talk to docker ...
/// }
/// # needs_docker();
/// ```
pub fn skip(requirement: impl Into<String>, reason: impl Into<String>) -> ! {
    // `resume_unwind` skips the panic hook: a skip is not a crash and prints no panic.
    std::panic::resume_unwind(Box::new(Unavailable::new(requirement, reason)))
}

#[cfg(test)]
mod tests {
    use super::requirement_listed;

    #[test]
    fn matches_names_and_all() {
        assert!(requirement_listed("postgres, mysql", "mysql"));
        assert!(requirement_listed("ALL", "redis"));
        assert!(!requirement_listed("postgres", "mysql"));
        assert!(!requirement_listed("", "mysql"));
    }
}
