//! PostgreSQL's `Rollback` strategy: nothing a test commits survives it, a failed
//! statement or a new transaction inside the test is handled, and a rolled-back test's
//! session and sequences come back as new for the next one.

use testbed::{Outcome, Scope};
use testbed_db::Database;

use crate::child_process::rerun_without_broker;

use super::{acquire_named, committed_notes, count_notes, counted, notes, require_postgres};

/// Used by one test only: it follows one pooled database through three users, which a
/// concurrent test of the same template would take from it.
static ROLLED_BACK: Database =
    Database::function("rollback v1", notes).isolation(testbed_db::Isolation::Rollback);

static ROLLED_BACK_FAILING: Database =
    Database::function("rollback failing v1", notes).isolation(testbed_db::Isolation::Rollback);

#[testbed::test]
async fn rollback_commits_nothing_even_when_the_test_commits() {
    require_postgres().await;
    let scope = Scope::new("first");
    let db = ROLLED_BACK.postgres(&scope).await.unwrap();
    let name = db.name().to_owned();
    // The test's own transaction is a savepoint inside testbed's.
    let mut transaction = db.pool().begin().await.unwrap();
    sqlx::query("insert into notes values ('in a transaction')")
        .execute(&mut *transaction)
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    sqlx::query("insert into notes values ('autocommitted')")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(count_notes(db.pool()).await, 2);
    // Another connection sees nothing: none of it was committed.
    assert_eq!(committed_notes(&db).await, 0);
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("second");
    let again = acquire_named(&ROLLED_BACK, &scope, &name).await;
    assert_eq!(count_notes(again.pool()).await, 0);
    // A raw COMMIT escapes the transaction: testbed notices and resets the database.
    sqlx::query("insert into notes values ('committed for real')")
        .execute(again.pool())
        .await
        .unwrap();
    sqlx::raw_sql("commit").execute(again.pool()).await.unwrap();
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("third");
    let third = acquire_named(&ROLLED_BACK, &scope, &name).await;
    assert_eq!(count_notes(third.pool()).await, 0);
    assert_eq!(
        committed_notes(&third).await,
        0,
        "the committed row was reset away"
    );
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// Under `Rollback`, a statement that fails takes nothing else with it, as it would on
/// a database of its own: the statements before it stay, the ones after it run.
#[testbed::test]
async fn rollback_survives_a_failing_statement() {
    require_postgres().await;
    let scope = Scope::new("failing statement");
    let db = ROLLED_BACK_FAILING.postgres(&scope).await.unwrap();
    sqlx::query("insert into notes values ('before')")
        .execute(db.pool())
        .await
        .unwrap();
    let refused = sqlx::query("insert into notes values (1 / 0)")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("22012"),
        "{refused}"
    );
    sqlx::query("insert into notes values ('after')")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(count_notes(db.pool()).await, 2);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static ROLLED_BACK_BEGUN_AGAIN: Database =
    Database::function("rollback begun again v1", notes).isolation(testbed_db::Isolation::Rollback);

/// A raw `COMMIT` followed by a raw `BEGIN` leaves a transaction open after the test,
/// but not testbed's: what was committed is reset away all the same.
#[testbed::test]
async fn rollback_notices_a_commit_and_a_new_transaction() {
    require_postgres().await;
    let scope = Scope::new("first");
    let db = ROLLED_BACK_BEGUN_AGAIN.postgres(&scope).await.unwrap();
    let name = db.name().to_owned();
    let mut conn = db.pool().acquire().await.unwrap();
    sqlx::raw_sql("insert into notes values ('committed'); commit; begin")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("second");
    let again = acquire_named(&ROLLED_BACK_BEGUN_AGAIN, &scope, &name).await;
    assert_eq!(
        committed_notes(&again).await,
        0,
        "the committed row was reset away"
    );
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static ROLLED_BACK_KEPT: Database =
    Database::function("rollback kept v1", notes).isolation(testbed_db::Isolation::Rollback);

/// Under `cargo test` a `Rollback` test's session serves the process's next `Rollback`
/// test on the same database (no new server session per test), and that test finds it
/// as a new one: what outlives a rollback (a session's advisory lock, a prepared
/// statement) is gone.
#[testbed::test]
async fn a_rollback_session_serves_the_next_test_as_new() {
    if rerun_without_broker("postgres::rollback::a_rollback_session_serves_the_next_test_as_new") {
        return;
    }
    require_postgres().await;
    let scope = Scope::new("first");
    let db = ROLLED_BACK_KEPT.postgres(&scope).await.unwrap();
    let name = db.name().to_owned();
    let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(db.pool())
        .await
        .unwrap();
    // Neither is undone by a rollback.
    sqlx::raw_sql("select pg_advisory_lock(42); prepare left_behind as select 1")
        .execute(db.pool())
        .await
        .unwrap();
    // A handle still held past the test would have its pool closed, not handed on.
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("second");
    let again = acquire_named(&ROLLED_BACK_KEPT, &scope, &name).await;
    let (same_backend, statements, locks): (bool, i64, i64) = sqlx::query_as(
        "select pg_backend_pid() = $1, \
         (select count(*) from pg_prepared_statements where name = 'left_behind'), \
         (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())",
    )
    .bind(backend)
    .fetch_one(again.pool())
    .await
    .unwrap();
    assert!(same_backend, "the first test's session serves the second");
    assert_eq!((statements, locks), (0, 0), "the second finds it as new");
    // Still inside testbed's transaction: nothing is committed.
    sqlx::query("insert into notes values ('second')")
        .execute(again.pool())
        .await
        .unwrap();
    assert_eq!(committed_notes(&again).await, 0);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// One schema, two strategies: the same template, the same pooled databases.
static COUNTED: Database = Database::function("counted v1", counted);
static COUNTED_ROLLBACK: Database =
    Database::function("counted v1", counted).isolation(testbed_db::Isolation::Rollback);

/// A rolled-back test still moves sequences (`nextval` is not undone by a rollback):
/// the next user of its database, whatever its strategy, gets the ids a fresh copy
/// gives.
#[testbed::test]
async fn a_rolled_back_test_leaves_its_sequences_rewound() {
    require_postgres().await;
    let scope = Scope::new("rolled back");
    let db = COUNTED_ROLLBACK.postgres(&scope).await.unwrap();
    let name = db.name().to_owned();
    for body in ["a", "b", "c"] {
        sqlx::query("insert into counted (body) values ($1)")
            .bind(body)
            .execute(db.pool())
            .await
            .unwrap();
    }
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("recycled");
    let again = acquire_named(&COUNTED, &scope, &name).await;
    let id: i32 = sqlx::query_scalar("insert into counted (body) values ('d') returning id")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert_eq!(id, 1, "the rolled-back test's ids were given back");
    scope.finish_async(Outcome::Passed).await.unwrap();
}
