//! testbed-db against the real servers: SQLite always; PostgreSQL and MariaDB when they
//! answer (skipped otherwise, failed under `TESTBED_REQUIRE`).

mod bad_input;
mod child;
#[path = "../support/child_process.rs"]
mod child_process;
mod connection_limit;
mod embedded;
mod every_backend;
mod faults;
mod kept_handles;
mod messages;
mod mysql;
mod postgres;
mod roles;
mod secrets;
mod sqlite;
mod sync_tests;

use testbed::{Outcome, Scope};
use testbed_db::{AnyTestDb, Backend, Database};

/// What a `Database::function` schema's build returns.
pub type Build<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), testbed::BoxError>> + Send + 'c>>;

/// The realistic schema: 22 tables in 12 migrations per backend, plus portable seeds.
pub static SHOP: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds!["tests/seeds/base.sql"]);

/// The same, with a fresh clone per test (dropped after it) instead of recycling.
pub static SHOP_CLONES: Database = testbed_db::migrations!("tests/schema")
    .with_seeds(testbed_db::seeds!["tests/seeds/base.sql"])
    .isolation(testbed_db::Isolation::Clone);

/// Claims a database of `database` on `backend` in a test of its own, runs `sql` there,
/// and ends the test, passed; returns the database's name, to tell what its next
/// claimer gets.
pub async fn run_in_a_test(database: &Database, backend: Backend, sql: &str) -> String {
    let scope = Scope::new("changes");
    let db = database.acquire(&scope, backend).await.unwrap();
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match &db {
        AnyTestDb::Sqlite(db) => drop(sqlx::raw_sql(sql).execute(db.pool()).await.unwrap()),
        AnyTestDb::Postgres(db) => drop(sqlx::raw_sql(sql).execute(db.pool()).await.unwrap()),
        AnyTestDb::MySql(db) => drop(sqlx::raw_sql(sql).execute(db.pool()).await.unwrap()),
        other => panic!("no pool for {}", other.backend()),
    }
    let name = db.name().to_owned();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    name
}
