//! What a driver's error means for the server: a connection that failed (the server
//! may be lost), a server that is full; and the errors that can carry a lost connection
//! up to the server cache, which names its cause.

#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::{DatabaseAcquireError, ServerCallError};

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
