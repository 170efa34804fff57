//! What can go wrong while providing a test database: one error type per operation.
//!
//! [`DatabaseAcquireError`] is what acquiring a test database gives (the operation users
//! meet); [`ServerCallError`] is what calling a server gives, the part every operation
//! shares (the `admin` functions return it as it is); [`SchemaLoadError`] and
//! [`ScriptRunError`] are the schema's parts of acquiring. Messages are lowercase
//! fragments that read after "failed to", the cause is in `source()`, never pasted into
//! the message, and a `(hint: ...)` is given only when it is true for that cause. No
//! message holds a password: every URL in them is redacted.

mod acquire;
mod schema;
mod server;

pub use acquire::DatabaseAcquireError;
pub use schema::{SchemaLoadError, ScriptRunError};
pub use server::ServerCallError;

use std::fmt;

/// A cause that testbed-db words itself: a server's reply rewritten to hide testbed's
/// internal names, a wait that ran out, what a probe found. It is the `source()` of the
/// error it explains.
///
/// ```
/// let reason = testbed_db::Reason::new("no answer within 3 s");
/// assert_eq!(reason.to_string(), "no answer within 3 s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Reason(String);

impl Reason {
    /// A reason reading `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Reason(text.into())
    }
}

/// Writes `error`'s message and then each cause on its own `caused by:` line, skipping a
/// cause whose words the text above already holds (a transparent wrapper's, say): the
/// `Debug` form of testbed-db's errors, which libtest prints for a test that returns one
/// through `?` and `unwrap` prints too.
pub(crate) fn write_chain(
    f: &mut fmt::Formatter<'_>,
    error: &(dyn std::error::Error + 'static),
) -> fmt::Result {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let words = next.to_string();
        if !text.contains(&words) {
            text.push_str("\n  caused by: ");
            text.push_str(&words);
        }
        cause = next.source();
    }
    f.write_str(&text)
}

/// An error that may say the connection to the server was lost, which the server cache
/// then names (the server's answer now) before the test sees it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) trait CallFailure: From<ServerCallError> {
    /// The server's error, when it says the connection failed (see
    /// [`is_connection_failure`]); `self` otherwise.
    fn into_lost_connection(self) -> Result<ServerCallError, Self>;
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl CallFailure for ServerCallError {
    fn into_lost_connection(self) -> Result<ServerCallError, Self> {
        if self.is_connection_lost() {
            Ok(self)
        } else {
            Err(self)
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl CallFailure for DatabaseAcquireError {
    fn into_lost_connection(self) -> Result<ServerCallError, Self> {
        match self {
            DatabaseAcquireError::Server(error) => {
                error.into_lost_connection().map_err(Self::Server)
            }
            other => Err(other),
        }
    }
}

/// A URL of `backend`'s default server, for hints.
pub(crate) fn example_url(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
        crate::Backend::MySql => "mysql://root@127.0.0.1:3306",
        crate::Backend::Sqlite => "sqlite::memory:",
    }
}

/// Whether `error` says the connection, not the statement, failed: an I/O error, a
/// closed or timed-out pool, or the server ending the session (`57P01` shutdown,
/// `57P02` crash, `57P03` starting up, class `08` connection exceptions).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn is_connection_failure(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}

/// PostgreSQL's `53300` or MySQL's `1040`: the server is full.
pub(crate) fn is_too_many_connections(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            matches!(
                db.code().as_deref(),
                Some("53300") | Some("08004") | Some("1040")
            ) || db.message().contains("Too many connections")
        }
        _ => false,
    }
}
