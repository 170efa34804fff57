//! PostgreSQL's recycled databases between tests: rows back as the template left them,
//! sessions ended or cleaned, a pool grown to what its tests hold and shrunk after a
//! peak, the fingerprint skipped after quiet tests, and a killed run's database taken
//! over by its next user.

use testbed::{Outcome, Scope};
use testbed_db::admin::{self, HeldKind};
use testbed_db::{Backend, Database};

use crate::child;
use crate::child_process::{rerun_as_under_cargo_test, rerun_without_broker};

use super::{
    acquire_named, admin_url, committed_notes, dropped, notes, on_postgres, require_postgres,
    things, wait_until_unclaimed,
};

/// The shop schema with a pool no other test draws from.
static OWN_POOL: Database = testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds![
    "tests/seeds/base.sql",
    "tests/seeds/own_pool.sql"
]);

#[testbed::test]
async fn a_recycled_database_comes_back_as_the_template_left_it() {
    require_postgres().await;
    let scope = Scope::new("first");
    let db = OWN_POOL.postgres(&scope).await.unwrap();
    let name = db.name().to_owned();
    assert!(name.starts_with("testbed_pool_"), "{name}");
    let fresh_id: i64 = sqlx::query_scalar(
        "insert into users (email, name, created_at) values ('c@example.com', 'C', now()) returning id",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    sqlx::query("delete from memberships")
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("update users set name = 'changed'")
        .execute(db.pool())
        .await
        .unwrap();
    // What a test can leave on a session, which the next test must not inherit.
    let mut conn = db.pool().acquire().await.unwrap();
    sqlx::raw_sql("create temp table scratch (x int); set application_name = 'leaky'")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    scope.finish_async(Outcome::Passed).await.unwrap();

    // The next tests in this process get it back, reset (in the background, so it may
    // come back after the spare the pool keeps ready).
    let scope = Scope::new("second");
    let again = acquire_named(&OWN_POOL, &scope, &name).await;
    let names: Vec<String> = sqlx::query_scalar("select name from users order by id")
        .fetch_all(again.pool())
        .await
        .unwrap();
    assert_eq!(names, ["Ada", "Brian"]);
    for _ in 0..3 {
        let (scratch, application): (Option<String>, String) = sqlx::query_as(
            "select to_regclass('pg_temp.scratch')::text, current_setting('application_name')",
        )
        .fetch_one(again.pool())
        .await
        .unwrap();
        assert_eq!(scratch, None, "a temporary table leaked into the next test");
        assert_ne!(
            application, "leaky",
            "a session setting leaked into the next test"
        );
    }
    let memberships: i64 = sqlx::query_scalar("select count(*) from memberships")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert_eq!(memberships, 1);
    let next_id: i64 = sqlx::query_scalar(
        "insert into users (email, name, created_at) values ('c@example.com', 'C', now()) returning id",
    )
    .fetch_one(again.pool())
    .await
    .unwrap();
    assert_eq!(next_id, fresh_id, "sequences are rewound");
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A schema of its own, so that no other test draws its databases.
static SESSIONS: Database = Database::function("sessions v1", |target| {
    on_postgres(target, "create table notes (body text not null)")
});

/// [`notes`] under a version of its own, so that no other test draws its databases.
static KEPT_SESSION: Database = Database::function("kept session v2", notes);

/// A session the test opened itself from the database's URL, and kept past the test (in
/// a `static`, say), is ended before the reset, under either runner: its transaction,
/// committed later, would otherwise land in the next test's database.
#[testbed::test]
async fn a_session_opened_from_the_url_and_kept_is_ended_before_the_reset() {
    require_postgres().await;
    let scope = Scope::new("first");
    let db = KEPT_SESSION.postgres(&scope).await.unwrap();
    let name = db.name().to_owned();
    let mut kept = <sqlx::PgConnection as sqlx::Connection>::connect(db.url().unwrap())
        .await
        .unwrap();
    sqlx::raw_sql("begin; insert into notes values ('late')")
        .execute(&mut kept)
        .await
        .unwrap();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("second");
    let again = acquire_named(&KEPT_SESSION, &scope, &name).await;
    assert!(
        sqlx::raw_sql("commit").execute(&mut kept).await.is_err(),
        "the kept session outlived the reset of {name}"
    );
    assert_eq!(
        committed_notes(&again).await,
        0,
        "nothing of the kept session reached the next test"
    );
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
async fn a_recycled_databases_sessions_come_back_clean() {
    require_postgres().await;
    let scope = Scope::new("first");
    let db = SESSIONS.postgres(&scope).await.unwrap();
    let name = db.name().to_owned();
    // Each left on its connection, all held at once so that they are distinct: an open
    // transaction with a row in it, a failed transaction, session state.
    let mut open = db.pool().acquire().await.unwrap();
    sqlx::raw_sql("begin; insert into notes values ('uncommitted')")
        .execute(&mut *open)
        .await
        .unwrap();
    let mut failed = db.pool().acquire().await.unwrap();
    sqlx::raw_sql("begin").execute(&mut *failed).await.unwrap();
    assert!(
        sqlx::raw_sql("select 1 / 0")
            .execute(&mut *failed)
            .await
            .is_err()
    );
    let mut settings = db.pool().acquire().await.unwrap();
    sqlx::raw_sql("set search_path = nowhere; prepare leaked as select 1; listen leaked")
        .execute(&mut *settings)
        .await
        .unwrap();
    drop((open, failed, settings));
    scope.finish_async(Outcome::Passed).await.unwrap();

    let scope = Scope::new("second");
    let again = acquire_named(&SESSIONS, &scope, &name).await;
    // Held at once again, so that every session the pool keeps is looked at.
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(again.pool().acquire().await.unwrap());
    }
    for session in &mut sessions {
        let (notes, path, prepared): (i64, String, i64) = sqlx::query_as(
            "select (select count(*) from public.notes), current_setting('search_path'),
                    (select count(*) from pg_prepared_statements where name = 'leaked')",
        )
        .fetch_one(&mut **session)
        .await
        .expect("no session is left in a failed transaction");
        assert_eq!(notes, 0, "a transaction was left open into the next test");
        assert_ne!(
            path, "nowhere",
            "a session setting leaked into the next test"
        );
        assert_eq!(
            prepared, 0,
            "a prepared statement leaked into the next test"
        );
    }
    let in_transaction: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and state like 'idle in transaction%'",
    )
    .fetch_one(&mut *sessions[0])
    .await
    .unwrap();
    assert_eq!(in_transaction, 0, "a session is still in a transaction");
    drop(sessions);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static OPENED_BY_TEST: Database = Database::function("opened by test v1", things);

/// Five connections held at once, each running `sql`: more than the pool opens before
/// a test, so the test's own queries open the rest.
async fn hold_five(pool: &sqlx::PgPool, sql: &'static str) -> Result<(), sqlx::Error> {
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(pool.acquire().await?);
    }
    for connection in &mut held {
        sqlx::raw_sql(sql).execute(&mut **connection).await?;
    }
    Ok(())
}

/// A session a test's own query opened lives on that test's runtime and dies with it:
/// the next test of the process, on a runtime of its own, must never be handed it.
#[testbed::test]
async fn a_session_opened_by_a_tests_query_does_not_outlive_its_runtime() {
    require_postgres().await;
    let name = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let scope = Scope::new("first");
            let db = OPENED_BY_TEST.postgres(&scope).await.unwrap();
            hold_five(db.pool(), "select 1").await.unwrap();
            // Each left in a failed transaction, which the release must end before it
            // can ask a session anything.
            let mut held = Vec::new();
            for _ in 0..5 {
                let mut connection = db.pool().acquire().await.unwrap();
                sqlx::raw_sql("begin")
                    .execute(&mut *connection)
                    .await
                    .unwrap();
                assert!(
                    sqlx::raw_sql("select 1 / 0")
                        .execute(&mut *connection)
                        .await
                        .is_err()
                );
                held.push(connection);
            }
            drop(held);
            let name = db.name().to_owned();
            // Dropped first, as a test's end does: a handle still alive would have the
            // pool closed rather than recycled.
            drop(db);
            scope.finish_async(Outcome::Passed).await.unwrap();
            name
        })
        // The runtime ends here, and with it every session opened on it.
    })
    .join()
    .unwrap();
    let scope = Scope::new("second");
    let again = acquire_named(&OPENED_BY_TEST, &scope, &name).await;
    hold_five(again.pool(), "select 1")
        .await
        .expect("every session of the recycled pool works on the next test's runtime");
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static QUIETLY_RENAMED: Database = Database::function("quietly renamed v1", things);

