//! The MySQL/MariaDB tests, one module per concern, and what they share: the pooled
//! schemas the tests watch, the check that the server is here, and lookups of a
//! database's state (its registry record, a table's id, a counter).

mod claims;
pub(crate) mod resets;
mod schema_changes;
pub(crate) mod templates;

use testbed_db::admin::{self, HeldKind};
use testbed_db::{Backend, Database, ServerCallError};

/// The shop schema with pools of their own: these tests watch their databases' states,
/// which another test process drawing from the same pool would change.
static OWN_POOL: Database = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
    "tests/seeds/base.sql",
    "tests/seeds/own_pool.sql"
]);
static COUNTERS: Database = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
    "tests/seeds/base.sql",
    "tests/seeds/counters_pool.sql"
]);
/// Used by a child process killed mid-test, and then by the test that runs it.
pub static KILLED_COUNTERS: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/killed_counters_pool.sql"
    ]);
/// Used by a child process killed while a statement of its test still runs, and then by
/// the test that runs it.
pub static STRAGGLER: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/straggler_pool.sql"
    ]);
/// Seeded as `COUNTERS`, with a template of its own: its registry records are removed
/// by the test that uses it.
pub static UNRECORDED: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/counters_pool.sql",
        "tests/seeds/unrecorded_pool.sql"
    ]);
/// Seeded as `COUNTERS`, with a pool of its own: its test watches its databases' states.
static RECORDED_CLEAN: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
        "tests/seeds/base.sql",
        "tests/seeds/counters_pool.sql",
        "tests/seeds/recorded_clean_pool.sql"
    ]);
static ALTERED: Database = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
    "tests/seeds/base.sql",
    "tests/seeds/altered_pool.sql"
]);

/// Skips the test (fails it under `TESTBED_REQUIRE`) when MySQL/MariaDB is not here.
async fn require_mysql() {
    if let Err(ServerCallError::Unavailable(unavailable)) =
        admin::status(Backend::MySql, None).await
    {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
}

/// Waits until no other run of this suite on the same server holds the lock named
/// `what` (a test another run's copy of itself would disturb), and holds it until the
/// returned session is dropped.
async fn one_run_at_a_time(what: &str) -> sqlx::MySqlConnection {
    let mut session = <sqlx::MySqlConnection as sqlx::Connection>::connect(&admin_url())
        .await
        .unwrap();
    sqlx::query("select get_lock(concat('testbed-db tests: ', ?), 600)")
        .bind(what)
        .execute(&mut session)
        .await
        .unwrap();
    session
}

/// The admin URL of the MySQL server the tests use.
fn admin_url() -> String {
    std::env::var(testbed_db::MYSQL_URL_ENV)
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

async fn kind_of(name: &str) -> Option<HeldKind> {
    admin::status(Backend::MySql, None)
        .await
        .unwrap()
        .into_iter()
        .find(|held| held.name == name)
        .map(|held| held.kind)
}

/// The next id of `table` in `database`, as a fresh copy of it would hand out.
async fn next_id(database: &str, table: &str) -> u64 {
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    let next: u64 = sqlx::query_scalar(
        "select cast(auto_increment as unsigned) from information_schema.tables
         where table_schema = ? and table_name = ?",
    )
    .bind(database)
    .bind(table)
    .fetch_one(&admin)
    .await
    .unwrap();
    admin.close().await;
    next
}

/// The InnoDB table id of `table` in database `database`: a table made again gets a
/// new one.
async fn table_id(admin: &sqlx::MySqlPool, database: &str, table: &str) -> u64 {
    sqlx::query_scalar(
        "select cast(table_id as unsigned) from information_schema.innodb_sys_tables
         where name = concat(?, '/', ?)",
    )
    .bind(database)
    .bind(table)
    .fetch_one(admin)
    .await
    .unwrap()
}

/// A schema of one `notes (body text)` table, for tests that need rows and no more.
fn notes(target: testbed_db::Target<'_>) -> crate::Build<'_> {
    on_mysql(target, "create table notes (body text)")
}

/// A `Database::function` schema's build that runs `sql` on MySQL.
fn on_mysql<'c>(target: testbed_db::Target<'c>, sql: &'static str) -> crate::Build<'c> {
    Box::pin(async move {
        if let testbed_db::Target::MySql(conn) = target {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(conn)
                .await?;
        }
        Ok(())
    })
}

/// The one integer `sql` returns on `pool`.
async fn count(pool: &sqlx::MySqlPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The one text `sql` returns on `pool`.
async fn text(pool: &sqlx::MySqlPool, sql: &str) -> String {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The registry's state of pooled database `name`.
async fn registry_state(name: &str) -> String {
    let url = admin_url();
    let admin = sqlx::MySqlPool::connect(&url).await.unwrap();
    let state = sqlx::query_scalar("select state from testbed_registry.databases where name = ?")
        .bind(name)
        .fetch_one(&admin)
        .await
        .unwrap();
    admin.close().await;
    state
}
