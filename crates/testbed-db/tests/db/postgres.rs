use testbed::{Outcome, Scope};
use testbed_db::admin::{self, HeldKind, PruneOptions};
use testbed_db::{Backend, Database, ServerCallError};

use crate::child_process::{rerun_as_under_cargo_test, rerun_without_broker};
use crate::{SHOP, SHOP_CLONES, child, run_in_a_test};

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

async fn exists(name: &str) -> bool {
    admin::status(Backend::Postgres, None)
        .await
        .unwrap()
        .iter()
        .any(|held| held.name == name)
}

#[testbed::test]
async fn a_clone_is_dropped_after_a_pass_and_clones_are_isolated() {
    require_postgres().await;
    let scope = Scope::new("passing");
    let first = SHOP_CLONES.postgres(&scope).await.unwrap();
    let second = SHOP_CLONES.postgres(&scope).await.unwrap();
    sqlx::query("insert into tags (name) values ('only-first')")
        .execute(first.pool())
        .await
        .unwrap();
    let in_second: i64 = sqlx::query_scalar("select count(*) from tags")
        .fetch_one(second.pool())
        .await
        .unwrap();
    assert_eq!(in_second, 2);
    let names = [first.name().to_owned(), second.name().to_owned()];
    assert!(exists(&names[0]).await);
    scope.finish_async(Outcome::Passed).await.unwrap();
    for name in names {
        assert!(!exists(&name).await, "{name} left behind");
    }
}

static REPAIRED: Database = Database::function("half-built v1", |target| {
    on_postgres(target, "create table wanted (id int)")
});

