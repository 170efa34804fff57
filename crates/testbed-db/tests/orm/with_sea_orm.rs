//! sea-orm on the test's own sqlx pool: every backend, SQLite's in-memory `Image`
//! included.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use testbed::Scope;

use crate::{USERS, add_in_pool, name_in_pool};

/// Adds user `id` through sea-orm's query builder and connection.
async fn add_through_sea_orm(orm: &DatabaseConnection, id: i32, name: &str) {
    let insert = Query::insert()
        .into_table(Alias::new("users"))
        .columns([Alias::new("id"), Alias::new("name")])
        .values_panic([id.into(), name.into()])
        .to_owned();
    let done = orm.execute(&insert).await.expect("insert through sea-orm");
    assert_eq!(done.rows_affected(), 1);
}

/// The name of user `id`, read through sea-orm.
async fn name_through_sea_orm(orm: &DatabaseConnection, id: i32) -> Option<String> {
    let select = Query::select()
        .column(Alias::new("name"))
        .from(Alias::new("users"))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    let row = orm
        .query_one(&select)
        .await
        .expect("select through sea-orm");
    row.map(|row| row.try_get("", "name").expect("a name"))
}

/// What sea-orm writes, the pool reads, and the other way round: one database. On
/// SQLite it is the in-memory `Image`, which has no URL.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
async fn sea_orm_and_the_pool_share_the_test_database(scope: &Scope) {
    let db = USERS.for_scenario(scope).await.unwrap();
    if let testbed_db::AnyTestDb::Sqlite(sqlite) = &db {
        assert_eq!(
            sqlite.url(),
            None,
            "the default SQLite database is in memory"
        );
    }
    let orm = db.sea_orm();
    add_through_sea_orm(&orm, 1, "Ada").await;
    assert_eq!(name_in_pool(&db, 1).await.as_deref(), Some("Ada"));
    add_in_pool(&db, 2, "Grace").await;
    assert_eq!(
        name_through_sea_orm(&orm, 2).await.as_deref(),
        Some("Grace")
    );
}

/// Each test starts from the template: the other test's rows are not here.
#[testbed::test(scenarios(sqlite, postgres, mysql))]
async fn a_sea_orm_test_starts_from_the_template(scope: &Scope) {
    let db = USERS.for_scenario(scope).await.unwrap();
    let orm = db.sea_orm();
    assert_eq!(name_through_sea_orm(&orm, 1).await, None, "{}", db.name());
    add_through_sea_orm(&orm, 1, "Edsger").await;
    assert_eq!(name_in_pool(&db, 1).await.as_deref(), Some("Edsger"));
}
