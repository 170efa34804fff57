//! `cargo testbed db` run as a program against the real servers here.

use std::process::{Command, Output};

use testbed_db::admin;
use testbed_db::{Backend, ServerCallError};

fn cargo_testbed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-testbed"))
        .arg("testbed")
        .args(args)
        .output()
        .expect("cargo-testbed runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn require_postgres() {
    if let Err(ServerCallError::Unavailable(unavailable)) =
        admin::status(Backend::Postgres, None).await
    {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
}

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var(testbed_db::POSTGRES_URL_ENV).unwrap_or_else(|_| ADMIN_URL.to_owned())
}

async fn run_sql(pool: &sqlx::PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn database_exists(pool: &sqlx::PgPool, name: &str) -> bool {
    sqlx::query_scalar::<_, i64>("select count(*) from pg_database where datname = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
        == 1
}

#[testbed::test]
async fn prune_removes_a_dead_owners_database_and_nothing_it_did_not_create() {
    require_postgres().await;
    let pool = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    // What a killed run leaves: a marked database whose owner has no lease open.
    let orphan = "testbed_0000deadbeef_1";
    // Named like testbed's, but not marked by testbed: someone else's.
    let foreign = "testbed_0000deadbeef_2";
    for name in [orphan, foreign] {
        run_sql(&pool, &format!("drop database if exists {name}")).await;
        run_sql(&pool, &format!("create database {name}")).await;
    }
    run_sql(
        &pool,
        &format!("comment on database {orphan} is 'testbed owner of testbed_tpl_0000000000000000'"),
    )
    .await;

    let status = cargo_testbed(&["db", "status", "--backend", "postgres"]);
    assert!(status.status.success(), "{status:?}");
    let listed = stdout(&status);
    // Another test process's first sweep may remove the orphan before this status
    // (nextest runs tests side by side); if it is listed, it is as an orphan.
    assert!(
        !listed.contains(orphan) || listed.contains(&format!("orphaned             {orphan}")),
        "{listed}"
    );
    assert!(!listed.contains(foreign), "{listed}");

    let prune = cargo_testbed(&["db", "prune", "--backend", "postgres"]);
    assert!(prune.status.success(), "{prune:?}");
    assert!(!database_exists(&pool, orphan).await);
    assert!(
        database_exists(&pool, foreign).await,
        "prune dropped a database testbed did not create"
    );
    run_sql(&pool, &format!("drop database {foreign}")).await;
    pool.close().await;
}

#[testbed::test]
async fn status_lists_every_backend_and_never_a_password() {
    require_postgres().await;
    let output = cargo_testbed(&[
        "db",
        "status",
        "--postgres-url",
        "postgres://no_such_role:hunter2@127.0.0.1:5432/postgres",
    ]);
    let text = stdout(&output);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a refused connection is an error: {text}{errors}"
    );
    assert!(text.contains("sqlite: testbed holds"), "{text}");
    assert!(text.contains("postgres: error (see stderr)"), "{text}");
    assert!(
        errors.starts_with("error: postgres: failed to connect to postgres at `")
            && errors.contains("no_such_role:***@"),
        "{errors}"
    );
    assert!(
        !text.contains("hunter2") && !errors.contains("hunter2"),
        "{text}{errors}"
    );
    assert!(
        text.lines().any(|line| line.starts_with("mysql:")),
        "{text}"
    );
}

#[test]
fn an_unknown_backend_is_a_usage_error() {
    let output = cargo_testbed(&["db", "status", "--backend", "oracle"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown database backend `oracle`"),
        "{stderr}"
    );
}

/// `cargo testbed skips` lists a nextest run's runtime skips from testbed's ledger
/// (`<dir>/skips/<run id>.tsv`: binary, test, requirement and reason, tab-separated),
/// with each reason's count; and says so when there is none.
#[test]
fn skips_lists_the_last_runs_skips_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let none = cargo_testbed(&["skips", "--dir", dir.path().to_str().unwrap()]);
    assert!(none.status.success());
    assert!(
        stdout(&none).starts_with("no nextest run recorded a skip in `"),
        "{}",
        stdout(&none)
    );
    std::fs::create_dir(dir.path().join("skips")).unwrap();
    std::fs::write(
        dir.path().join("skips/run-1.tsv"),
        "db\tpostgres::a\tpostgres\tcannot reach the server\n\
         db\tpostgres::b\tpostgres\tcannot reach the server\n\
         suite\tredis::c\tredis\tno Redis server\\tat 127.0.0.1:6379\n",
    )
    .unwrap();
    let output = cargo_testbed(&["skips", "--dir", dir.path().to_str().unwrap()]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        "nextest run run-1: 3 test(s) skipped at run time (nextest showed them as PASS)\n\
         \x20 SKIPPED db postgres::a\n\
         \x20 SKIPPED db postgres::b\n\
         \x20 SKIPPED suite redis::c\n\
         why:\n\
         \x20    2  postgres unavailable: cannot reach the server\n\
         \x20    1  redis unavailable: no Redis server\tat 127.0.0.1:6379\n"
    );
    let other = cargo_testbed(&[
        "skips",
        "--run",
        "run-2",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(stdout(&other).starts_with("nextest run run-2 recorded no skip in `"));
}

#[test]
fn versions_lists_reviews_accepts_and_rejects_pending_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let output = cargo_testbed(&["versions", "status", "--root", root]);
    assert!(
        stdout(&output).contains("no pending manifest"),
        "{output:?}"
    );

    // A manifest with `Ping` 1.0, and a proposal that adds 1.1 with a field.
    let record = |version: &str, fields: &str| {
        format!(
            r#"{{"fingerprint":"{version}-00","shape":{{"name":"Ping","body":{{"struct":[{fields}]}}}}}}"#
        )
    };
    let seq = r#"{"name":"seq","ty":{"primitive":"u64"},"default":false,"optional_on_wire":false,"flatten":false}"#;
    let committed = format!(r#"{{"types":{{"Ping":{{"1.0":{}}}}}}}"#, record("1.0", ""));
    let proposed = format!(
        r#"{{"types":{{"Ping":{{"1.0":{},"1.1":{}}}}}}}"#,
        record("1.0", ""),
        record("1.1", seq)
    );
    let nested = dir.path().join("app");
    std::fs::create_dir_all(&nested).unwrap();
    let manifest = nested.join("versions.json");
    let pending = nested.join("versions.json.pending");
    std::fs::write(&manifest, &committed).unwrap();
    std::fs::write(&pending, &proposed).unwrap();

    let output = cargo_testbed(&["versions", "review", "--root", root]);
    let said = stdout(&output);
    assert!(output.status.success(), "{output:?}");
    assert!(said.contains("~ `Ping` 1.0 -> 1.1"), "{said}");
    assert!(
        said.contains("field `seq: u64` added without a default (breaking)"),
        "{said}"
    );

    let output = cargo_testbed(&["versions", "reject", "--root", root]);
    assert!(output.status.success(), "{output:?}");
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), committed);

    std::fs::write(&pending, &proposed).unwrap();
    let output = cargo_testbed(&["versions", "accept", "--root", root]);
    assert!(output.status.success(), "{output:?}");
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), proposed);
}
