use testbed::{Outcome, Scope};
use testbed_db::admin::{self, HeldKind, PruneOptions};
use testbed_db::{Backend, Database, Isolation};

use crate::SHOP;

static FILE_COPY: Database = testbed_db::migrations!("tests/schema")
    .with_seeds(testbed_db::seeds!["tests/seeds/base.sql"])
    .isolation(Isolation::File);

#[tokio::test]
async fn a_file_copy_has_a_url_and_is_removed_after_a_pass() -> Result<(), sqlx::Error> {
    let scope = Scope::new("file copy");
    let db = FILE_COPY.sqlite(&scope).await.unwrap();
    let url = db.url().expect("a file copy has a URL").to_owned();
    let other = sqlx::SqlitePool::connect(&url).await?;
    sqlx::query("insert into tags (name) values ('seen')")
        .execute(db.pool())
        .await?;
    let seen: i64 = sqlx::query_scalar("select count(*) from tags where name = 'seen'")
        .fetch_one(&other)
        .await?;
    assert_eq!(seen, 1, "a second pool on the URL sees the same database");
    other.close().await;
    let path = url.trim_start_matches("sqlite://").to_owned();
    assert!(std::path::Path::new(&path).exists());
    scope.finish_async(Outcome::Passed).await.unwrap();
    assert!(!std::path::Path::new(&path).exists(), "{path} left behind");
    Ok(())
}

/// Holds five connections of `pool` at once (the limit of every test pool but
/// PostgreSQL's `Rollback`), and checks they share one database: what one writes,
/// another reads.
async fn holds_five_connections(pool: &sqlx::SqlitePool) {
    let holding = async {
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(pool.acquire().await.unwrap());
        }
        held
    };
    // Loose: a pool that allows fewer waits 30 s for sqlx's `PoolTimedOut`.
    let mut held = tokio::time::timeout(std::time::Duration::from_secs(5), holding)
        .await
        .expect("five connections at once within 5 s");
    sqlx::query("insert into tags (name) values ('shared')")
        .execute(&mut *held[0])
        .await
        .unwrap();
    for conn in &mut held[1..] {
        let seen: i64 = sqlx::query_scalar("select count(*) from tags where name = 'shared'")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(seen, 1, "every connection sees the same database");
    }
}

#[testbed::test]
async fn the_default_in_memory_database_allows_five_connections(scope: &Scope) {
    let db = SHOP.sqlite(scope).await.unwrap();
    holds_five_connections(db.pool()).await;
    // And it is still this test's own: a second database does not see the row.
    let other = SHOP.sqlite(scope).await.unwrap();
    let seen: i64 = sqlx::query_scalar("select count(*) from tags where name = 'shared'")
        .fetch_one(other.pool())
        .await
        .unwrap();
    assert_eq!(seen, 0);
}

#[testbed::test]
async fn a_file_copy_allows_five_connections(scope: &Scope) {
    let db = FILE_COPY.sqlite(scope).await.unwrap();
    holds_five_connections(db.pool()).await;
}

#[tokio::test]
async fn an_in_memory_database_lives_until_its_test_ends() {
    let scope = Scope::new("in memory");
    let db = SHOP.sqlite(&scope).await.unwrap();
    sqlx::query("insert into tags (name) values ('kept')")
        .execute(db.pool())
        .await
        .unwrap();
    // Every connection of the pool closed: the database stays for the test's next one.
    // A connection sqlx is still giving back (it pings it first, on a task of its own)
    // counts in the pool's size until it is idle: wait for it rather than open another.
    let started = std::time::Instant::now();
    while db.pool().size() > 0 && started.elapsed() < std::time::Duration::from_secs(5) {
        if db.pool().num_idle() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            continue;
        }
        let conn = db.pool().acquire().await.unwrap().detach();
        sqlx::Connection::close(conn).await.unwrap();
    }
    assert_eq!(db.pool().size(), 0);
    let seen: i64 = sqlx::query_scalar("select count(*) from tags where name = 'kept'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(seen, 1);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

static BY_FUNCTION: Database = Database::function("notes v1", |target| {
    Box::pin(async move {
        if let testbed_db::Target::Sqlite(conn) = target {
            sqlx::raw_sql("create table notes (body text not null)")
                .execute(conn)
                .await?;
        }
        Ok(())
    })
});

#[testbed::test]
async fn a_rust_function_can_build_the_schema(scope: &Scope) -> Result<(), sqlx::Error> {
    let db = BY_FUNCTION.sqlite(scope).await.unwrap();
    sqlx::query("insert into notes values ('hi')")
        .execute(db.pool())
        .await?;
    Ok(())
}

#[testbed::test]
async fn a_failing_tests_sqlite_image_is_kept_when_asked() {
    let output = crate::child::run(
        "child::child_fails_with_an_sqlite_image",
        &[("TESTBED_KEEP_FAILED", "1")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let url = stderr
        .lines()
        .find_map(|line| line.split_once("kept the failing test's sqlite database: "))
        .map(|(_, url)| url.trim().to_owned())
        .unwrap_or_else(|| panic!("no kept database announced: {stderr}"));
    let kept = sqlx::SqlitePool::connect(&url).await.unwrap();
    let evidence: i64 = sqlx::query_scalar("select count(*) from tags where name = 'evidence'")
        .fetch_one(&kept)
        .await
        .unwrap();
    kept.close().await;
    assert_eq!(evidence, 1, "the failing test's rows are in the kept file");
    let path = url.trim_start_matches("sqlite://").to_owned();
    let held = admin::status(Backend::Sqlite, None).await.unwrap();
    assert!(
        held.iter()
            .any(|h| h.name == path && h.kind == HeldKind::Kept)
    );
    admin::prune(Backend::Sqlite, None, PruneOptions::default())
        .await
        .unwrap();
    assert!(
        std::path::Path::new(&path).exists(),
        "an ordinary prune keeps it"
    );
    admin::prune(
        Backend::Sqlite,
        None,
        PruneOptions {
            templates: false,
            kept: true,
        },
    )
    .await
    .unwrap();
    assert!(!std::path::Path::new(&path).exists());
}

#[tokio::test]
async fn a_test_without_a_backend_scenario_is_told_so() {
    let scope = Scope::new("plain");
    let error = SHOP.for_scenario(&scope).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("none of its scenarios names one"),
        "{error}"
    );
}
