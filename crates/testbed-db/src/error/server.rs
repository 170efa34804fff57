//! [`ServerCallError`]: what calling a database server, or the files testbed-db keeps for
//! one, can give.

use std::path::PathBuf;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::is_connection_failure;
use super::{Reason, is_too_many_connections};
use crate::Backend;

/// A call to a database server failed: it is absent, refused, full or gone, a statement
/// testbed-db runs failed, or a file testbed-db keeps (SQLite's templates and copies, the
/// throwaway cluster's files, locks) could not be used.
///
/// It is the error of the `admin` functions, and the server part of
/// [`DatabaseAcquireError`](crate::DatabaseAcquireError). Its `Debug` form is its message
/// followed by its causes, one `caused by:` line each.
///
/// ```
/// use testbed_db::{Backend, ServerCallError};
///
/// let error = ServerCallError::TooManyConnections { backend: Backend::MySql };
/// assert!(error.to_string().starts_with("connect to mysql: the server has no free connection"));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ServerCallError {
    /// The server does not answer: the test should be skipped (or fail under
    /// `TESTBED_REQUIRE`).
    #[error(transparent)]
    Unavailable(#[from] testbed::Unavailable),
    /// The configured server URL cannot be one of this backend's: not a URL, or another
    /// scheme. A configuration error, never a skip.
    #[error("use {variable} `{url}` as the {backend} server's URL (hint: set {variable} to a URL such as `{}`)", example_url(*backend))]
    BadUrl {
        /// The backend.
        backend: Backend,
        /// Where the URL came from.
        variable: &'static str,
        /// The URL, secrets redacted.
        url: String,
        /// What is wrong with it.
        #[source]
        reason: Reason,
    },
    /// The server answered but refused the connection (wrong credentials, say).
    #[error("connect to {backend} at `{url}` (hint: {hint})")]
    Connect {
        /// The backend.
        backend: Backend,
        /// The URL, secrets redacted.
        url: String,
        /// How to fix it.
        hint: &'static str,
        /// The server's answer.
        #[source]
        reason: Reason,
    },
    /// testbed-db was built without the backend's cargo feature.
    #[error(
        "use {backend}: testbed-db was built without its `{backend}` feature (hint: add it to the dependency, `testbed-db = {{ version = \"0.1\", features = [\"{backend}\"] }}`, or leave the default features on)"
    )]
    NotBuilt {
        /// The backend.
        backend: Backend,
    },
    /// The server is at its connection limit.
    #[error(
        "connect to {backend}: the server has no free connection (hint: raise the server's `max_connections` or run fewer tests at once{})",
        if matches!(backend, Backend::Postgres) { "; each test process keeps up to TESTBED_PG_MAX_KEPT_CONNECTIONS idle for its next tests, lower it to keep fewer" } else { "" }
    )]
    TooManyConnections {
        /// The backend.
        backend: Backend,
    },
    /// The server answered earlier in this run (this process, or under nextest an
    /// earlier test process of the same run) and does not now: the tests that need it
    /// fail, with the cause, until it answers again; then the run uses it again.
    #[error(
        "reach the {backend} server at `{url}`, which answered earlier in this run (hint: start it again; the tests of this run that come after use it again as soon as it answers)"
    )]
    Lost {
        /// The backend.
        backend: Backend,
        /// The server's URL, secrets redacted.
        url: String,
        /// What connecting to it now gives.
        #[source]
        reason: Reason,
    },
    /// A pooled database was still being changed, after the wait, by a statement of an
    /// earlier holder: a test process killed while it built or reset the database
    /// leaves that statement running on the server until it ends.
    #[error(
        "use {backend} database `{database}`: an earlier holder's statement was still changing it after {waited_seconds} s (hint: a test process killed mid-reset leaves its statement running on the server; find it with SHOW PROCESSLIST and KILL it, or wait and run again)"
    )]
    StillChanging {
        /// The backend.
        backend: Backend,
        /// The pooled database.
        database: String,
        /// How long testbed-db waited.
        waited_seconds: u32,
    },
    /// A statement testbed-db runs itself failed.
    #[error("{action} on {backend}")]
    Statement {
        /// The backend.
        backend: Backend,
        /// What testbed-db was doing.
        action: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// testbed-db could not do something for a reason of its own, with no driver error
    /// behind it: every pooled database was unusable, a lock never came, a name was
    /// taken.
    #[error("{action} on {backend}: {reason}")]
    Failed {
        /// The backend.
        backend: Backend,
        /// What testbed-db was doing.
        action: String,
        /// Why it could not: testbed-db's own words, the whole cause.
        reason: String,
    },
    /// A file testbed-db manages failed.
    #[error("{action} `{}`", path.display())]
    File {
        /// What testbed-db was doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ServerCallError {
    /// A statement failed: [`ServerCallError::TooManyConnections`] when the server said
    /// it is full, [`ServerCallError::Statement`] otherwise.
    pub(crate) fn statement(
        backend: Backend,
        action: impl Into<String>,
        source: sqlx::Error,
    ) -> Self {
        if is_too_many_connections(&source) {
            return ServerCallError::TooManyConnections { backend };
        }
        ServerCallError::Statement {
            backend,
            action: action.into(),
            source,
        }
    }

    pub(crate) fn failed(
        backend: Backend,
        action: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ServerCallError::Failed {
            backend,
            action: action.into(),
            reason: reason.into(),
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn file(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ServerCallError::File {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether the connection to the server, not a statement, failed (see
    /// [`is_connection_failure`]): nothing more can be done on the server for now.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) fn is_connection_lost(&self) -> bool {
        matches!(self, ServerCallError::Statement { source, .. } if is_connection_failure(source))
    }
}

impl std::fmt::Debug for ServerCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::write_chain(f, self)
    }
}

/// A URL of `backend`'s default server, for hints.
fn example_url(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
        crate::Backend::MySql => "mysql://root@127.0.0.1:3306",
        crate::Backend::Sqlite => "sqlite::memory:",
    }
}
