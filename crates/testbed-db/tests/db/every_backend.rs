//! The promises every backend keeps, each tested once over the backends as scenarios
//! (`name::sqlite`, `name::postgres`, `name::mysql`), each skipped where its server is
//! missing (failed under `TESTBED_REQUIRE`). What only one backend does is tested in
//! that backend's file.

use sqlx::AssertSqlSafe;
use testbed::Scope;
use testbed::scenarios::Scenario;
use testbed_db::{AnyTestDb, Backend, ServerCallError, admin};

use crate::SHOP;

/// The single number `sql` gives on `db`.
async fn number(db: &AnyTestDb, sql: &str) -> i64 {
    let query = AssertSqlSafe(sql.to_owned());
    let result = match db {
        AnyTestDb::Sqlite(db) => sqlx::query_scalar(query).fetch_one(db.pool()).await,
        AnyTestDb::Postgres(db) => sqlx::query_scalar(query).fetch_one(db.pool()).await,
        AnyTestDb::MySql(db) => sqlx::query_scalar(query).fetch_one(db.pool()).await,
        _ => unreachable!("every backend is built for these tests"),
    };
    result.unwrap_or_else(|error| panic!("`{sql}` on {}: {error}", db.name()))
}

/// The database's tables, as the backend's catalog lists them (sqlx's own table aside).
fn count_tables(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "select count(*) from sqlite_master where type = 'table' \
             and name not like 'sqlite_%' and name <> '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "select count(*) from information_schema.tables \
             where table_schema = 'public' and table_name <> '_sqlx_migrations'"
        }
        Backend::MySql => {
            "select count(*) from information_schema.tables \
             where table_schema = database() and table_name <> '_sqlx_migrations'"
        }
    }
}

/// A test's database has the whole schema, its seed rows, and sqlx's record of every
/// migration applied (so sqlx's own migrator finds nothing to do); one on a server is
/// reachable by another driver through its URL.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
async fn a_test_database_has_the_schema_and_the_seed_rows(scope: &Scope, scenario: Scenario) {
    let db = SHOP.for_scenario(scope).await.unwrap();
    assert_eq!(db.backend().name(), scenario.value());
    assert!(db.name().starts_with("testbed_"), "{}", db.name());
    assert_eq!(number(&db, count_tables(db.backend())).await, 22);
    assert_eq!(number(&db, "select count(*) from users").await, 2);
    assert_eq!(
        number(&db, "select count(*) from _sqlx_migrations").await,
        12,
        "sqlx's own migrator must see every migration as applied"
    );
    let current = match &db {
        AnyTestDb::Postgres(db) => {
            let other = sqlx::PgPool::connect(db.url().unwrap()).await.unwrap();
            let name: String = sqlx::query_scalar("select current_database()")
                .fetch_one(&other)
                .await
                .unwrap();
            other.close().await;
            Some(name)
        }
        AnyTestDb::MySql(db) => {
            let other = sqlx::MySqlPool::connect(db.url().unwrap()).await.unwrap();
            let name: String = sqlx::query_scalar("select database()")
                .fetch_one(&other)
                .await
                .unwrap();
            other.close().await;
            Some(name)
        }
        // The default SQLite database lives in memory, with no URL (see `Isolation::File`).
        _ => None,
    };
    if let Some(current) = current {
        assert_eq!(current, db.name());
    }
}

/// Two databases of one test are two: what one loses, the other keeps.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
async fn two_databases_are_isolated(scope: &Scope) {
    let first = SHOP.for_scenario(scope).await.unwrap();
    let second = SHOP.for_scenario(scope).await.unwrap();
    assert_ne!(first.name(), second.name());
    for sql in ["delete from memberships", "delete from users"] {
        let sql = AssertSqlSafe(sql);
        match &first {
            AnyTestDb::Sqlite(db) => sqlx::query(sql).execute(db.pool()).await.map(drop),
            AnyTestDb::Postgres(db) => sqlx::query(sql).execute(db.pool()).await.map(drop),
            AnyTestDb::MySql(db) => sqlx::query(sql).execute(db.pool()).await.map(drop),
            _ => unreachable!("every backend is built for these tests"),
        }
        .unwrap();
    }
    assert_eq!(number(&first, "select count(*) from users").await, 0);
    assert_eq!(number(&second, "select count(*) from users").await, 2);
}

/// Nothing listening at a server's URL is a skip with a hint, never an error.
#[testbed::test(scenarios(postgres, mysql))]
async fn an_unreachable_server_is_unavailable(scenario: Scenario) {
    let (backend, url) = match scenario.value() {
        "postgres" => (
            Backend::Postgres,
            "postgres://postgres@127.0.0.1:1/postgres",
        ),
        _ => (Backend::MySql, "mysql://root@127.0.0.1:1"),
    };
    let error = admin::status(backend, Some(url)).await.unwrap_err();
    assert!(matches!(error, ServerCallError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("hint:"), "{error}");
}

/// A server that refuses the credentials is an error naming the user, never the password.
#[testbed::test(scenarios(postgres, mysql))]
async fn wrong_credentials_are_an_error_without_the_password(scenario: Scenario) {
    let backend: Backend = scenario.value().parse().unwrap();
    if let Err(ServerCallError::Unavailable(unavailable)) = admin::status(backend, None).await {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
    let url = match backend {
        Backend::Postgres => "postgres://no_such_role:hunter2@127.0.0.1:5432/postgres",
        _ => "mysql://no_such_role:hunter2@127.0.0.1:3306",
    };
    let error = admin::status(backend, Some(url)).await.unwrap_err();
    let message = format!("{error:?}");
    assert!(
        matches!(error, ServerCallError::Connect { .. }),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("no_such_role"), "{message}");
}

static DIESEL: testbed_db::Database =
    testbed_db::Database::diesel_migrations("tests/diesel_schema");

/// diesel's migrations directory, read as it is: each folder's `up.sql` applied in
/// order (never `down.sql`), and recorded where diesel's runner looks, with diesel's
/// versions.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
async fn diesel_migrations_are_applied_and_recorded_as_diesel_does(scope: &Scope) {
    let db = DIESEL.for_scenario(scope).await.unwrap();
    assert_eq!(number(&db, "select count(*) from users").await, 0);
    assert_eq!(number(&db, "select count(*) from posts").await, 0);
    let versions = "select version from __diesel_schema_migrations order by version";
    let recorded: Vec<String> = match &db {
        AnyTestDb::Sqlite(db) => sqlx::query_scalar(versions).fetch_all(db.pool()).await,
        AnyTestDb::Postgres(db) => sqlx::query_scalar(versions).fetch_all(db.pool()).await,
        AnyTestDb::MySql(db) => sqlx::query_scalar(versions).fetch_all(db.pool()).await,
        _ => unreachable!("every backend is built for these tests"),
    }
    .unwrap();
    assert_eq!(recorded, ["20240101000000", "20240102093000"]);
}

/// A folder that is not `<version>_<name>` is an error naming it.
#[tokio::test]
async fn a_diesel_folder_without_a_version_is_named() {
    static BAD: testbed_db::Database =
        testbed_db::Database::diesel_migrations("tests/bad_diesel_schema");
    let scope = Scope::new("bad diesel");
    let error = BAD.sqlite(&scope).await.unwrap_err();
    let shown = format!("{error:?}");
    assert!(
        matches!(
            error,
            testbed_db::DatabaseAcquireError::Schema(
                testbed_db::SchemaLoadError::BadMigrations { .. }
            )
        ),
        "{shown}"
    );
    assert!(
        shown.contains("`not_a_migration` is not a diesel migration folder"),
        "{shown}"
    );
}
