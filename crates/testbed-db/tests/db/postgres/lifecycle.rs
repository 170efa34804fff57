//! PostgreSQL templates and test databases from their making to their end: a clone
//! dropped after its test, a half-built template built again, orphans pruned, a failing
//! test's database kept, a full server's clear error, and the databases testbed did
//! not make left alone.

use testbed::{Outcome, Scope};
use testbed_db::admin::{self, HeldKind, PruneOptions};
use testbed_db::{Backend, Database, ServerCallError};

use crate::{SHOP, SHOP_CLONES, child};

use super::{admin_url, count, exists, notes, on_postgres, require_postgres, wait_until_unclaimed};

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