/// A database this process resets again is checked by its catalog's rows and their
/// transaction ids, not by its fingerprint, after a test that left its schema alone; a
/// change that writes catalog rows and adds none (a rename), and one that only removes
/// some (a constraint dropped), are still noticed.
#[testbed::test]
async fn a_schema_change_after_a_quiet_test_is_noticed() {
    if rerun_as_under_cargo_test(
        "postgres::recycling::a_schema_change_after_a_quiet_test_is_noticed",
    ) {
        return;
    }
    require_postgres().await;
    for change in [
        "alter table things rename column id to ident",
        "alter table things drop constraint things_pkey",
    ] {
        let scope = Scope::new("leaves the schema alone");
        let db = QUIETLY_RENAMED.postgres(&scope).await.unwrap();
        let name = db.name().to_owned();
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
        let scope = Scope::new("changes it");
        let db = acquire_named(&QUIETLY_RENAMED, &scope, &name).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(change.to_owned()))
            .execute(db.pool())
            .await
            .unwrap();
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
        assert!(dropped(&name).await, "{name} was recycled after `{change}`");
    }
}

static QUIET: Database = Database::function("quiet v1", notes);

#[testbed::test]
#[ignore = "helper: run in a child process by its parent test below"]
async fn child_runs_quiet_tests_on_one_database() {
    crate::child_process::only_in_child("child_runs_quiet_tests_on_one_database");
    let mut name: Option<String> = None;
    for round in 0..3 {
        let scope = Scope::new(format!("round {round}"));
        let db = match &name {
            None => QUIET.postgres(&scope).await.unwrap(),
            Some(name) => acquire_named(&QUIET, &scope, name).await,
        };
        name = Some(db.name().to_owned());
        sqlx::query("insert into notes values ('rows change, the schema does not')")
            .execute(db.pool())
            .await
            .unwrap();
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// Under `cargo test`, only a database's first reset in the process reads its
/// fingerprint: the resets after tests that left the schema alone check the catalog's
/// rows instead (about a third of the server's time).
#[testbed::test]
async fn resets_after_quiet_tests_skip_the_fingerprint() {
    require_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    // As under `cargo test` (no nextest variable), the direct way: a warm pool.
    let output = child::command(
        "postgres::recycling::child_runs_quiet_tests_on_one_database",
        &[
            ("TESTBED_DB_TRACE", trace.to_str().unwrap()),
            ("TESTBED_PG_BROKER", "0"),
            (testbed::REQUIRE_ENV, "all"),
        ],
    )
    .env_remove("NEXTEST_RUN_ID")
    .output()
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{stderr}"
    );
    let steps = std::fs::read_to_string(&trace).unwrap();
    let count = |step: &str| {
        steps
            .lines()
            .filter(|line| {
                line.split_once(' ')
                    .is_some_and(|(_, rest)| rest.starts_with(step))
            })
            .count()
    };
    assert_eq!(
        (count("schema check "), count("schema fingerprint ")),
        (3, 1),
        "three resets, one fingerprint:\n{steps}"
    );
}

pub static CRASHED: Database = Database::function("crashed v1", notes);

#[testbed::test]
async fn a_killed_runs_pooled_database_is_reset_by_its_next_user() {
    require_postgres().await;
    let output = child::run("child::child_dies_dirtying_a_pooled_database", &[]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(9),
        "the child should have died by SIGKILL: {output:?}"
    );
    let dirtied = child::printed_database(&output);
    wait_until_unclaimed(&dirtied).await;
    let held = admin::status(Backend::Postgres, None).await.unwrap();
    let kind = held.iter().find(|h| h.name == dirtied).map(|h| h.kind);
    assert_eq!(kind, Some(HeldKind::Pooled), "its lock died with the child");

    let scope = Scope::new("next user");
    let db = CRASHED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), dirtied, "the free pooled database is reused");
    let notes: i64 = sqlx::query_scalar("select count(*) from notes")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(notes, 0, "the killed run's row was reset away");
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A schema of its own: no other test claims its pooled databases meanwhile.
pub static STRAGGLER: Database = Database::function("straggler v1", notes);

