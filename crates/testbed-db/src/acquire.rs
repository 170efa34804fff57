//! Acquiring a test database from a [`Database`] declaration.

use testbed::Scope;

#[cfg(feature = "sqlite")]
use crate::engine;
use crate::{AnyTestDb, Backend, Database, DatabaseAcquireError, ServerCallError, TestDb};

impl Database {
    #[cfg(feature = "sqlite")]
    /// A fresh SQLite database with this schema, for the test of `scope`.
    ///
    /// ```
    /// use testbed_db::Database;
    ///
    /// static DB: Database = Database::function("v1", |target| Box::pin(async move {
    ///     if let testbed_db::Target::Sqlite(conn) = target {
    ///         sqlx::raw_sql("create table notes (body text not null)").execute(conn).await?;
    ///     }
    ///     Ok(())
    /// }));
    ///
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let scope = testbed::Scope::new("stores notes"); // `#[testbed::test]` makes one per test
    /// let db = DB.sqlite(&scope).await?;
    /// sqlx::query("insert into notes values ('hi')").execute(db.pool()).await?;
    /// let count: i64 = sqlx::query_scalar("select count(*) from notes").fetch_one(db.pool()).await?;
    /// assert_eq!(count, 1);
    /// scope.finish_async(testbed::Outcome::Passed).await.unwrap();
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(example()).unwrap();
    /// ```
    pub async fn sqlite(
        &self,
        scope: &Scope,
    ) -> Result<TestDb<sqlx::Sqlite>, DatabaseAcquireError> {
        let isolation = self.isolation_for(Backend::Sqlite)?;
        let step = crate::trace::step("sqlite prepare");
        let prepared = self.prepare(Backend::Sqlite)?;
        step.end();
        let scope_handle = scope.clone();
        let db = engine::run(async move {
            crate::backends::sqlite::acquire(prepared, isolation, &scope_handle).await
        })
        .await?;
        Ok(db.watched(scope))
    }

    #[cfg(feature = "postgres")]
    /// A fresh PostgreSQL database with this schema, for the test of `scope`: a clone of
    /// a template built once per schema, dropped after the test passes.
    ///
    /// If no PostgreSQL server answers, the test is skipped (failed under
    /// `TESTBED_REQUIRE`); see [`try_postgres`](Database::try_postgres).
    pub async fn postgres(
        &self,
        scope: &Scope,
    ) -> Result<TestDb<sqlx::Postgres>, DatabaseAcquireError> {
        skip_unavailable(self.try_postgres(scope).await)
    }

    #[cfg(feature = "postgres")]
    /// As [`postgres`](Database::postgres), returning [`DatabaseAcquireError::Unavailable`] instead of
    /// skipping the test.
    pub async fn try_postgres(
        &self,
        scope: &Scope,
    ) -> Result<TestDb<sqlx::Postgres>, DatabaseAcquireError> {
        let isolation = self.isolation_for(Backend::Postgres)?;
        let prepared = self.prepare(Backend::Postgres)?;
        let db = crate::backends::postgres::acquire(prepared, isolation, scope).await?;
        Ok(db.watched(scope))
    }

    #[cfg(feature = "mysql")]
    /// A MySQL/MariaDB database with this schema, for the test of `scope`: one of a pool
    /// of pre-built databases, reset after the test.
    ///
    /// If no MySQL server answers, the test is skipped (failed under
    /// `TESTBED_REQUIRE`); see [`try_mysql`](Database::try_mysql).
    pub async fn mysql(&self, scope: &Scope) -> Result<TestDb<sqlx::MySql>, DatabaseAcquireError> {
        skip_unavailable(self.try_mysql(scope).await)
    }

    #[cfg(feature = "mysql")]
    /// As [`mysql`](Database::mysql), returning [`DatabaseAcquireError::Unavailable`] instead of
    /// skipping the test.
    pub async fn try_mysql(
        &self,
        scope: &Scope,
    ) -> Result<TestDb<sqlx::MySql>, DatabaseAcquireError> {
        self.isolation_for(Backend::MySql)?; // Recycle is MySQL's one strategy
        let prepared = self.prepare(Backend::MySql)?;
        let db = crate::backends::mysql::acquire(prepared, scope).await?;
        Ok(db.watched(scope))
    }

    /// A database on `backend`, chosen at run time (a scenario's parameter, say).
    /// An unavailable backend skips the test (fails it under `TESTBED_REQUIRE`).
    pub async fn acquire(
        &self,
        scope: &Scope,
        backend: Backend,
    ) -> Result<AnyTestDb, DatabaseAcquireError> {
        let _ = scope; // unused when only one backend is built
        Ok(match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => AnyTestDb::Sqlite(self.sqlite(scope).await?),
            #[cfg(feature = "postgres")]
            Backend::Postgres => AnyTestDb::Postgres(self.postgres(scope).await?),
            #[cfg(feature = "mysql")]
            Backend::MySql => AnyTestDb::MySql(self.mysql(scope).await?),
            #[allow(unreachable_patterns)] // every backend built
            other => return Err(ServerCallError::NotBuilt { backend: other }.into()),
        })
    }
}

impl Database {
    /// A database on the backend the test's scenario names: the first of its values that
    /// is a backend name (`sqlite`, `postgres`, `mysql`, `mariadb`).
    ///
    /// ```no_run
    /// use testbed::Scope;
    /// use testbed_db::{AnyTestDb, Database};
    ///
    /// static DB: Database = Database::migrations("migrations");
    ///
    /// #[testbed::test(scenarios(sqlite, postgres, mysql))]
    /// async fn stores_orders(scope: &Scope) -> Result<(), testbed_db::DatabaseAcquireError> {
    ///     match DB.for_scenario(scope).await? {
    ///         # #[cfg(feature = "sqlite")]
    ///         AnyTestDb::Sqlite(db) => { /* db.pool() */ }
    ///         # #[cfg(feature = "postgres")]
    ///         AnyTestDb::Postgres(db) => { /* ... */ }
    ///         # #[cfg(feature = "mysql")]
    ///         AnyTestDb::MySql(db) => { /* ... */ }
    ///         _ => {}
    ///     }
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub async fn for_scenario(&self, scope: &Scope) -> Result<AnyTestDb, DatabaseAcquireError> {
        let scenario = testbed::scenarios::Scenario::of(scope);
        let backend = scenario.and_then(|scenario| {
            scenario
                .dimensions()
                .iter()
                .find_map(|(_, value)| value.parse::<Backend>().ok())
        });
        match backend {
            Some(backend) => self.acquire(scope, backend).await,
            None => Err(DatabaseAcquireError::NoBackendScenario {
                test: scope.test_name().to_owned(),
            }),
        }
    }
}

/// Skips the running test when its backend is unavailable (a failure under
/// `TESTBED_REQUIRE`, decided by the runner).
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn skip_unavailable<T>(result: Result<T, DatabaseAcquireError>) -> Result<T, DatabaseAcquireError> {
    match result {
        Err(DatabaseAcquireError::Unavailable(unavailable)) => {
            testbed::skip(unavailable.requirement(), unavailable.reason())
        }
        other => other,
    }
}
