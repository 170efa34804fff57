//! [`TestDb::sea_orm`]: a sea-orm `DatabaseConnection` on the test's own sqlx pool, so
//! it reaches every database a test gets, SQLite's in-memory `Image` included, and
//! shares the pool's isolation and connection limit.

use sea_orm::DatabaseConnection;

use crate::{AnyTestDb, TestDb};

#[cfg(feature = "sqlite")]
impl TestDb<sqlx::Sqlite> {
    /// A sea-orm connection to the test's database, on its own sqlx pool
    /// ([`pool`](TestDb::pool)): what one writes, the other reads, even for SQLite's
    /// in-memory [`Image`](crate::Isolation::Image), which has no URL.
    ///
    /// ```no_run
    /// use sea_orm::{ConnectionTrait, Statement};
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test]
    /// async fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = DB.sqlite(scope).await?;
    ///     let orm = db.sea_orm();
    ///     orm.execute_unprepared("insert into users (id, name) values (1, 'Ada')").await?;
    ///     let name: String = sqlx::query_scalar("select name from users").fetch_one(db.pool()).await?;
    ///     assert_eq!(name, "Ada");
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn sea_orm(&self) -> DatabaseConnection {
        sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(self.pool.clone())
    }
}

#[cfg(feature = "postgres")]
impl TestDb<sqlx::Postgres> {
    /// A sea-orm connection to the test's database, on its own sqlx pool
    /// ([`pool`](TestDb::pool)), so it shares the pool's isolation: under
    /// [`Rollback`](crate::Isolation::Rollback) it works inside the test's transaction.
    ///
    /// ```no_run
    /// use sea_orm::ConnectionTrait;
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test]
    /// async fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = DB.postgres(scope).await?; // skipped when no PostgreSQL answers
    ///     db.sea_orm().execute_unprepared("insert into users (id, name) values (1, 'Ada')").await?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn sea_orm(&self) -> DatabaseConnection {
        sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(self.pool.clone())
    }
}

#[cfg(feature = "mysql")]
impl TestDb<sqlx::MySql> {
    /// A sea-orm connection to the test's database, on its own sqlx pool
    /// ([`pool`](TestDb::pool)).
    ///
    /// ```no_run
    /// use sea_orm::ConnectionTrait;
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test]
    /// async fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = DB.mysql(scope).await?; // skipped when no MySQL answers
    ///     db.sea_orm().execute_unprepared("insert into users (id, name) values (1, 'Ada')").await?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn sea_orm(&self) -> DatabaseConnection {
        sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(self.pool.clone())
    }
}

impl AnyTestDb {
    /// A sea-orm connection to the test's database, on its own sqlx pool, whatever its
    /// backend: [`TestDb::sea_orm`] of the variant.
    ///
    /// ```no_run
    /// use sea_orm::ConnectionTrait;
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::diesel_migrations("tests/diesel_schema");
    ///
    /// #[testbed::test(scenarios(sqlite, postgres, mysql))]
    /// async fn names_a_user(scope: &testbed::Scope) -> Result<(), Box<dyn std::error::Error>> {
    ///     let db = DB.for_scenario(scope).await?;
    ///     db.sea_orm().execute_unprepared("insert into users (id, name) values (1, 'Ada')").await?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn sea_orm(&self) -> DatabaseConnection {
        match self {
            #[cfg(feature = "sqlite")]
            AnyTestDb::Sqlite(db) => db.sea_orm(),
            #[cfg(feature = "postgres")]
            AnyTestDb::Postgres(db) => db.sea_orm(),
            #[cfg(feature = "mysql")]
            AnyTestDb::MySql(db) => db.sea_orm(),
        }
    }
}
