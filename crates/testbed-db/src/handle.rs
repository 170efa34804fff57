//! What a test receives: its database's name, URL and a ready sqlx pool.

use crate::Backend;

/// A test's own database: nothing else touches it until the test ends.
///
/// It dereferences to nothing; use [`pool`](TestDb::pool) with sqlx, or
/// [`url`](TestDb::url) with any other driver.
#[derive(Debug)]
pub struct TestDb<DB: sqlx::Database> {
    pub(crate) pool: sqlx::Pool<DB>,
    pub(crate) url: Option<String>,
    pub(crate) name: String,
    pub(crate) backend: Backend,
    pub(crate) isolation: crate::Isolation,
    /// Shared by every clone: the leak checks report a clone alive after the test.
    pub(crate) alive: std::sync::Arc<()>,
}

impl<DB: sqlx::Database> Clone for TestDb<DB> {
    fn clone(&self) -> Self {
        TestDb {
            pool: self.pool.clone(),
            url: self.url.clone(),
            name: self.name.clone(),
            backend: self.backend,
            isolation: self.isolation,
            alive: self.alive.clone(),
        }
    }
}

impl<DB: sqlx::Database> TestDb<DB> {
    /// Asks testbed's leak checks to report a clone of this handle still held once the
    /// test's cleanups have run: the database then belongs to the next test.
    pub(crate) fn watched(self, scope: &testbed::Scope) -> Self {
        testbed::leaks::expect_dropped(
            scope,
            format!(
                "a `TestDb` of database `{}` ({}; testbed closed its pool when the test \
                 ended, and the next test gets the database)",
                self.name, self.backend
            ),
            &self.alive,
        );
        self
    }

    /// A pool of connections to the test's database.
    pub fn pool(&self) -> &sqlx::Pool<DB> {
        &self.pool
    }

    /// The URL to connect to the database with another driver (diesel, sea-orm,
    /// tokio-postgres). `None` for SQLite's in-memory [`Image`](crate::Isolation::Image),
    /// which only its own pool can reach (use [`Isolation::File`](crate::Isolation::File)
    /// for a URL).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The database's name (`testbed_...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backend it lives on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The isolation strategy it was given (never `Auto`: the backend's choice).
    pub fn isolation(&self) -> crate::Isolation {
        self.isolation
    }
}

/// A test database on a backend chosen at run time (a scenario's parameter, say).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyTestDb {
    /// On SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(TestDb<sqlx::Sqlite>),
    /// On PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(TestDb<sqlx::Postgres>),
    /// On MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    MySql(TestDb<sqlx::MySql>),
}

impl AnyTestDb {
    /// The backend it lives on.
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            AnyTestDb::Sqlite(db) => db.backend,
            #[cfg(feature = "postgres")]
            AnyTestDb::Postgres(db) => db.backend,
            #[cfg(feature = "mysql")]
            AnyTestDb::MySql(db) => db.backend,
        }
    }

    /// The database's URL, as [`TestDb::url`].
    pub fn url(&self) -> Option<&str> {
        match self {
            #[cfg(feature = "sqlite")]
            AnyTestDb::Sqlite(db) => db.url(),
            #[cfg(feature = "postgres")]
            AnyTestDb::Postgres(db) => db.url(),
            #[cfg(feature = "mysql")]
            AnyTestDb::MySql(db) => db.url(),
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        match self {
            #[cfg(feature = "sqlite")]
            AnyTestDb::Sqlite(db) => db.name(),
            #[cfg(feature = "postgres")]
            AnyTestDb::Postgres(db) => db.name(),
            #[cfg(feature = "mysql")]
            AnyTestDb::MySql(db) => db.name(),
        }
    }
}

/// Prints where a failing test's kept database is, password redacted, and attaches it
/// to the test's report.
pub(crate) fn announce_kept(scope_details: &testbed::Details, backend: Backend, url: &str) {
    let url = crate::redact(url);
    scope_details.attach("kept database", format!("{backend}: {url}"));
    eprintln!("testbed-db: kept the failing test's {backend} database: {url}");
}
