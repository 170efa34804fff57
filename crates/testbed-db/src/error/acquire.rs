//! [`DatabaseAcquireError`]: what acquiring a test database can give.

use super::{SchemaLoadError, ScriptRunError, ServerCallError};

/// A test database could not be acquired: the error of
/// [`Database::acquire`](crate::Database::acquire) and its per-backend forms.
///
/// Its `Debug` form is its message followed by its causes, one `caused by:` line each,
/// so a test that returns it through `?` (libtest prints a test's error with `Debug`), or
/// `unwrap`s it, shows the words, hint and cause rather than the variant's fields.
///
/// ```
/// use testbed_db::{DatabaseAcquireError, SchemaLoadError};
///
/// let error = DatabaseAcquireError::from(SchemaLoadError::MissingMigrations { path: "migrations".into() });
/// assert_eq!(format!("{error:?}"), error.to_string());
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseAcquireError {
    /// The backend is not available here: the test should be skipped (or fail under
    /// `TESTBED_REQUIRE`). [`Database::acquire`](crate::Database::acquire) turns this into
    /// a skip itself; [`DatabaseAcquireError::into_boxed`] keeps it recognizable in a
    /// fixture's setup. A [`ServerCallError::Unavailable`] becomes this one.
    #[error(transparent)]
    Unavailable(testbed::Unavailable),
    /// The server, or a file testbed-db keeps, failed.
    #[error(transparent)]
    Server(ServerCallError),
    /// The migrations or seed files could not be read.
    #[error(transparent)]
    Schema(#[from] SchemaLoadError),
    /// A migration, seed file or schema function failed.
    #[error(transparent)]
    Script(#[from] ScriptRunError),
    /// [`Database::for_scenario`](crate::Database::for_scenario) in a test whose scenario
    /// names no backend.
    #[error(
        "pick a database backend for test `{test}`: none of its scenarios names one (hint: `#[testbed::test(scenarios(sqlite, postgres, mysql))]`)"
    )]
    NoBackendScenario {
        /// The test's name.
        test: String,
    },
    /// The [`Database`](crate::Database)'s isolation strategy is one the backend does
    /// not have (see [`Isolation`](crate::Isolation)'s table).
    #[error("{}", isolation_not_offered(*isolation, *backend, offered_by))]
    IsolationNotOffered {
        /// The strategy asked for.
        isolation: crate::Isolation,
        /// The backend asked.
        backend: crate::Backend,
        /// The backends that have it.
        offered_by: &'static [crate::Backend],
    },
}

/// The message of [`DatabaseAcquireError::IsolationNotOffered`].
fn isolation_not_offered(
    isolation: crate::Isolation,
    backend: crate::Backend,
    offered_by: &[crate::Backend],
) -> String {
    let names: Vec<&str> = offered_by.iter().map(|b| b.name()).collect();
    let mut message = format!(
        "give a {backend} database `Isolation::{isolation:?}`: {backend} does not have it, {} {}",
        names.join(" and "),
        if names.len() == 1 { "does" } else { "do" }
    );
    if let Some(first) = offered_by.first() {
        message.push_str(&format!(
            " (hint: `.isolation_on(Backend::{first:?}, Isolation::{isolation:?})` instead \
             of `.isolation(...)` sets it there alone, leaving {backend} its default)"
        ));
    }
    message
}

impl DatabaseAcquireError {
    /// Boxes the error for a fixture's setup, keeping [`testbed::Unavailable`] as itself
    /// so that the runner reports a skip rather than a failure.
    ///
    /// ```
    /// let error = testbed_db::DatabaseAcquireError::Unavailable(testbed::Unavailable::new("postgres", "not here"));
    /// assert!(error.into_boxed().is::<testbed::Unavailable>());
    /// ```
    pub fn into_boxed(self) -> testbed::BoxError {
        match self {
            DatabaseAcquireError::Unavailable(unavailable) => Box::new(unavailable),
            other => Box::new(other),
        }
    }

    /// The server's error, when the server (not the schema) failed.
    pub fn server(&self) -> Option<&ServerCallError> {
        match self {
            DatabaseAcquireError::Server(error) => Some(error),
            _ => None,
        }
    }
}

impl From<ServerCallError> for DatabaseAcquireError {
    fn from(error: ServerCallError) -> Self {
        match error {
            ServerCallError::Unavailable(unavailable) => {
                DatabaseAcquireError::Unavailable(unavailable)
            }
            other => DatabaseAcquireError::Server(other),
        }
    }
}

impl From<testbed::Unavailable> for DatabaseAcquireError {
    fn from(unavailable: testbed::Unavailable) -> Self {
        DatabaseAcquireError::Unavailable(unavailable)
    }
}

impl std::fmt::Debug for DatabaseAcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::write_chain(f, self)
    }
}
