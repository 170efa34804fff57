//! The PostgreSQL tests, one module per concern, and what they share: the schemas'
//! builds, the check that the server is here, and lookups of a database's state.

mod clusters;
mod lifecycle;
pub(crate) mod recycling;
mod rollback;
mod schema_changes;

use testbed::Scope;
use testbed_db::admin;
use testbed_db::{Backend, Database, ServerCallError};

use crate::Build;

/// A `Database::function` schema's build that runs `sql` on PostgreSQL (the twin of
/// `mysql::on_mysql`).
fn on_postgres<'c>(target: testbed_db::Target<'c>, sql: &'static str) -> crate::Build<'c> {
    Box::pin(async move {
        if let testbed_db::Target::Postgres(conn) = target {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(conn)
                .await?;
        }
        Ok(())
    })
}

/// Skips the test (fails it under `TESTBED_REQUIRE`) when PostgreSQL is not here.
async fn require_postgres() {
    if let Err(ServerCallError::Unavailable(unavailable)) =
        admin::status(Backend::Postgres, None).await
    {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
}

/// Whether database `name` is on the server, as testbed's status lists it.
async fn exists(name: &str) -> bool {
    admin::status(Backend::Postgres, None)
        .await
        .unwrap()
        .iter()
        .any(|held| held.name == name)
}

/// A one-table schema; each test that changes it has its own, so no other test claims
/// its pooled databases meanwhile.
fn things(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(target, "create table things (id int primary key)")
}

/// The one number `sql` selects.
async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits up to 5 s for database `name` to be gone from the server (asked directly: a
/// database that lost testbed's comment is not in testbed's status, and under nextest
/// a broker drops a database after its test's process has ended).
async fn dropped(name: &str) -> bool {
    let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    let on_server = format!("select count(*) from pg_database where datname = '{name}'");
    let mut gone = false;
    for _ in 0..50 {
        gone = count(&admin, &on_server).await == 0;
        if gone {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    admin.close().await;
    gone
}

/// Runs `change` in a test of `database`, checks that its database was dropped, not
/// handed on, and gives the next test's database (in the returned scope, to finish).
async fn next_after_a_change(
    database: &Database,
    change: &str,
) -> (Scope, testbed_db::TestDb<sqlx::Postgres>) {
    let name = crate::run_in_a_test(database, Backend::Postgres, change).await;
    assert!(dropped(&name).await, "{name} was recycled after `{change}`");
    let scope = Scope::new("after a change");
    let db = database.postgres(&scope).await.unwrap();
    (scope, db)
}

/// Waits (up to 10 s) until no session holds the lock that marks database `name` in use:
/// a killed child's session ends a moment after the child.
async fn wait_until_unclaimed(name: &str) {
    let mut registry_url = url::Url::parse(&admin_url()).unwrap();
    registry_url.set_path("/testbed_registry");
    let registry = sqlx::PgPool::connect(registry_url.as_str()).await.unwrap();
    for _ in 0..1000 {
        let held: bool = sqlx::query_scalar(
            "select exists (select from pg_locks l
               where l.locktype = 'advisory' and l.granted
                 and l.database = (select oid from pg_database
                                   where datname = current_database())
                 and ((l.classid::bigint << 32) | l.objid::bigint) = testbed_pool_key($1))",
        )
        .bind(name)
        .fetch_one(&registry)
        .await
        .unwrap();
        if !held {
            registry.close().await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the killed child's claim on {name} outlived it by 10 s");
}

/// The admin URL of the PostgreSQL server the tests use.
fn admin_url() -> String {
    std::env::var("TESTBED_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The notes a session of its own on `db`'s database sees: the committed ones only.
async fn committed_notes(db: &testbed_db::TestDb<sqlx::Postgres>) -> i64 {
    let other = sqlx::PgPool::connect(db.url().unwrap()).await.unwrap();
    let count = count_notes(&other).await;
    other.close().await;
    count
}

/// Acquires from `database` in `scope` until it hands out `name` (the pool also keeps
/// a spare, which may come first).
async fn acquire_named(
    database: &Database,
    scope: &Scope,
    name: &str,
) -> testbed_db::TestDb<sqlx::Postgres> {
    for _ in 0..4 {
        let db = database.postgres(scope).await.unwrap();
        if db.name() == name {
            return db;
        }
    }
    panic!("{name} never came back to the pool");
}

/// A schema of one `notes (body text)` table, for tests that need rows and no more.
fn notes(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(target, "create table notes (body text)")
}

/// A schema of one `counted` table with a sequence behind its ids.
fn counted(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table counted (id serial primary key, body text)",
    )
}

/// How many rows `notes` holds, as `pool` sees it.
async fn count_notes(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from notes")
        .fetch_one(pool)
        .await
        .unwrap()
}
