//! [`ConnectionOpenError`]: what opening a diesel (or diesel-async) connection to a
//! test's database can give.

use crate::Backend;

/// A diesel or diesel-async connection to a test's database could not be opened: the
/// error of [`TestDb::diesel`](crate::TestDb) and `diesel_async`.
///
/// Its `Debug` form is its message followed by its causes, one `caused by:` line each.
///
/// ```
/// use testbed_db::{Backend, ConnectionOpenError};
///
/// let error = ConnectionOpenError::NoUrl { backend: Backend::Sqlite, database: "testbed_x".into() };
/// assert!(error.to_string().contains("`.isolation(Isolation::File)`"));
///
/// let error = ConnectionOpenError::Connect {
///     driver: "diesel",
///     backend: Backend::Postgres,
///     url: testbed_db::redact("postgres://app:hunter2@db/testbed_x"),
///     source: diesel::ConnectionError::BadConnection("connection refused".into()),
/// };
/// assert_eq!(
///     format!("{error:?}"),
///     "open a diesel connection to postgres at `postgres://app:***@db/testbed_x`\n  caused by: connection refused"
/// );
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionOpenError {
    /// The database has no URL another driver could open: SQLite's in-memory
    /// [`Image`](crate::Isolation::Image) is reachable only through the test's own pool.
    #[error(
        "open a diesel connection to {backend} database `{database}`: it lives in memory, reachable only by its own sqlx pool (hint: declare the `Database` with `.isolation(Isolation::File)` for a file diesel can open, or use `sea_orm()`, which works on the pool)"
    )]
    NoUrl {
        /// The backend.
        backend: Backend,
        /// The database's name.
        database: String,
    },
    /// The database is PostgreSQL's [`Rollback`](crate::Isolation::Rollback): a diesel
    /// connection is a session of its own, which would see none of the test's rows and
    /// commit what it writes past the rollback, into the next test's database.
    #[error(
        "open a {driver} connection to {backend} database `{database}` under `Isolation::Rollback`: its own session would commit past the rollback, into the next test's database (hint: use the default `Recycle`, or `Clone`, for tests that use diesel: `.isolation_on(Backend::Postgres, Isolation::Recycle)`)"
    )]
    RolledBack {
        /// `diesel` or `diesel-async`.
        driver: &'static str,
        /// The backend.
        backend: Backend,
        /// The database's name.
        database: String,
    },
    /// The driver could not connect to the database's URL.
    #[error("open a {driver} connection to {backend} at `{url}`")]
    Connect {
        /// `diesel` or `diesel-async`.
        driver: &'static str,
        /// The backend.
        backend: Backend,
        /// The database's URL, secrets redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: diesel::ConnectionError,
    },
}

impl std::fmt::Debug for ConnectionOpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::write_chain(f, self)
    }
}
