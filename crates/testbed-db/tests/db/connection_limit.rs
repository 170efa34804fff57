//! A test that holds every connection its database allows and asks for one more: the
//! `acquire` fails within seconds, and the failing test's report says why, on every
//! backend and on PostgreSQL's one-connection `Rollback`.

use std::time::{Duration, Instant};

use testbed::scenarios::Scenario;
use testbed::{Outcome, Scope};
use testbed_db::{AnyTestDb, Backend, Database, Isolation};

use crate::SHOP;

static ROLLED_BACK_SHOP: Database = testbed_db::migrations!("tests/schema")
    .with_seeds(testbed_db::seeds!["tests/seeds/base.sql"])
    .isolation(Isolation::Rollback);

/// Takes `limit` connections of `pool` at once, then one more, which must fail with a
/// pool timeout, and soon (loose bound: the wait is 5 s; without it, 30).
async fn hold_all_and_ask_one_more<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, limit: usize) {
    let mut held = Vec::new();
    for _ in 0..limit {
        held.push(pool.acquire().await.expect("a connection within the limit"));
    }
    let started = Instant::now();
    let error = pool
        .acquire()
        .await
        .expect_err("one connection more than the limit");
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited {:?} for the refusal",
        started.elapsed()
    );
    drop(held);
}

async fn database_for(scenario: &Scenario, scope: &Scope) -> AnyTestDb {
    match scenario.value() {
        "rollback" => AnyTestDb::Postgres(ROLLED_BACK_SHOP.postgres(scope).await.unwrap()),
        backend => SHOP
            .acquire(scope, backend.parse::<Backend>().unwrap())
            .await
            .unwrap(),
    }
}

#[testbed::test(scenarios(sqlite, postgres, rollback, mysql), timeout = "60s")]
async fn a_test_holding_every_connection_is_told_the_limit(scenario: Scenario) {
    let inner = Scope::new("holds every connection");
    let db = database_for(&scenario, &inner).await;
    let limit = if scenario.value() == "rollback" { 1 } else { 5 };
    match &db {
        AnyTestDb::Sqlite(db) => hold_all_and_ask_one_more(db.pool(), limit).await,
        AnyTestDb::Postgres(db) => hold_all_and_ask_one_more(db.pool(), limit).await,
        AnyTestDb::MySql(db) => hold_all_and_ask_one_more(db.pool(), limit).await,
        _ => unreachable!("three backends"),
    }
    inner.finish_async(Outcome::Failed).await.unwrap();
    let details = inner.details().snapshot();
    let (_, told) = details
        .iter()
        .find(|(name, _)| name == "database connections")
        .expect("the failing test is told about the connection limit");
    let told = told.to_string();
    assert!(
        told.contains(&format!("held all {limit} connection(s)")),
        "{told}"
    );
    assert!(told.contains(db.name()), "{told}");
    assert_eq!(
        told.contains("`Isolation::Recycle` five"),
        scenario.value() == "rollback",
        "only Rollback has a strategy that allows more: {told}"
    );
}

#[testbed::test(scenarios(sqlite, postgres, rollback, mysql))]
async fn a_test_below_the_limit_is_told_nothing(scenario: Scenario) {
    let inner = Scope::new("one connection at a time");
    let db = database_for(&scenario, &inner).await;
    if let AnyTestDb::Postgres(db) = &db {
        for _ in 0..3 {
            sqlx::query("select 1").execute(db.pool()).await.unwrap();
        }
    }
    inner.finish_async(Outcome::Failed).await.unwrap();
    let details = inner.details().snapshot();
    assert!(
        details
            .iter()
            .all(|(name, _)| name != "database connections"),
        "{details:?}"
    );
}
