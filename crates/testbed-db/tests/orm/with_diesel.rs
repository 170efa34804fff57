//! diesel's synchronous connections, in sync tests (diesel's main users): each writes
//! through diesel's query builder, the pool reads it back, and diesel's own migration
//! runner finds the migrations testbed-db applied already run.

use diesel::prelude::*;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use testbed::Scope;
use testbed_db::{AnyTestDb, ConnectionOpenError, block_on};

use crate::{DIESEL_DIR, USERS, USERS_IN_A_FILE, add_in_pool, name_in_pool};

diesel::table! {
    users (id) {
        id -> Integer,
        name -> Varchar,
    }
}

/// diesel's migrations directory as its runner reads it.
fn diesel_migrations() -> FileBasedMigrations {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DIESEL_DIR);
    FileBasedMigrations::from_path(dir).expect("diesel reads the migrations directory")
}

/// On `conn`: diesel's runner has nothing to run, diesel writes user 1, reads user 2
/// (which the pool wrote) and the pool reads user 1. A macro: the three connections
/// share no trait bound short enough to write.
macro_rules! diesel_and_the_pool_share {
    ($db:expr, $conn:expr) => {{
        let (db, conn) = (&$db, &mut $conn);
        let ran = conn
            .run_pending_migrations(diesel_migrations())
            .expect("diesel's runner");
        assert!(ran.is_empty(), "diesel ran {ran:?} again on {}", db.name());
        let added = diesel::insert_into(users::table)
            .values((users::id.eq(1), users::name.eq("Ada")))
            .execute(conn)
            .expect("insert through diesel");
        assert_eq!(added, 1);
        assert_eq!(block_on(name_in_pool(db, 1)).as_deref(), Some("Ada"));
        block_on(add_in_pool(db, 2, "Grace"));
        let name: String = users::table
            .find(2)
            .select(users::name)
            .first(conn)
            .expect("select through diesel");
        assert_eq!(name, "Grace");
    }};
}

/// A ready diesel connection to the test's own database, on every backend.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
fn diesel_and_the_pool_share_the_test_database(scope: &Scope) {
    let db = block_on(USERS_IN_A_FILE.for_scenario(scope)).unwrap();
    match &db {
        AnyTestDb::Sqlite(sqlite) => diesel_and_the_pool_share!(db, sqlite.diesel().unwrap()),
        AnyTestDb::Postgres(pg) => diesel_and_the_pool_share!(db, pg.diesel().unwrap()),
        AnyTestDb::MySql(mysql) => diesel_and_the_pool_share!(db, mysql.diesel().unwrap()),
        _ => unreachable!("every backend is built for these tests"),
    }
}

/// Each test starts from the template: the other test's rows are not here.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
fn a_diesel_test_starts_from_the_template(scope: &Scope) {
    let db = block_on(USERS_IN_A_FILE.for_scenario(scope)).unwrap();
    let count = |db: &AnyTestDb| -> i64 {
        match db {
            AnyTestDb::Sqlite(db) => users::table.count().get_result(&mut db.diesel().unwrap()),
            AnyTestDb::Postgres(db) => users::table.count().get_result(&mut db.diesel().unwrap()),
            AnyTestDb::MySql(db) => users::table.count().get_result(&mut db.diesel().unwrap()),
            _ => unreachable!("every backend is built for these tests"),
        }
        .expect("count through diesel")
    };
    assert_eq!(count(&db), 0, "{}", db.name());
    block_on(add_in_pool(&db, 1, "Edsger"));
    assert_eq!(count(&db), 1, "{}", db.name());
}

/// SQLite's default `Image` lives in memory: diesel cannot open it, and the error says
/// which isolation to declare instead.
#[testbed::test]
fn diesel_on_an_in_memory_sqlite_database_names_the_fix(scope: &Scope) {
    let db = block_on(USERS.sqlite(scope)).unwrap();
    let error = db.diesel().err().expect("no diesel connection to memory");
    let shown = format!("{error:?}");
    assert!(
        matches!(&error, ConnectionOpenError::NoUrl { database, .. } if database == db.name()),
        "{shown}"
    );
    assert!(
        shown.contains("(hint: declare the `Database` with `.isolation(Isolation::File)`"),
        "{shown}"
    );
}

/// Under PostgreSQL's `Rollback`, a diesel session would commit past the test's
/// transaction, into the next test's database: refused, naming the fix.
#[cfg(feature = "diesel-postgres")]
#[testbed::test]
fn diesel_under_rollback_is_refused_naming_the_fix(scope: &Scope) {
    static ROLLED_BACK: testbed_db::Database =
        testbed_db::Database::diesel_migrations("tests/diesel_schema")
            .isolation(testbed_db::Isolation::Rollback);
    let db = block_on(ROLLED_BACK.postgres(scope)).unwrap();
    assert_eq!(db.isolation(), testbed_db::Isolation::Rollback);
    let error = db
        .diesel()
        .err()
        .expect("no diesel connection under Rollback");
    let shown = format!("{error:?}");
    assert!(
        matches!(error, ConnectionOpenError::RolledBack { .. }),
        "{shown}"
    );
    assert!(
        shown.contains("use the default `Recycle`, or `Clone`"),
        "{shown}"
    );
}
