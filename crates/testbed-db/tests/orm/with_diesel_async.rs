//! diesel-async's connections (tokio-postgres, mysql_async): each writes through
//! diesel's query builder, the pool reads it back.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use testbed::Scope;
use testbed_db::{AnyTestDb, block_on};

use crate::{USERS, add_in_pool, name_in_pool};

diesel::table! {
    users (id) {
        id -> Integer,
        name -> Varchar,
    }
}

/// On `conn`: diesel-async writes user 1, reads user 2 (which the pool wrote) and the
/// pool reads user 1. A macro, as for diesel's connections.
macro_rules! diesel_async_and_the_pool_share {
    ($db:expr, $conn:expr) => {{
        let (db, conn) = (&$db, &mut $conn);
        let added = diesel::insert_into(users::table)
            .values((users::id.eq(1), users::name.eq("Ada")))
            .execute(conn)
            .await
            .expect("insert through diesel-async");
        assert_eq!(added, 1);
        assert_eq!(name_in_pool(db, 1).await.as_deref(), Some("Ada"));
        add_in_pool(db, 2, "Grace").await;
        let name: String = users::table
            .find(2)
            .select(users::name)
            .first(conn)
            .await
            .expect("select through diesel-async");
        assert_eq!(name, "Grace");
    }};
}

/// A diesel-async connection to the test's own database, in an async test.
#[testbed::test(scenarios(postgres, mysql))]
async fn diesel_async_and_the_pool_share_the_test_database(scope: &Scope) {
    let db = USERS.for_scenario(scope).await.unwrap();
    match &db {
        AnyTestDb::Postgres(pg) => {
            diesel_async_and_the_pool_share!(db, pg.diesel_async().await.unwrap())
        }
        AnyTestDb::MySql(mysql) => {
            diesel_async_and_the_pool_share!(db, mysql.diesel_async().await.unwrap())
        }
        _ => unreachable!("diesel-async has no SQLite connection of its own"),
    }
}

/// The connection lives on testbed-db's runtime: a sync test uses it through
/// `block_on`, one call after another.
#[testbed::test(scenarios(postgres, mysql))]
fn a_sync_test_uses_diesel_async_through_block_on(scope: &Scope) {
    let db = block_on(USERS.for_scenario(scope)).unwrap();
    let count = users::table.count();
    match &db {
        AnyTestDb::Postgres(pg) => {
            let mut conn = block_on(pg.diesel_async()).unwrap();
            assert_eq!(block_on(count.get_result::<i64>(&mut conn)).unwrap(), 0);
            block_on(add_in_pool(&db, 1, "Edsger"));
            assert_eq!(block_on(count.get_result::<i64>(&mut conn)).unwrap(), 1);
        }
        AnyTestDb::MySql(mysql) => {
            let mut conn = block_on(mysql.diesel_async()).unwrap();
            assert_eq!(block_on(count.get_result::<i64>(&mut conn)).unwrap(), 0);
            block_on(add_in_pool(&db, 1, "Edsger"));
            assert_eq!(block_on(count.get_result::<i64>(&mut conn)).unwrap(), 1);
        }
        _ => unreachable!("diesel-async has no SQLite connection of its own"),
    }
}
