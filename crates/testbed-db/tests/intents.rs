//! Databases cut off between `CREATE DATABASE` and testbed's mark: a killed process's
//! intent proves they are testbed's, so prune drops them; one with no intent, or whose
//! owner lives, is left alone. A test binary of its own: the child kills itself.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

#[path = "support/child_process.rs"]
mod child_process;

use child_process::only_in_child;

use sqlx::Connection;
use testbed_db::admin::{self, PruneOptions};
use testbed_db::{Backend, ServerCallError};

const NAME_ENV: &str = "TESTBED_INTENT_NAME";

/// A pooled database's name no other test uses: `testbed_pool_<hash>_<n>`.
fn pool_name(serial: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let hash = format!("{:016x}", (nanos as u64) ^ u64::from(std::process::id()));
    format!("testbed_pool_{hash}_{serial}")
}

async fn admin_conn() -> sqlx::PgConnection {
    let url = std::env::var(testbed_db::POSTGRES_URL_ENV)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    sqlx::PgConnection::connect(&url).await.unwrap()
}

/// `Some(comment)` if `name` exists (`""` when unmarked).
async fn comment_of(name: &str) -> Option<String> {
    let mut conn = admin_conn().await;
    sqlx::query_scalar(
        "select coalesce(shobj_description(oid, 'pg_database'), '') from pg_database
         where datname = $1",
    )
    .bind(name)
    .fetch_optional(&mut conn)
    .await
    .unwrap()
}

async fn execute(sql: String) {
    let mut conn = admin_conn().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn prune() -> Vec<String> {
    admin::prune(Backend::Postgres, None, PruneOptions::default())
        .await
        .unwrap()
        .into_iter()
        .map(|held| held.name)
        .collect()
}

/// What `cargo testbed db status` says of `name`, if it lists it.
async fn status_of(name: &str) -> Option<admin::HeldKind> {
    admin::status(Backend::Postgres, None)
        .await
        .unwrap()
        .into_iter()
        .find(|held| held.name == name)
        .map(|held| held.kind)
}

async fn require_postgres() {
    if let Err(ServerCallError::Unavailable(unavailable)) =
        admin::status(Backend::Postgres, None).await
    {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
}

#[testbed::test]
#[ignore = "helper: run in a child process by a_killed_creators_database_is_pruned"]
async fn child_dies_before_marking() {
    only_in_child("child_dies_before_marking");
    let name = std::env::var(NAME_ENV).unwrap();
    testbed_db::__private::create_unmarked_for_tests(name)
        .await
        .unwrap();
    // Killed as nextest kills a run: no destructor, no cleanup.
    let _ = Command::new("kill")
        .args(["-9", &std::process::id().to_string()])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(10));
    unreachable!("the child outlived its SIGKILL");
}

#[tokio::test]
async fn a_killed_creators_database_is_pruned() {
    require_postgres().await;
    let (orphan, by_hand) = (pool_name(1), pool_name(2));
    let status = child_process::command("child_dies_before_marking")
        .env(NAME_ENV, &orphan)
        .status()
        .unwrap();
    assert!(!status.success(), "the child was to die: {status}");
    assert_eq!(
        comment_of(&orphan).await.as_deref(),
        Some(""),
        "left unmarked"
    );
    execute(format!(r#"create database "{by_hand}""#)).await;
    // Status tells the truth before any prune: the dead creator's database is an orphan
    // (once the server has noticed the kill), the hand-made one is not listed.
    let mut listed = status_of(&orphan).await;
    for _ in 0..100 {
        if listed != Some(admin::HeldKind::InUse) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        listed = status_of(&orphan).await;
    }
    // Not listed is right only if someone's prune dropped it meanwhile.
    let listed_truly = listed == Some(admin::HeldKind::Orphaned)
        || (listed.is_none() && comment_of(&orphan).await.is_none());
    let by_hand_listed = status_of(&by_hand).await;

    // The dead child's lease closes a moment after the kill: until then, it is alive.
    let mut pruned = Vec::new();
    for _ in 0..100 {
        pruned.extend(prune().await);
        // The other test's prune may be the one that drops it.
        if comment_of(&orphan).await.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (orphan_left, by_hand_left) = (comment_of(&orphan).await, comment_of(&by_hand).await);
    execute(format!(r#"drop database if exists "{by_hand}""#)).await;
    assert_eq!(orphan_left, None, "the dead creator's database is gone");
    assert!(listed_truly, "status listed it as {listed:?}");
    assert_eq!(by_hand_listed, None, "status lists only what testbed made");
    assert!(!pruned.contains(&by_hand), "pruned {pruned:?}");
    assert_eq!(
        by_hand_left.as_deref(),
        Some(""),
        "no intent: never touched"
    );
}

#[tokio::test]
async fn a_live_creators_database_is_kept() {
    require_postgres().await;
    let name = pool_name(3);
    testbed_db::__private::create_unmarked_for_tests(name.clone())
        .await
        .unwrap();
    let listed = status_of(&name).await;
    let pruned = prune().await;
    let left = comment_of(&name).await;
    // This process's intent stays: a later prune, once it is gone, clears it.
    execute(format!(r#"drop database if exists "{name}""#)).await;
    assert!(!pruned.contains(&name), "pruned {pruned:?}");
    assert_eq!(left.as_deref(), Some(""), "its creator lives: kept");
    assert_eq!(
        listed,
        Some(admin::HeldKind::InUse),
        "status lists it, in use"
    );
}