#[testbed::test]
async fn a_half_built_template_is_rebuilt() {
    require_postgres().await;
    let template = REPAIRED.template_name(Backend::Postgres).unwrap();
    // What a build killed halfway leaves: its intent recorded by an owner that is gone,
    // the database there, unmarked, half-filled.
    let url = std::env::var("TESTBED_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin_pool = sqlx::PgPool::connect(&url).await.unwrap();
    let mut registry_url = url::Url::parse(&url).unwrap();
    registry_url.set_path("/testbed_registry");
    let registry = sqlx::PgPool::connect(registry_url.as_str()).await.unwrap();
    // Another run's sweep on the same server may drop the dead owner's leftovers between
    // here and the status: set them up again until the status has seen them.
    let mut seen = false;
    for _ in 0..5 {
        sqlx::query("insert into intents (datname, owner, pid) values ($1, 'dead00000000', 1) on conflict do nothing")
            .bind(&template)
            .execute(&registry)
            .await
            .unwrap();
        for (sql, must_work) in [
            (
                format!(r#"alter database "{template}" with is_template false"#),
                false,
            ),
            (format!(r#"drop database if exists "{template}""#), true),
            (format!(r#"create database "{template}""#), true),
        ] {
            let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&admin_pool)
                .await;
            assert!(result.is_ok() || !must_work, "{result:?}");
        }
        let held = admin::status(Backend::Postgres, None).await.unwrap();
        seen = held
            .iter()
            .any(|h| h.name == template && h.kind == HeldKind::Unfinished);
        if seen {
            break;
        }
    }
    assert!(
        seen,
        "the half-built template was never listed as unfinished"
    );
    registry.close().await;
    admin_pool.close().await;

    let scope = Scope::new("repaired");
    let db = REPAIRED.postgres(&scope).await.unwrap();
    sqlx::query("insert into wanted values (1)")
        .execute(db.pool())
        .await
        .unwrap();
    scope.finish_async(Outcome::Passed).await.unwrap();
    let held = admin::status(Backend::Postgres, None).await.unwrap();
    assert!(
        held.iter()
            .any(|h| h.name == template && h.kind == HeldKind::Template)
    );
}

#[testbed::test]
async fn orphans_of_a_killed_run_are_pruned_and_live_ones_are_not() {
    require_postgres().await;
    let scope = Scope::new("alive");
    let mine = SHOP_CLONES.postgres(&scope).await.unwrap();
    let output = child::run("child::child_dies_holding_a_postgres_database", &[]);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&output.status),
        Some(9),
        "the child should have died by SIGKILL: {output:?}"
    );
    let orphan = child::printed_database(&output);
    wait_until_unclaimed(&orphan).await;
    let held = admin::status(Backend::Postgres, None).await.unwrap();
    let kind_of = |name: &str| held.iter().find(|h| h.name == name).map(|h| h.kind);
    // Another test process's first sweep may have removed it already (nextest runs
    // tests side by side): orphaned or gone, never in use.
    assert!(
        matches!(kind_of(&orphan), Some(HeldKind::Orphaned) | None),
        "{:?}",
        kind_of(&orphan)
    );
    assert_eq!(kind_of(mine.name()), Some(HeldKind::InUse));

    let pruned = admin::prune(Backend::Postgres, None, PruneOptions::default())
        .await
        .unwrap();
    assert!(
        !pruned.iter().any(|h| h.name == mine.name()),
        "a live run's database was pruned"
    );
    assert!(!exists(&orphan).await);
    assert!(exists(mine.name()).await);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
async fn a_failing_test_keeps_its_database_when_asked() {
    require_postgres().await;
    let output = child::run(
        "child::child_fails_with_a_postgres_database",
        &[("TESTBED_KEEP_FAILED", "1")],
    );
    assert!(output.status.success(), "{output:?}");
    let kept = child::printed_database(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("kept") && stderr.contains(&kept),
        "{stderr}"
    );
    let held = admin::status(Backend::Postgres, None).await.unwrap();
    assert!(
        held.iter()
            .any(|h| h.name == kept && h.kind == HeldKind::Kept)
    );
    // An ordinary prune leaves it for inspection; asking for kept ones removes it.
    admin::prune(Backend::Postgres, None, PruneOptions::default())
        .await
        .unwrap();
    assert!(exists(&kept).await);
    admin::prune(
        Backend::Postgres,
        None,
        PruneOptions {
            templates: false,
            kept: true,
        },
    )
    .await
    .unwrap();
    assert!(!exists(&kept).await);
}

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

/// A one-table schema; each test that changes it has its own, so no other test claims
/// its pooled databases meanwhile.
fn things(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(target, "create table things (id int primary key)")
}

static ALTERED: Database = Database::function("altered v2", things);
static ADDED_TO: Database = Database::function("added to v1", things);

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Waits up to 5 s for database `name` to be gone.
async fn dropped(name: &str) -> bool {
    for _ in 0..50 {
        if !exists(name).await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[testbed::test]
async fn a_recycled_database_whose_template_objects_changed_is_dropped() {
    require_postgres().await;
    let scope = Scope::new("alters");
    let db = ALTERED.postgres(&scope).await.unwrap();
    sqlx::query("alter table things alter column id type bigint")
        .execute(db.pool())
        .await
        .unwrap();
    let name = db.name().to_owned();
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(
        dropped(&name).await,
        "{name} was recycled with a changed schema"
    );
    let scope = Scope::new("after");
    let db = ALTERED.postgres(&scope).await.unwrap();
    let bigint = "select count(*) from information_schema.columns \
                  where table_name = 'things' and data_type = 'bigint'";
    assert_eq!(count(db.pool(), bigint).await, 0);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static REMADE: Database = Database::function("remade v1", things);

/// Changes that leave every object's name and type as it was, which only the
/// fingerprint's object ids and column defaults tell.
#[testbed::test]
async fn a_template_object_made_again_or_given_a_default_is_not_recycled() {
    require_postgres().await;
    for change in [
        "drop table things; create table things (id int primary key)",
        "alter table things alter column id set default 7",
    ] {
        let name = run_in_a_test(&REMADE, Backend::Postgres, change).await;
        assert!(dropped(&name).await, "{name} was recycled after `{change}`");
    }
    let scope = Scope::new("after");
    let db = REMADE.postgres(&scope).await.unwrap();
    let defaults = "select count(*) from information_schema.columns \
                    where table_name = 'things' and column_default is not null";
    assert_eq!(count(db.pool(), defaults).await, 0);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

#[testbed::test]
async fn a_tests_schema_additions_are_undone_and_its_database_recycled() {
    require_postgres().await;
    let scope = Scope::new("adds");
    let db = ADDED_TO.postgres(&scope).await.unwrap();
    sqlx::raw_sql(
        "alter table things add column extra text not null default 'x';
         alter table things add constraint extra_short check (length(extra) < 10);
         create index things_extra on things (extra);
         alter table things add constraint things_id_unique unique (id);
         alter table things add constraint id_positive check (id > 0);
         create table scratch (id serial primary key, thing int references things (id));
         create view scratch_view as select id from scratch;
         create schema side;
         create table side.more (id int);
         insert into things values (1, 'y');
         insert into scratch (thing) values (1);",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let name = db.name().to_owned();
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(exists(&name).await, "{name} was dropped, not undone");
    // This process's next test of the schema takes the same database back.
    let scope = Scope::new("after");
    let db = ADDED_TO.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    let pool = db.pool();
    let columns = "select count(*) from information_schema.columns where table_name = 'things'";
    assert_eq!(count(pool, columns).await, 1, "the added column is gone");
    let tables = "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                  where n.nspname not in ('pg_catalog', 'information_schema') \
                    and n.nspname not like 'pg\\_%'";
    // `things` and its primary key index.
    assert_eq!(
        count(pool, tables).await,
        2,
        "only the template's relations are left"
    );
    let schemas = "select count(*) from pg_namespace where nspname = 'side'";
    assert_eq!(count(pool, schemas).await, 0, "the added schema is gone");
    assert_eq!(count(pool, "select count(*) from things").await, 0);
    // Adding them again works: nothing of the first test's is in the way.
    sqlx::raw_sql("create table scratch (id int); create schema side;")
        .execute(pool)
        .await
        .unwrap();
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A table with a trigger of the template's, which ends every body with a full stop,
/// and a function of the template's; each test that changes them has its own.
fn stamped(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table notes (body text);
         create function shout(t text) returns text language sql as $$ select upper(t) $$;
         create function stamp() returns trigger language plpgsql
           as $$ begin new.body := new.body || '.'; return new; end $$;
         create trigger notes_stamp before insert on notes
           for each row execute function stamp();",
    )
}

static ROUTINES_ADDED: Database = Database::function("routines added v1", stamped);
static ROUTINES_CHANGED: Database = Database::function("routines changed v1", stamped);

/// What a test's `body` insert into `notes` stores.
async fn stored(pool: &sqlx::PgPool, body: &str) -> String {
    sqlx::query_scalar("insert into notes values ($1) returning body")
        .bind(body)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Triggers, functions, procedures, types, domains and extensions a test adds are
/// dropped with its other additions: the next test gets the template's schema, on the
/// same database. (`citext` comes with PostgreSQL's server package.)
#[testbed::test]
async fn a_tests_triggers_routines_and_types_are_undone() {
    require_postgres().await;
    let scope = Scope::new("adds routines");
    let db = ROUTINES_ADDED.postgres(&scope).await.unwrap();
    sqlx::raw_sql(
        "create function tamper() returns trigger language plpgsql
           as $$ begin new.body := 'tampered'; return new; end $$;
         create trigger notes_tamper before insert on notes
           for each row execute function tamper();
         create function helper() returns int language sql as 'select 1';
         create procedure tidy() language sql as 'select 1';
         create type mood as enum ('ok', 'not ok');
         create domain positive as int check (value > 0);
         create table moods (m mood, p positive);
         create trigger moods_tamper before insert on moods
           for each row execute function tamper();
         create function describe(m mood) returns text language sql as $$ select m::text $$;
         create extension citext;",
    )
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(stored(db.pool(), "a").await, "tampered");
    let name = db.name().to_owned();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after");
    let db = ROUTINES_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    assert_eq!(
        stored(db.pool(), "a").await,
        "a.",
        "only the template's trigger"
    );
    let routines = "select count(*) from pg_proc where proname in ('tamper', 'helper', 'tidy')";
    assert_eq!(count(db.pool(), routines).await, 0);
    let types = "select count(*) from pg_type where typname in ('mood', 'positive', 'citext')";
    assert_eq!(count(db.pool(), types).await, 0);
    // Adding them again works: nothing of the first test's is in the way.
    sqlx::raw_sql("create function helper() returns int language sql as 'select 1'; create type mood as enum ('ok');")
        .execute(db.pool())
        .await
        .unwrap();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A test that changes the template's own functions or triggers in place (same names,
/// same object ids), or its tables' policies, row-level security or grants, gets its
/// database dropped: the next test gets them as the template made them.
#[testbed::test]
async fn a_tests_change_to_a_template_routine_or_trigger_is_not_handed_on() {
    require_postgres().await;
    for change in [
        "create or replace function shout(t text) returns text language sql as $$ select lower(t) $$",
        "create or replace function stamp() returns trigger language plpgsql \
           as $$ begin new.body := new.body || '!'; return new; end $$",
        "alter table notes disable trigger notes_stamp",
        "create policy everything on notes using (true)",
        "alter table notes enable row level security",
        "grant select on notes to public",
        "drop trigger notes_stamp on notes; \
         create trigger notes_stamp before insert on notes for each row execute function stamp()",
    ] {
        let name = run_in_a_test(&ROUTINES_CHANGED, Backend::Postgres, change).await;
        assert!(dropped(&name).await, "{name} was recycled after `{change}`");
        let scope = Scope::new("after");
        let db = ROUTINES_CHANGED.postgres(&scope).await.unwrap();
        let shouted: String = sqlx::query_scalar("select shout('a')")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(shouted, "A");
        assert_eq!(stored(db.pool(), "a").await, "a.");
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

static OPTIONS_CHANGED: Database = Database::function("options changed v1", counted);

/// Changes that keep every object, its id and its columns' types, but not a column's
/// collation or grants, a table's owner or a sequence's options, are told too.
#[testbed::test]
async fn a_tests_change_to_a_collation_owner_grant_or_sequence_option_is_not_handed_on() {
    require_postgres().await;
    for change in [
        "alter sequence counted_id_seq increment by 10",
        r#"alter table counted alter column body type text collate "C""#,
        "alter table counted owner to pg_database_owner",
        "grant select (body) on counted to public",
    ] {
        let name = run_in_a_test(&OPTIONS_CHANGED, Backend::Postgres, change).await;
        assert!(dropped(&name).await, "{name} was recycled after `{change}`");
        let scope = Scope::new("after");
        let db = OPTIONS_CHANGED.postgres(&scope).await.unwrap();
        let ids: Vec<i32> =
            sqlx::query_scalar("insert into counted (body) values ('a'), ('b') returning id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert_eq!(ids, [1, 2], "after `{change}`");
        let collated = "select count(*) from pg_attribute \
                        where attrelid = 'counted'::regclass \
                          and attcollation = (select oid from pg_collation where collname = 'C')";
        assert_eq!(count(db.pool(), collated).await, 0, "after `{change}`");
        let owned_or_granted = "select count(*) from pg_class c \
                                join pg_attribute a on a.attrelid = c.oid \
                                where c.relname = 'counted' and (a.attacl is not null \
                                  or c.relowner = 'pg_database_owner'::regrole)";
        assert_eq!(
            count(db.pool(), owned_or_granted).await,
            0,
            "after `{change}`"
        );
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

/// A partitioned table with two partitions, a table another inherits from, and one
/// that could.
fn inheriting(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table events (at int not null, body text) partition by range (at);
         create table events_low partition of events for values from (0) to (100);
         create table events_high partition of events for values from (100) to (200);
         create table base (id int);
         create table derived (extra int) inherits (base);
         create table loner (id int);",
    )
}

static INHERITANCE_CHANGED: Database = Database::function("inheritance changed v1", inheriting);

/// A test that detaches a partition of the template's, changes which of its tables
/// inherit, or grants on a schema (by name or by default), gets its database dropped:
/// the next test's queries see the template's tables, and its grants.
#[testbed::test]
async fn a_tests_change_to_inheritance_or_schema_grants_is_not_handed_on() {
    require_postgres().await;
    for change in [
        "alter table events detach partition events_high",
        "alter table derived no inherit base",
        "alter table loner inherit base",
        "grant create on schema public to public",
        "alter default privileges grant select on tables to public",
    ] {
        let name = run_in_a_test(&INHERITANCE_CHANGED, Backend::Postgres, change).await;
        assert!(dropped(&name).await, "{name} was recycled after `{change}`");
        let scope = Scope::new("after");
        let db = INHERITANCE_CHANGED.postgres(&scope).await.unwrap();
        sqlx::raw_sql(
            "insert into events values (150, 'high');
             insert into derived values (1, 2);
             insert into loner values (3);",
        )
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("after `{change}`: {e}"));
        let inherited = "select count(*) from base where id = 1";
        assert_eq!(count(db.pool(), inherited).await, 1, "after `{change}`");
        let not_inherited = "select count(*) from base where id = 3";
        assert_eq!(count(db.pool(), not_inherited).await, 0, "after `{change}`");
        let public_creates = "select count(*) from pg_namespace, aclexplode(nspacl) acl \
                              where nspname = 'public' and acl.grantee = 0 \
                                and acl.privilege_type = 'CREATE'";
        assert_eq!(
            count(db.pool(), public_creates).await,
            0,
            "after `{change}`"
        );
        let defaults = "select count(*) from pg_default_acl";
        assert_eq!(count(db.pool(), defaults).await, 0, "after `{change}`");
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

static PARTITIONS_ADDED: Database = Database::function("partitions added v1", inheriting);

/// Partitions, inheriting tables, operators, casts, event triggers and large objects a
/// test adds are dropped with its other additions, an event trigger that refuses every
/// drop first: the next test gets the template's schema, on the same database.
#[testbed::test]
async fn a_tests_partitions_operators_event_triggers_and_large_objects_are_undone() {
    require_postgres().await;
    let name = run_in_a_test(
        &PARTITIONS_ADDED,
        Backend::Postgres,
        "create table events_more partition of events for values from (200) to (300);
         create table more_derived () inherits (base);
         create function same(a int, b int) returns bool language sql as 'select a = b';
         create operator === (leftarg = int, rightarg = int, function = same);
         create type mood as enum ('ok');
         create cast (mood as int) with inout;
         select lo_from_bytea(0, 'left behind');
         create function refuse() returns event_trigger language plpgsql
           as $$ begin raise exception 'no drops'; end $$;
         create event trigger refuse_drops on sql_drop execute function refuse();",
    )
    .await;
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after");
    let db = PARTITIONS_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    let left = [
        (
            "the template's partitions",
            "pg_inherits where inhparent = 'events'::regclass",
            2,
        ),
        (
            "the template's child",
            "pg_inherits where inhparent = 'base'::regclass",
            1,
        ),
        ("operators", "pg_operator where oprname = '==='", 0),
        ("casts", "pg_cast where oid >= 16384", 0),
        ("large objects", "pg_largeobject_metadata", 0),
        ("event triggers", "pg_event_trigger", 0),
    ];
    for (what, rows, expected) in left {
        let sql = format!("select count(*) from {rows}");
        assert_eq!(count(db.pool(), &sql).await, expected, "{what}");
    }
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// A table, and settings of the database made by its migrations, as an application's
/// migrations make them: for every session, and for one role's.
fn configured(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        r#"create table things (id int);
           do $$ begin
             execute format('alter database %I set work_mem to %L',
                            current_database(), '7MB');
             execute format('alter database %I set "app.greeting" to %L',
                            current_database(), 'hi');
             execute format('alter database %I set search_path to "$user", public, extra',
                            current_database());
             execute format('alter role %I in database %I set "app.role_greeting" to %L',
                            current_user, current_database(), 'hello');
           end $$;"#,
    )
}

/// The settings a session on a test's database starts with.
async fn settings(pool: &sqlx::PgPool) -> Vec<Option<String>> {
    sqlx::query_scalar(
        "select unnest(array[current_setting('work_mem'), current_setting('app.greeting', true),
                             current_setting('search_path'),
                             current_setting('app.role_greeting', true),
                             current_setting('app.extra', true)])",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// What [`settings`] gives on a database made by [`configured`].
fn configured_settings() -> Vec<Option<String>> {
    ["7MB", "hi", r#""$user", public, extra"#, "hello"]
        .into_iter()
        .map(|setting| Some(setting.to_owned()))
        .chain([None])
        .collect()
}

static CONFIGURED: Database = Database::function("configured v2", configured);
static CONFIGURED_CLONES: Database =
    Database::function("configured v2", configured).isolation(testbed_db::Isolation::Clone);

/// Settings a template's migrations gave its database (`ALTER DATABASE ... SET`), which
/// `CREATE DATABASE` does not copy, reach every test's database, cloned for it or
/// pooled.
#[testbed::test]
async fn a_templates_database_settings_reach_its_tests() {
    require_postgres().await;
    for (database, strategy) in [
        (&CONFIGURED, "recycled"),
        (&CONFIGURED, "recycled again"),
        (&CONFIGURED_CLONES, "cloned"),
    ] {
        let scope = Scope::new(strategy);
        let db = database.postgres(&scope).await.unwrap();
        assert_eq!(
            settings(db.pool()).await,
            configured_settings(),
            "{strategy}"
        );
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
}

static SETTINGS_CHANGED: Database = Database::function("settings changed v2", configured);
static SETTINGS_ADDED: Database = Database::function("settings added v1", configured);

/// A test that changes a setting of its database's gets the database dropped; one that
/// adds one gets it undone, on the same database. The next test starts with the
/// template's settings either way. (Each case has a template of its own: a dropped
/// database's replacement would be a second pooled one.)
#[testbed::test]
async fn a_tests_database_settings_are_not_handed_on() {
    require_postgres().await;
    let change = r#"do $$ begin
                      execute format('alter database %I set "app.greeting" to %L',
                                     current_database(), 'changed');
                    end $$"#;
    let name = run_in_a_test(&SETTINGS_CHANGED, Backend::Postgres, change).await;
    assert!(dropped(&name).await, "{name} was recycled after `{change}`");
    let addition = r#"do $$ begin
                        execute format('alter database %I set "app.extra" to %L',
                                       current_database(), 'x');
                        execute format('alter role %I in database %I set "app.extra" to %L',
                                       current_user, current_database(), 'y');
                      end $$"#;
    let name = run_in_a_test(&SETTINGS_ADDED, Backend::Postgres, addition).await;
    assert!(exists(&name).await, "{name} was dropped, not undone");
    let scope = Scope::new("after");
    let db = SETTINGS_ADDED.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    // A session of its own: the pool's may have started before the addition.
    let fresh = sqlx::PgPool::connect_with(db.pool().connect_options().as_ref().clone())
        .await
        .unwrap();
    assert_eq!(settings(&fresh).await, configured_settings());
    fresh.close().await;
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// An application's tables in a schema of their own, found through the search path its
/// migrations set for the database, beside a table in `public` that references one.
fn in_app_schema(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create schema app;
         create table app.things (id int primary key);
         insert into app.things values (1);
         create table public.notes (id serial primary key,
                                    thing int references app.things, body text);
         do $$ begin
           execute format('alter database %I set search_path to app', current_database());
         end $$;",
    )
}

static OWN_SEARCH_PATH: Database = Database::function("own search path v1", in_app_schema);

/// A database whose search path leaves out `public` (set by its migrations, so every
/// session on a clone starts with it) is still reset and undone in place: testbed's own
/// statements name every table with its schema.
#[testbed::test]
async fn a_database_with_its_own_search_path_is_reset_and_undone_in_place() {
    require_postgres().await;
    let scope = Scope::new("writes");
    let db = OWN_SEARCH_PATH.postgres(&scope).await.unwrap();
    let path: String = sqlx::query_scalar("select current_setting('search_path')")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(path, "app");
    sqlx::raw_sql(
        "insert into things values (2);
         insert into public.notes (thing, body) values (2, 'a');
         create table public.extra (id int);
         create table extra (id int);",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let name = db.name().to_owned();
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(exists(&name).await, "{name} was dropped, not reset");
    let scope = Scope::new("after");
    let db = OWN_SEARCH_PATH.postgres(&scope).await.unwrap();
    assert_eq!(db.name(), name);
    assert_eq!(count(db.pool(), "select count(*) from things").await, 1);
    assert_eq!(
        count(db.pool(), "select count(*) from public.notes").await,
        0
    );
    let extra = "select count(*) from pg_class where relname = 'extra'";
    assert_eq!(count(db.pool(), extra).await, 0);
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static QUIETLY_RENAMED: Database = Database::function("quietly renamed v1", things);

/// A database this process resets again is checked by its catalog's rows and their
/// transaction ids, not by its fingerprint, after a test that left its schema alone; a
/// change that writes catalog rows and adds none (a rename), and one that only removes
/// some (a constraint dropped), are still noticed.
#[testbed::test]
async fn a_schema_change_after_a_quiet_test_is_noticed() {
    if rerun_as_under_cargo_test("postgres::a_schema_change_after_a_quiet_test_is_noticed") {
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
        "postgres::child_runs_quiet_tests_on_one_database",
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

/// Whether PostgreSQL's server programs are installed (on the PATH or Debian's place).
fn server_programs_installed() -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("initdb").is_file()));
    let debian = std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
        versions
            .flatten()
            .any(|version| version.path().join("bin/initdb").is_file())
    });
    on_path || debian
}

#[testbed::test]
async fn a_throwaway_cluster_serves_and_stops_when_unused() {
    if !server_programs_installed() {
        testbed::skip(
            "postgres",
            "the PostgreSQL server programs (initdb, pg_ctl) are not installed",
        );
    }
    let _alone = cluster_tests_alone();
    let output = child::run(
        "child::child_uses_the_throwaway_cluster",
        &[("TESTBED_POSTGRES_URL", "cluster")],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.split_once("URL ").map(|(_, rest)| rest.to_owned()))
        .unwrap_or_else(|| panic!("no URL printed: {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let url = url::Url::parse(words[0]).unwrap();
    let port = url.port().unwrap();
    assert_ne!(port, 5432, "a cluster of its own, not the local server");
    assert_eq!(words[2], "off", "tuned for tests: fsync off");
    if std::path::Path::new("/dev/shm").is_dir() {
        assert!(
            words[4].starts_with("/dev/shm/"),
            "data on the RAM disk: {}",
            words[4]
        );
    }
    assert_eq!(words[6], "2", "the schema and seeds are there");
    // The child was its only user: the watcher stops it within a few seconds.
    let stopped = async {
        for _ in 0..60 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        false
    };
    assert!(
        stopped.await,
        "the throwaway cluster on port {port} still runs with no user"
    );
    assert!(
        removed(std::path::Path::new(words[4])).await,
        "its data `{}` is still there",
        words[4]
    );
}

/// The cluster tests share the one throwaway cluster: one at a time, across processes
/// too (nextest), so that each sees the cluster stop when its own children are done.
fn cluster_tests_alone() -> std::fs::File {
    let path = std::env::temp_dir().join("testbed-db-cluster-tests.lock");
    let file = std::fs::File::create(&path).unwrap();
    file.lock().unwrap();
    file
}

/// Waits (up to 30 s) for `path` to be gone.
async fn removed(path: &std::path::Path) -> bool {
    for _ in 0..60 {
        if !path.exists() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    false
}

/// Where the throwaway cluster of this user lives (as testbed-db places it).
fn cluster_base() -> std::path::PathBuf {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .and_then(|line| line.split_whitespace().nth(2))
        .unwrap()
        .to_owned();
    let shm = std::path::Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    };
    parent.join(format!("testbed-postgres-{euid}"))
}

#[testbed::test(timeout = "180s")]
async fn a_cluster_whose_starter_was_killed_is_adopted_then_stopped_and_removed() {
    if !server_programs_installed() {
        testbed::skip(
            "postgres",
            "the PostgreSQL server programs (initdb, pg_ctl) are not installed",
        );
    }
    let _alone = cluster_tests_alone();
    let data = cluster_base().join("data");
    // No cluster runs (the other cluster test waits for its own to stop): this child
    // starts one, and dies by SIGKILL as soon as the server process exists, while
    // `pg_ctl start` still waits for it.
    let mut starter = child::spawn(
        "child::child_uses_the_throwaway_cluster",
        &[("TESTBED_POSTGRES_URL", "cluster")],
    );
    let pid_file = data.join("postmaster.pid");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !pid_file.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    starter.kill().unwrap();
    let killed = starter.wait().unwrap();
    assert!(
        pid_file.exists(),
        "the starter never started a server: {killed:?}"
    );
    // The next run finds the server (or starts one) and is served.
    let output = child::run(
        "child::child_uses_the_throwaway_cluster",
        &[("TESTBED_POSTGRES_URL", "cluster")],
    );
    assert!(
        output.status.success(),
        "the next run was not served: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Nobody uses it now: stopped and removed, whoever started it.
    assert!(
        removed(&data).await,
        "the cluster's data `{}` is still there",
        data.display()
    );
}

#[testbed::test]
async fn a_full_server_is_a_clear_error() {
    require_postgres().await;
    // A role allowed one connection, taken here: testbed's lease is refused as it
    // would be by a server at max_connections (both are SQLSTATE 53300).
    let pool = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    sqlx::raw_sql(
        "do $$ begin
           if not exists (select from pg_roles where rolname = 'testbed_one_connection') then
             create role testbed_one_connection login connection limit 1;
           end if;
         end $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut limited = url::Url::parse(&admin_url()).unwrap();
    limited.set_username("testbed_one_connection").unwrap();
    limited.set_password(None).unwrap();
    let taken = sqlx::PgPool::connect(limited.as_str()).await.unwrap();
    let error = admin::status(Backend::Postgres, Some(limited.as_str()))
        .await
        .unwrap_err();
    taken.close().await;
    sqlx::raw_sql("drop role if exists testbed_one_connection")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(
        matches!(error, ServerCallError::TooManyConnections { .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("hint: raise the server's `max_connections`")
            && error
                .to_string()
                .contains("TESTBED_PG_MAX_KEPT_CONNECTIONS"),
        "{error}"
    );
}

#[testbed::test]
async fn nobody_can_hold_a_template_open() {
    require_postgres().await;
    let scope = Scope::new("template");
    let db = SHOP.postgres(&scope).await.unwrap();
    let template = SHOP.template_name(Backend::Postgres).unwrap();
    // Sessions on a template make every clone fail ("source database is being accessed
    // by other users"); testbed's templates accept no connection at all.
    let mut url = url::Url::parse(db.url().unwrap()).unwrap();
    url.set_path(&format!("/{template}"));
    let error = sqlx::PgPool::connect(url.as_str()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("not currently accepting connections"),
        "{error}"
    );
    scope.finish_async(Outcome::Passed).await.unwrap();
}

fn admin_url() -> String {
    std::env::var("TESTBED_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Used by one test only: it follows one pooled database through three users, which a
/// concurrent test of the same template would take from it.
static ROLLED_BACK: Database =
    Database::function("rollback v1", notes).isolation(testbed_db::Isolation::Rollback);

static ROLLED_BACK_FAILING: Database =
    Database::function("rollback failing v1", notes).isolation(testbed_db::Isolation::Rollback);

async fn count_notes(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from notes")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The notes a session of its own on `db`'s database sees: the committed ones only.
async fn committed_notes(db: &testbed_db::TestDb<sqlx::Postgres>) -> i64 {
    let other = sqlx::PgPool::connect(db.url().unwrap()).await.unwrap();
    let count = count_notes(&other).await;
    other.close().await;
    count
}

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

#[testbed::test]
async fn concurrent_tests_get_distinct_databases() {
    require_postgres().await;
    let scopes: Vec<Scope> = (0..6)
        .map(|n| Scope::new(format!("concurrent {n}")))
        .collect();
    // As many tests asking at the same moment: tasks on this runtime, run concurrently.
    let tasks: Vec<_> = scopes
        .iter()
        .map(|scope| {
            let scope = scope.clone();
            tokio::spawn(async move { SHOP.postgres(&scope).await })
        })
        .collect();
    let mut acquired = Vec::new();
    for task in tasks {
        acquired.push(task.await.unwrap());
    }
    let mut names: Vec<String> = Vec::new();
    for (n, db) in acquired.into_iter().enumerate() {
        let db = db.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into tags (name) values ('from {n}')"
        )))
        .execute(db.pool())
        .await
        .unwrap();
        let tags: i64 = sqlx::query_scalar("select count(*) from tags")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(tags, 3, "each sees its own row only");
        names.push(db.name().to_owned());
    }
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len(), "{names:?}");
    for scope in scopes {
        scope.finish_async(Outcome::Passed).await.unwrap();
    }
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

#[test]
fn an_unavailable_server_skips_or_fails_when_required() {
    let dead = [(
        "TESTBED_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:1/postgres",
    )];
    let skipped = child::run("child::child_needs_postgres", &dead);
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "a skip passes: {stderr}");
    assert!(
        stderr.contains("SKIPPED") && stderr.contains("postgres unavailable"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!String::from_utf8_lossy(&skipped.stdout).contains("REACHED THE BODY"));

    let required = child::run(
        "child::child_needs_postgres",
        &[dead[0], ("TESTBED_REQUIRE", "postgres")],
    );
    assert!(
        !required.status.success(),
        "under TESTBED_REQUIRE a missing server fails the test"
    );
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

static GROWN: Database = Database::function("grown v1", notes);

/// Under `cargo test`, a recycled database's pool grows to what its tests hold at once:
/// the sessions a test's queries open on its runtime die with it, so after such a test
/// as many are opened where they outlive it, and the next test like it opens none (a
/// new session is a backend start on the server).
#[testbed::test]
async fn a_pool_grows_to_what_its_tests_hold_at_once() {
    if rerun_as_under_cargo_test("postgres::a_pool_grows_to_what_its_tests_hold_at_once") {
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
    if rerun_without_broker("postgres::a_rollback_session_serves_the_next_test_as_new") {
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

use crate::Build;

/// A schema of one `notes (body text)` table, for tests that need rows and no more.
fn notes(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(target, "create table notes (body text)")
}

fn counted(target: testbed_db::Target<'_>) -> Build<'_> {
    on_postgres(
        target,
        "create table counted (id serial primary key, body text)",
    )
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

/// Runs `sql` on the server's admin database.
async fn admin_sql(admin_pool: &sqlx::PgPool, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(admin_pool)
        .await
        .unwrap();
}

/// Makes database `name` anew, by hand: no mark, no intent.
async fn made_by_hand(admin_pool: &sqlx::PgPool, name: &str) {
    admin_sql(admin_pool, format!(r#"drop database if exists "{name}""#)).await;
    admin_sql(admin_pool, format!(r#"create database "{name}""#)).await;
}

/// A database named like a template that testbed did not make (no mark, no intent) is
/// never listed, dropped or built over: the build refuses with what to do.
#[testbed::test]
async fn a_hand_made_database_named_like_a_template_is_left_alone() {
    require_postgres().await;
    let template = HAND_MADE.template_name(Backend::Postgres).unwrap();
    let admin_pool = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    made_by_hand(&admin_pool, &template).await;
    let listed = admin::status(Backend::Postgres, None).await.unwrap();
    // Orphans and stale templates only: `--templates` would drop other tests' pools.
    let pruned = admin::prune(Backend::Postgres, None, Default::default()).await;
    let scope = Scope::new("hand-made");
    let refused = HAND_MADE.postgres(&scope).await.map(|_| ()).unwrap_err();
    let still_there: bool =
        sqlx::query_scalar("select exists (select from pg_database where datname = $1)")
            .bind(&template)
            .fetch_one(&admin_pool)
            .await
            .unwrap();
    admin_sql(
        &admin_pool,
        format!(r#"drop database if exists "{template}""#),
    )
    .await;
    admin_pool.close().await;
    assert!(
        !listed.iter().any(|held| held.name == template),
        "{listed:?}"
    );
    assert!(
        !pruned.unwrap().iter().any(|held| held.name == template),
        "pruned"
    );
    assert!(still_there, "the hand-made database was dropped");
    assert!(
        refused.to_string().contains("testbed did not create"),
        "{refused}"
    );
}

static HAND_MADE: Database = Database::function("hand-made v1", notes);

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
    if rerun_without_broker("postgres::a_pool_grown_by_a_peak_shrinks_once_the_peak_is_past") {
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

/// A template carrying testbed's mark whose comment this testbed cannot read (made by a
/// build of another layout that kept the name) is testbed's: it is dropped and built
/// again, not refused as a stranger's.
#[testbed::test]
async fn a_marked_template_of_another_layout_is_built_again() {
    require_postgres().await;
    let template = OTHER_LAYOUT.template_name(Backend::Postgres).unwrap();
    let admin_pool = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    made_by_hand(&admin_pool, &template).await;
    let unreadable = "testbed template\nfingerprint abc\ndelete from notes;";
    let comment = format!("comment on database \"{template}\" is '{unreadable}'");
    admin_sql(&admin_pool, comment).await;
    let scope = Scope::new("other layout");
    let built = OTHER_LAYOUT.postgres(&scope).await;
    admin_pool.close().await;
    let db = built.expect("the marked template is built again");
    assert_eq!(count(db.pool(), "select count(*) from notes").await, 0);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static OTHER_LAYOUT: Database = Database::function("other layout v1", notes);
