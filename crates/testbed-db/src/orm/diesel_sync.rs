//! [`TestDb::diesel`]: a ready synchronous diesel connection to the test's database,
//! opened on its URL.

use diesel::Connection;

use crate::{ConnectionOpenError, TestDb};

/// Opens a `C` on `db`'s URL: an error naming the fix for a database without one, and
/// the URL redacted in the error.
pub(super) fn establish<C: Connection, DB: sqlx::Database>(
    db: &TestDb<DB>,
) -> Result<C, ConnectionOpenError> {
    let url = super::url::url_for(db, "diesel")?;
    C::establish(url).map_err(|source| ConnectionOpenError::Connect {
        driver: "diesel",
        backend: db.backend(),
        url: crate::redact(url),
        source,
    })
}

#[cfg(feature = "diesel-sqlite")]
impl TestDb<sqlx::Sqlite> {
    /// A diesel connection to the test's database, set up as the pool's connections are
    /// (a 5 s busy timeout, foreign keys enforced), so the two take turns writing.
    ///
    /// It needs a database file: SQLite's default [`Image`](crate::Isolation::Image)
    /// lives in memory, reachable only by the pool, and gives
    /// [`ConnectionOpenError::NoUrl`]; declare the `Database` with
    /// [`.isolation(Isolation::File)`](crate::Isolation::File).
    ///
    /// ```
    /// use diesel::connection::SimpleConnection;
    /// use testbed_db::{Database, Isolation, block_on};
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema").isolation(Isolation::File);
    ///
    /// #[testbed::test]
    /// fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = block_on(DB.sqlite(scope))?;
    ///     let mut conn = db.diesel()?;
    ///     conn.batch_execute("insert into users (id, name) values (1, 'Ada')")?;
    ///     let name: String = block_on(sqlx::query_scalar("select name from users").fetch_one(db.pool()))?;
    ///     assert_eq!(name, "Ada");
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn diesel(&self) -> Result<diesel::SqliteConnection, ConnectionOpenError> {
        use diesel::connection::SimpleConnection;

        let mut conn: diesel::SqliteConnection = establish(self)?;
        conn.batch_execute("pragma busy_timeout = 5000; pragma foreign_keys = on")
            .map_err(|error| ConnectionOpenError::Connect {
                driver: "diesel",
                backend: self.backend(),
                url: crate::redact(self.url().unwrap_or_default()),
                source: diesel::ConnectionError::CouldntSetupConfiguration(error),
            })?;
        Ok(conn)
    }
}

#[cfg(feature = "diesel-postgres")]
impl TestDb<sqlx::Postgres> {
    /// A diesel connection to the test's database, opened on its URL with libpq.
    ///
    /// It is a session of its own, so under [`Rollback`](crate::Isolation::Rollback) it
    /// would see none of the rows the pool's transaction holds and commit what it writes
    /// past the rollback: there it is [`ConnectionOpenError::RolledBack`]; use the
    /// default `Recycle` (or `Clone`) with it.
    ///
    /// ```no_run
    /// use diesel::connection::SimpleConnection;
    /// use testbed_db::{Database, block_on};
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test]
    /// fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = block_on(DB.postgres(scope))?; // skipped when no PostgreSQL answers
    ///     let mut conn = db.diesel()?;
    ///     conn.batch_execute("insert into users (id, name) values (1, 'Ada')")?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn diesel(&self) -> Result<diesel::PgConnection, ConnectionOpenError> {
        establish(self)
    }
}

#[cfg(feature = "diesel-mysql")]
impl TestDb<sqlx::MySql> {
    /// A diesel connection to the test's database, opened on its URL with
    /// libmysqlclient.
    ///
    /// ```no_run
    /// use diesel::connection::SimpleConnection;
    /// use testbed_db::{Database, block_on};
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test]
    /// fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = block_on(DB.mysql(scope))?; // skipped when no MySQL answers
    ///     let mut conn = db.diesel()?;
    ///     conn.batch_execute("insert into users (id, name) values (1, 'Ada')")?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn diesel(&self) -> Result<diesel::MysqlConnection, ConnectionOpenError> {
        establish(self)
    }
}