#[testbed::test]
async fn a_killed_runs_running_statement_is_ended_by_the_next_claimer() {
    require_postgres().await;
    let output = child::run("child::child_dies_with_a_statement_running", &[]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(9),
        "the child should have died by SIGKILL: {output:?}"
    );
    let dirtied = child::printed_database(&output);
    // The server ends the child's lease session a moment after the kill; until then its
    // claim lock stands and a claimer rightly passes the database by.
    wait_until_unclaimed(&dirtied).await;
    // The child's lease is gone, its statement still runs on the server: whoever claims
    // the database next must end it before using the database.
    let scope = Scope::new("next user");
    let db = STRAGGLER.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), dirtied, "the free pooled database is reused");
    let stragglers: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity where application_name = 'testbed-test-straggler'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(stragglers, 0, "the killed run's statement was ended");
    // Had it lived, it would have committed by now.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let notes: i64 = sqlx::query_scalar("select count(*) from notes")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(notes, 0, "nothing of the killed run reached the next user");
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static GROWN: Database = Database::function("grown v1", notes);

/// Under `cargo test`, a recycled database's pool grows to what its tests hold at once:
/// the sessions a test's queries open on its runtime die with it, so after such a test
/// as many are opened where they outlive it, and the next test like it opens none (a
/// new session is a backend start on the server).
#[testbed::test]
async fn a_pool_grows_to_what_its_tests_hold_at_once() {
    if rerun_as_under_cargo_test("postgres::recycling::a_pool_grows_to_what_its_tests_hold_at_once")
    {
        return;
    }
    require_postgres().await;
    let mut held_by_round = Vec::new();
    let mut name: Option<String> = None;
    for round in 0..3 {
        let scope = Scope::new(format!("round {round}"));
        let db = match &name {
            None => GROWN.postgres(&scope).await.unwrap(),
            Some(name) => acquire_named(&GROWN, &scope, name).await,
        };
        name = Some(db.name().to_owned());
        let pool = db.pool();
        let (a, b, c, d) = tokio::join!(
            pool.acquire(),
            pool.acquire(),
            pool.acquire(),
            pool.acquire()
        );
        let mut held = Vec::new();
        for mut conn in [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()] {
            let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            held.push((pid, conn));
        }
        let mut pids: Vec<i32> = held.iter().map(|(pid, _)| *pid).collect();
        pids.sort_unstable();
        held_by_round.push(pids);
        drop(held);
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
    assert_eq!(
        held_by_round[1], held_by_round[2],
        "the third test found every session it held in the pool: {held_by_round:?}"
    );
}

/// Used by one test only: its pool is grown by a child, then shrunk by the sweep.
pub static SHRINKING: Database = Database::function("shrinking v1", notes);

/// How many databases the child holds at once: more than the floor the sweep keeps.
pub const SHRINKING_PEAK: usize = 4;

/// The pool's decaying high-water mark: a pool grown by a peak keeps its databases while
/// they are claimed now and then; once unclaimed for an hour, the sweep (here `prune`,
/// as the periodic sweep does) drops those beyond as many as this machine runs tests
/// at once, keeping the ones claims take first.
#[testbed::test]
async fn a_pool_grown_by_a_peak_shrinks_once_the_peak_is_past() {
    if rerun_without_broker(
        "postgres::recycling::a_pool_grown_by_a_peak_shrinks_once_the_peak_is_past",
    ) {
        return;
    }
    require_postgres().await;
    // Another run of this suite on the same server (the shared one is shared) would grow
    // and prune this template's pool meanwhile: one run at a time, held until the end.
    let mut one_at_a_time = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url())
        .await
        .unwrap();
    sqlx::query("select pg_advisory_lock(hashtext('testbed-db tests: the shrinking pool'))")
        .execute(&mut one_at_a_time)
        .await
        .unwrap();
    let floor = std::thread::available_parallelism().map_or(1, usize::from);
    let peak = SHRINKING_PEAK.max(floor + 2);
    let output = child::run(
        "child::child_holds_several_databases",
        &[("TESTBED_DB_HOLD", &peak.to_string())],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hash = SHRINKING
        .template_name(Backend::Postgres)
        .unwrap()
        .trim_start_matches("testbed_tpl_")
        .to_owned();
    let prefix = format!("testbed_pool_{hash}_");
    let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    let pool_now = || async {
        let names: Vec<String> = sqlx::query_scalar(
            "select datname::text from pg_database where starts_with(datname, $1) order by datname",
        )
        .bind(&prefix)
        .fetch_all(&admin)
        .await
        .unwrap();
        names
    };
    let grown = pool_now().await;
    assert_eq!(grown.len(), peak, "the child's peak: {grown:?}");
    let options = testbed_db::admin::PruneOptions::default();
    testbed_db::admin::prune(Backend::Postgres, None, options)
        .await
        .unwrap();
    assert_eq!(pool_now().await, grown, "claimed within the hour: all kept");

    // An hour later, as the ledger sees it.
    let mut registry_url = url::Url::parse(&admin_url()).unwrap();
    registry_url.set_path("/testbed_registry");
    let registry = sqlx::PgPool::connect(registry_url.as_str()).await.unwrap();
    sqlx::query(
        "update pooled set claimed_at = now() - interval '61 minutes'
         where starts_with(datname, $1)",
    )
    .bind(&prefix)
    .execute(&registry)
    .await
    .unwrap();
    testbed_db::admin::prune(Backend::Postgres, None, options)
        .await
        .unwrap();
    let shrunk = pool_now().await;
    assert_eq!(shrunk, grown[..floor], "the first {floor} kept");
    drop(one_at_a_time);
}
