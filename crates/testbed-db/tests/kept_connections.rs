//! The cap on the PostgreSQL connections a process keeps in idle recycled pools: a
//! process that uses more schemas than the cap allows pools for keeps no more than the
//! cap, beyond what its test is using. The uses run in a child with a small cap, in a
//! test binary of its own so that no other test's pools count.

use std::time::{Duration, Instant};

use sqlx::Connection;
#[path = "support/child_process.rs"]
mod child_process;

use child_process::only_in_child;
use testbed::{Outcome, Scope};
use testbed_db::{Backend, Database, ServerCallError, Target, admin};

/// The child's cap: two idle pools of three connections.
const CAP: usize = 6;

type Built<'c> = std::pin::Pin<Box<dyn Future<Output = Result<(), testbed::BoxError>> + Send + 'c>>;

fn schema(target: Target<'_>) -> Built<'_> {
    Box::pin(async move {
        if let Target::Postgres(conn) = target {
            sqlx::raw_sql("create table kept (id int)")
                .execute(conn)
                .await?;
        }
        Ok(())
    })
}

/// Five schemas: uncapped, their warm pools would keep about 30 connections.
static SCHEMAS: [Database; 5] = [
    Database::function("kept v1", schema),
    Database::function("kept v2", schema),
    Database::function("kept v3", schema),
    Database::function("kept v4", schema),
    Database::function("kept v5", schema),
];

fn admin_url() -> String {
    std::env::var(testbed_db::POSTGRES_URL_ENV)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The connections open under `application` on the server.
async fn connections(admin: &mut sqlx::PgConnection, application: &str) -> usize {
    let count: i64 =
        sqlx::query_scalar("select count(*) from pg_stat_activity where application_name = $1")
            .bind(application)
            .fetch_one(admin)
            .await
            .unwrap();
    count as usize
}

/// Waits (background fills and resets settle) until at most `bound` connections are
/// open under `application`; panics with the last count if they never are.
async fn settles_within(admin: &mut sqlx::PgConnection, application: &str, bound: usize) {
    let start = Instant::now();
    loop {
        let count = connections(admin, application).await;
        if count <= bound {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{count} connections kept under `{application}`, more than {bound}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[testbed::test]
#[ignore = "helper: run in a child process by kept_connections_stay_under_the_cap"]
async fn child_uses_every_schema() {
    only_in_child("child_uses_every_schema");
    let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
    for database in &SCHEMAS {
        let scope = Scope::new("child");
        let db = database.postgres(&scope).await.unwrap();
        let application: String = sqlx::query_scalar("select current_setting('application_name')")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let in_use = db.pool().size() as usize;
        settles_within(&mut admin, &application, CAP + in_use).await;
        drop(db);
        scope.finish_async(Outcome::Passed).await.unwrap();
        settles_within(&mut admin, &application, CAP).await;
    }
    println!("USED {}", SCHEMAS.len());
}

#[tokio::test]
async fn kept_connections_stay_under_the_cap() {
    if let Err(ServerCallError::Unavailable(unavailable)) =
        admin::status(Backend::Postgres, None).await
    {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
    let output = child_process::command("child_uses_every_schema")
        .env(testbed_db::PG_MAX_KEPT_CONNECTIONS_ENV, CAP.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("USED 5"),
        "child: {}\n{stdout}\n{stderr}",
        output.status
    );
}
