//! What can go wrong while providing a test database.

use std::path::PathBuf;

use crate::Backend;

/// An error from testbed-db. Messages never contain a password.
///
/// Its `Debug` form is its message followed by the causes it does not already quote, so
/// a test that returns it through `?` (libtest prints a test's error with `Debug`), or
/// `unwrap`s it, shows the same words and hint as `Display` rather than the variant's
/// fields.
///
/// ```
/// let error = testbed_db::DbError::MissingMigrations { path: "migrations".into() };
/// assert_eq!(format!("{error:?}"), error.to_string());
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The backend is not available here: the test should be skipped (or fail under
    /// `TESTBED_REQUIRE`). [`Database::acquire`](crate::Database::acquire) turns this into
    /// a skip itself; [`DbError::into_boxed`] keeps it recognizable in a fixture's setup.
    #[error(transparent)]
    Unavailable(#[from] testbed::Unavailable),
    /// The server answered but refused the connection (wrong credentials, say).
    #[error("cannot connect to {backend} at `{url}`: {message} (hint: {hint})")]
    Connect {
        /// The backend.
        backend: Backend,
        /// The URL, password redacted.
        url: String,
        /// The server's message.
        message: String,
        /// How to fix it.
        hint: &'static str,
    },
    /// The configured server URL cannot be one of this backend's: not a URL, or another
    /// scheme. A configuration error, never a skip.
    #[error("{backend} URL `{url}` in {variable} is not usable: {message} (hint: set {variable} to a URL such as `{}`)", example_url(*backend))]
    BadUrl {
        /// The backend.
        backend: Backend,
        /// Where the URL came from.
        variable: &'static str,
        /// The URL, secrets redacted.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The migrations directory given to [`Database::migrations`](crate::Database::migrations)
    /// does not exist when the test runs.
    #[error("migrations directory `{}` not found (hint: the path is read when the test runs, relative to `CARGO_MANIFEST_DIR` or, without it, the current directory; embed the migrations with `testbed_db::migrations!(\"...\")` to run the test binary anywhere)", path.display())]
    MissingMigrations {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The binary runs in its source tree, whose migrations directory has a migration
    /// added after [`migrations!`](crate::migrations) embedded the others: cargo cannot
    /// see a new file in a directory, so it did not rebuild.
    #[error("migration `{}` was added after this test binary was built, so it is not embedded (hint: rebuild the tests; to have cargo rebuild when a migration is added, add a build script printing `cargo:rerun-if-changed={}`)", path.display(), dir.display())]
    StaleMigrations {
        /// The migration (or backend subdirectory) the binary lacks.
        path: PathBuf,
        /// The migrations directory.
        dir: PathBuf,
    },
    /// The migrations directory could not be read as sqlx migrations.
    #[error("cannot read the migrations in `{}`: {message}", path.display())]
    BadMigrations {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A seed file could not be read.
    #[error("cannot read seed file `{}`: {source} (hint: the path is read when the test runs, relative to `CARGO_MANIFEST_DIR`; embed seed files with `testbed_db::seeds![\"...\"]` to run the test binary anywhere)", path.display())]
    Seed {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A migration or seed file failed on the server.
    #[error("{} `{}` failed{}: {message}", if *is_seed { "seed file" } else { "migration" }, file.display(), statement.as_ref().map(|s| format!(" at statement `{s}`")).unwrap_or_default())]
    Script {
        /// The file that failed.
        file: PathBuf,
        /// Whether it is a seed file rather than a migration.
        is_seed: bool,
        /// The failing statement, when it could be told.
        statement: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The server is at its connection limit.
    #[error(
        "{backend} server refused a connection: too many connections (hint: raise the server's `max_connections` or run fewer tests at once{})",
        if matches!(backend, Backend::Postgres) { "; each test process keeps up to TESTBED_PG_MAX_KEPT_CONNECTIONS idle for its next tests, lower it to keep fewer" } else { "" }
    )]
    TooManyConnections {
        /// The backend.
        backend: Backend,
    },
    /// [`Database::for_scenario`](crate::Database::for_scenario) in a test whose scenario
    /// names no backend.
    #[error(
        "test `{test}` has no scenario naming a database backend (hint: `#[testbed::test(scenarios(sqlite, postgres, mysql))]`)"
    )]
    NoBackendScenario {
        /// The test's name.
        test: String,
    },
    /// The server answered earlier in this run (this process, or under nextest an
    /// earlier test process of the same run) and does not now: the tests that need it
    /// fail, with the cause, until it answers again; then the run uses it again.
    #[error(
        "{backend} server at `{url}` stopped answering during this run: {cause} (hint: start it again; the tests of this run that come after use it again as soon as it answers)"
    )]
    ServerLost {
        /// The backend.
        backend: Backend,
        /// The server's URL, secrets redacted.
        url: String,
        /// What connecting to it now gives.
        cause: String,
    },
    /// A pooled database was still being changed, after the wait, by a statement of an
    /// earlier holder: a test process killed while it built or reset the database
    /// leaves that statement running on the server until it ends.
    #[error(
        "{backend} database `{database}` was still being changed by an earlier holder's statement after {waited_seconds} s (hint: a test process killed mid-reset leaves its statement running on the server; find it with SHOW PROCESSLIST and KILL it, or wait and run again)"
    )]
    StillChanging {
        /// The backend.
        backend: Backend,
        /// The pooled database.
        database: String,
        /// How long testbed-db waited.
        waited_seconds: u32,
    },
    /// testbed-db could not do something for a reason of its own (no driver error behind
    /// it): every pooled database was unusable, a lock never came, a name was taken.
    #[error("{backend}: cannot {action}: {reason}")]
    Failed {
        /// The backend.
        backend: Backend,
        /// What testbed-db was doing.
        action: String,
        /// Why it could not.
        reason: String,
    },
    /// A statement testbed-db runs itself failed.
    #[error("{backend}: cannot {action}: {source}")]
    Server {
        /// The backend.
        backend: Backend,
        /// What testbed-db was doing.
        action: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A file testbed-db manages (SQLite templates and copies, locks) failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What testbed-db was doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl DbError {
    /// Boxes the error for a fixture's setup, keeping [`testbed::Unavailable`] as itself
    /// so that the runner reports a skip rather than a failure.
    pub fn into_boxed(self) -> testbed::BoxError {
        match self {
            DbError::Unavailable(unavailable) => Box::new(unavailable),
            other => Box::new(other),
        }
    }

    pub(crate) fn server(backend: Backend, action: impl Into<String>, source: sqlx::Error) -> Self {
        if is_too_many_connections(&source) {
            return DbError::TooManyConnections { backend };
        }
        DbError::Server {
            backend,
            action: action.into(),
            source,
        }
    }

    /// Whether the connection to the server, not a statement, failed (see
    /// [`is_connection_failure`]): nothing more can be done on the server for now.
    pub(crate) fn is_connection_lost(&self) -> bool {
        matches!(self, DbError::Server { source, .. } if is_connection_failure(source))
    }

    pub(crate) fn failed(
        backend: Backend,
        action: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        DbError::Failed {
            backend,
            action: action.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        DbError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl std::fmt::Debug for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.to_string();
        f.write_str(&message)?;
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let text = error.to_string();
            if !message.contains(&text) {
                write!(f, "\n  caused by: {text}")?;
            }
            cause = error.source();
        }
        Ok(())
    }
}

/// A URL of `backend`'s default server, for hints.
fn example_url(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres://postgres@127.0.0.1:5432/postgres",
        Backend::MySql => "mysql://root@127.0.0.1:3306",
        Backend::Sqlite => "sqlite::memory:",
    }
}

/// Whether `error` says the connection, not the statement, failed: an I/O error, a
/// closed or timed-out pool, or the server ending the session (`57P01` shutdown,
/// `57P02` crash, `57P03` starting up, class `08` connection exceptions).
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
