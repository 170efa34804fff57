//! [`TestDb::diesel_async`]: a diesel-async connection to the test's database, opened on
//! its URL by pure-Rust drivers (tokio-postgres, mysql_async), on testbed-db's own
//! runtime so that it works from any test's (or from a sync test, through
//! [`block_on`](crate::block_on)).

use diesel_async::AsyncConnection;

use crate::{ConnectionOpenError, TestDb};

/// Opens a `C` on `db`'s URL, on the engine: tokio-postgres drives its connection from
/// a task spawned where it connects, which must outlive the test's runtime.
async fn establish<C, DB>(db: &TestDb<DB>) -> Result<C, ConnectionOpenError>
where
    C: AsyncConnection + Send + 'static,
    DB: sqlx::Database,
{
    let url = super::url::url_for(db, "diesel-async")?;
    let owned = url.to_owned();
    crate::engine::run(async move { C::establish(&owned).await })
        .await
        .map_err(|source| ConnectionOpenError::Connect {
            driver: "diesel-async",
            backend: db.backend(),
            url: crate::redact(url),
            source,
        })
}

#[cfg(feature = "diesel-async-postgres")]
impl TestDb<sqlx::Postgres> {
    /// A diesel-async connection to the test's database (tokio-postgres; no C library).
    /// It lives on testbed-db's runtime, so it works from any async test, and from a sync
    /// one through [`block_on`](crate::block_on).
    ///
    /// It is a session of its own, so under [`Rollback`](crate::Isolation::Rollback) it
    /// would see none of the rows the pool's transaction holds and commit what it writes
    /// past the rollback: there it is [`ConnectionOpenError::RolledBack`]; use the
    /// default `Recycle` (or `Clone`) with it.
    ///
    /// ```no_run
    /// use diesel_async::SimpleAsyncConnection;
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test]
    /// async fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = DB.postgres(scope).await?; // skipped when no PostgreSQL answers
    ///     let mut conn = db.diesel_async().await?;
    ///     conn.batch_execute("insert into users (id, name) values (1, 'Ada')").await?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub async fn diesel_async(
        &self,
    ) -> Result<diesel_async::AsyncPgConnection, ConnectionOpenError> {
        establish(self).await
    }
}

#[cfg(feature = "diesel-async-mysql")]
impl TestDb<sqlx::MySql> {
    /// A diesel-async connection to the test's database (mysql_async; no C library).
    /// It lives on testbed-db's runtime, so it works from any async test, and from a sync
    /// one through [`block_on`](crate::block_on).
    ///
    /// ```no_run
    /// use diesel_async::SimpleAsyncConnection;
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test]
    /// async fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = DB.mysql(scope).await?; // skipped when no MySQL answers
    ///     let mut conn = db.diesel_async().await?;
    ///     conn.batch_execute("insert into users (id, name) values (1, 'Ada')").await?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub async fn diesel_async(
        &self,
    ) -> Result<diesel_async::AsyncMysqlConnection, ConnectionOpenError> {
        establish(self).await
    }
}
