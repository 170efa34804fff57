//! Sync tests get the same databases as async ones, through `testbed_db::block_on`: the
//! same isolation, a pool that keeps working between calls, and the same cleanup when
//! the scope ends.

use sqlx::AssertSqlSafe;
use testbed::{Outcome, Scope};
use testbed_db::{AnyTestDb, block_on};

use crate::{SHOP, SHOP_CLONES};

/// Adds a user and counts the users, through the test database's own pool, one
/// `block_on` per statement: the pool outlives each call.
fn add_a_user_and_count(db: &AnyTestDb, n: u32) -> i64 {
    let insert = format!(
        "insert into users (email, name, created_at) \
         values ('sync{n}@example.com', 'Sync', '2024-01-03 09:00:00')"
    );
    let count = "select count(*) from users";
    match db {
        AnyTestDb::Sqlite(db) => {
            block_on(sqlx::query(AssertSqlSafe(insert.clone())).execute(db.pool())).unwrap();
            block_on(sqlx::query_scalar(count).fetch_one(db.pool())).unwrap()
        }
        AnyTestDb::Postgres(db) => {
            block_on(sqlx::query(AssertSqlSafe(insert.clone())).execute(db.pool())).unwrap();
            block_on(sqlx::query_scalar(count).fetch_one(db.pool())).unwrap()
        }
        AnyTestDb::MySql(db) => {
            block_on(sqlx::query(AssertSqlSafe(insert.clone())).execute(db.pool())).unwrap();
            block_on(sqlx::query_scalar(count).fetch_one(db.pool())).unwrap()
        }
        _ => unreachable!("every backend is built for these tests"),
    }
}

/// Each of these starts from the two seed users, whatever the other wrote: isolated.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
fn a_sync_test_gets_an_isolated_database(scope: &Scope) {
    let db = block_on(SHOP.for_scenario(scope)).unwrap();
    assert_eq!(
        add_a_user_and_count(&db, 1),
        3,
        "{} starts from the seed rows",
        db.name()
    );
}

#[testbed::test(scenarios(sqlite, postgres, mysql))]
fn another_sync_test_gets_an_isolated_database(scope: &Scope) {
    let db = block_on(SHOP.for_scenario(scope)).unwrap();
    assert_eq!(
        add_a_user_and_count(&db, 1),
        3,
        "{} starts from the seed rows",
        db.name()
    );
    assert_eq!(add_a_user_and_count(&db, 2), 4, "the pool still works");
}

/// A sync scope's end gives the database back as an async one's does: a PostgreSQL
/// clone is dropped.
#[testbed::test]
fn a_sync_scope_drops_its_clone_when_it_ends() {
    let scope = Scope::new("sync clone");
    let db = match block_on(SHOP_CLONES.try_postgres(&scope)) {
        Ok(db) => db,
        Err(testbed_db::DatabaseAcquireError::Unavailable(unavailable)) => {
            testbed::skip(unavailable.requirement(), unavailable.reason())
        }
        Err(error) => panic!("{error:?}"),
    };
    let name = db.name().to_owned();
    let url = std::env::var(testbed_db::POSTGRES_URL_ENV)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = block_on(sqlx::PgPool::connect(&url)).unwrap();
    let exists = |name: &str| -> bool {
        block_on(
            sqlx::query_scalar("select exists (select from pg_database where datname = $1)")
                .bind(name.to_owned())
                .fetch_one(&admin),
        )
        .unwrap()
    };
    assert!(exists(&name), "{name} exists while the test runs");
    drop(db);
    scope.finish(Outcome::Passed).unwrap();
    assert!(!exists(&name), "{name} is dropped when the scope ends");
    block_on(admin.close());
}

/// Inside a runtime, `block_on` would block that runtime's thread: it refuses, naming
/// the fix.
#[tokio::test]
#[should_panic(expected = "`.await` the call instead")]
async fn block_on_refuses_async_code() {
    block_on(async {});
}
