//! What stays on a server: stale templates and their pools are swept when a template is
//! built and by `prune`, templates in use are kept, and nothing testbed did not mark is
//! touched. Each schema version is built in a child process that then exits, as a
//! developer's successive runs do. A test binary of its own, so that its process does
//! not start with the connections other tests' warm pools keep open.

use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, Stdio};

#[path = "support/child_process.rs"]
mod child_process;

use child_process::{only_in_child, rerun_without_broker};
use testbed::{Outcome, Scope};
use testbed_db::admin;
use testbed_db::{Backend, Database, DatabaseAcquireError, ServerCallError, Target};

const VERSION_ENV: &str = "TESTBED_SWEEP_VERSION";
const READY_ENV: &str = "TESTBED_SWEEP_READY";

type Built<'c> = Pin<Box<dyn Future<Output = Result<(), testbed::BoxError>> + Send + 'c>>;

fn schema(target: Target<'_>) -> Built<'_> {
    Box::pin(async move {
        match target {
            Target::Postgres(conn) => {
                sqlx::raw_sql("create table swept (id int)")
                    .execute(conn)
                    .await?;
            }
            Target::MySql(conn) => {
                sqlx::raw_sql("create table swept (id int)")
                    .execute(conn)
                    .await?;
            }
            Target::Sqlite(conn) => {
                sqlx::raw_sql("create table swept (id int)")
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    })
}

/// Six schema versions, as a developer iterating on migrations makes them.
static VERSIONS: [Database; 6] = [
    Database::function("sweep v1", schema),
    Database::function("sweep v2", schema),
    Database::function("sweep v3", schema),
    Database::function("sweep v4", schema),
    Database::function("sweep v5", schema),
    Database::function("sweep v6", schema),
];

/// A schema a live process keeps using while it is made to look long unused.
static LIVE: Database = Database::function("sweep live v1", schema);

fn backend_of(text: &str) -> Backend {
    text.parse().expect("a backend name")
}

/// Runs `helper` of this binary in a child for `backend`, with `version` chosen.
fn child(helper: &str, backend: Backend, version: usize) -> Command {
    let mut command = child_process::command(helper);
    command.env(VERSION_ENV, format!("{backend} {version}"));
    command
}

fn chosen() -> (Backend, usize) {
    let text = std::env::var(VERSION_ENV).expect("the parent chose a version");
    let (backend, version) = text.split_once(' ').expect("`<backend> <version>`");
    (backend_of(backend), version.parse().expect("a version"))
}

async fn use_once(
    database: &'static Database,
    backend: Backend,
) -> Result<String, DatabaseAcquireError> {
    let scope = Scope::new("child");
    let db = database.acquire(&scope, backend).await?;
    let name = match &db {
        testbed_db::AnyTestDb::Sqlite(db) => db.name().to_owned(),
        testbed_db::AnyTestDb::Postgres(db) => db.name().to_owned(),
        testbed_db::AnyTestDb::MySql(db) => db.name().to_owned(),
        _ => String::new(),
    };
    drop(db);
    scope.finish_async(Outcome::Passed).await.unwrap();
    Ok(name)
}

#[testbed::test]
#[ignore = "helper: run in a child process by the sweep tests"]
async fn child_builds_one_version() {
    only_in_child("child_builds_one_version");
    let (backend, version) = chosen();
    let used = use_once(&VERSIONS[version], backend).await.unwrap();
    println!("USED {used}");
}

#[testbed::test]
#[ignore = "helper: run in a child process by the sweep tests"]
async fn child_holds_the_live_schema() {
    only_in_child("child_holds_the_live_schema");
    let (backend, _) = chosen();
    let scope = Scope::new("child");
    let _db = LIVE.acquire(&scope, backend).await.unwrap();
    let ready = std::env::var_os(READY_ENV).expect("the parent's ready file");
    std::fs::write(ready, b"ready").unwrap();
    // Alive, using the schema, until the parent has looked.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    scope.finish_async(Outcome::Passed).await.unwrap();
}

/// Skips the test (fails it under `TESTBED_REQUIRE`) when `backend`'s server is absent.
async fn require(backend: Backend) {
    if let Err(ServerCallError::Unavailable(unavailable)) = admin::status(backend, None).await {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
}

/// Retries `call` while the server is at its connection limit: the whole suite shares
/// it with the children these tests start.
async fn patiently<T>(call: impl AsyncFn() -> Result<T, DatabaseAcquireError>) -> T {
    for _ in 0..40 {
        match call().await {
            Err(DatabaseAcquireError::Server(ServerCallError::TooManyConnections { .. })) => {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            other => return other.unwrap(),
        }
    }
    call().await.unwrap()
}

async fn names(backend: Backend) -> Vec<String> {
    patiently(async || Ok(admin::status(backend, None).await?))
        .await
        .into_iter()
        .map(|held| held.name)
        .collect()
}

async fn sweep(backend: Backend) {
    patiently(async || Ok(admin::sweep_templates(backend, None).await?)).await;
}

/// Whether `backend`'s server holds something of template `template` (itself or a
/// pooled database of it).
fn has(names: &[String], template: &str) -> (bool, bool) {
    let hash = template.rsplit('_').next().unwrap();
    let pool = format!("testbed_pool_{hash}_");
    (
        names.iter().any(|name| name.contains(template)),
        names.iter().any(|name| name.contains(&pool)),
    )
}

/// Builds the six versions one run after the other; returns their template names.
fn build_versions(backend: Backend) -> Vec<String> {
    let mut templates = Vec::new();
    for (version, database) in VERSIONS.iter().enumerate() {
        let log = scratch("build.log", backend);
        let status = child("child_builds_one_version", backend, version)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .status()
            .unwrap();
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        assert!(status.success(), "version {version}: {status}: {stderr}");
        templates.push(database.template_name(backend).unwrap());
    }
    templates
}

/// A path of the temporary directory for this process and `backend` only. Children
/// report through files, not pipes: a server a child starts (a throwaway PostgreSQL
/// cluster) could inherit a pipe and hold it open after the child is gone.
fn scratch(label: &str, backend: Backend) -> PathBuf {
    std::env::temp_dir().join(format!(
        "testbed-retention-{}-{backend}-{label}",
        std::process::id()
    ))
}

/// After six successive schema versions, the two oldest and their pools are gone (at
/// most four templates are kept, the newest included; other test processes building
/// templates may sweep more of them, never fewer).
async fn oldest_versions_are_swept(backend: Backend) -> Vec<String> {
    let templates = build_versions(backend);
    let held = names(backend).await;
    for old in &templates[..2] {
        assert_eq!(has(&held, old), (false, false), "`{old}` left: {held:?}");
    }
    let remaining = templates
        .iter()
        .filter(|template| has(&held, template).0)
        .count();
    assert!(remaining <= 4, "{remaining} versions left: {held:?}");
    templates
}

/// A template whose user is alive is kept however long unused it looks, and swept by
/// `prune` once its user is gone.
async fn a_live_template_is_kept(backend: Backend, backdate: impl AsyncFn(&str)) {
    let ready = scratch("ready", backend);
    let _ = std::fs::remove_file(&ready);
    let mut holder = child("child_holds_the_live_schema", backend, 0)
        .env(READY_ENV, &ready)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !ready.exists() {
        if let Some(status) = holder.try_wait().unwrap() {
            panic!("the holder died: {status}");
        }
        if std::time::Instant::now() > deadline {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!("the holder was not ready within 120 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = std::fs::remove_file(&ready);
    let template = LIVE.template_name(backend).unwrap();
    backdate(&template).await;
    sweep(backend).await;
    let kept = has(&names(backend).await, &template).0;
    holder.stdin.take().unwrap().write_all(b"done\n").unwrap();
    assert!(holder.wait().unwrap().success());
    assert!(kept, "`{template}` was swept while in use");
    sweep_until_gone(backend, std::slice::from_ref(&template)).await;
}

/// Sweeps until none of `templates` is left: a sweep skips what another process's
/// sweep holds at that moment, so a few rounds may be needed when tests run side by
/// side.
async fn sweep_until_gone(backend: Backend, templates: &[String]) {
    let mut held = Vec::new();
    for _ in 0..10 {
        sweep(backend).await;
        held = names(backend).await;
        if templates
            .iter()
            .all(|template| has(&held, template) == (false, false))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("{templates:?} not swept: {held:?}");
}

mod postgres {
    use super::*;

    const URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    fn url() -> String {
        std::env::var(testbed_db::POSTGRES_URL_ENV).unwrap_or_else(|_| URL.to_owned())
    }

    async fn execute(sql: &str) {
        let pool = sqlx::PgPool::connect(&url()).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    async fn exists(name: &str) -> bool {
        let pool = sqlx::PgPool::connect(&url()).await.unwrap();
        let found: Option<String> =
            sqlx::query_scalar("select datname::text from pg_database where datname = $1")
                .bind(name)
                .fetch_optional(&pool)
                .await
                .unwrap();
        pool.close().await;
        found.is_some()
    }

    /// Drops what is left of `template` (it is no one's now), by name, for cleanup.
    async fn remove(template: &str) {
        let hash = template.rsplit('_').next().unwrap();
        let pool = sqlx::PgPool::connect(&url()).await.unwrap();
        let pooled: Vec<String> = sqlx::query_scalar(
            "select datname::text from pg_database where starts_with(datname, $1)",
        )
        .bind(format!("testbed_pool_{hash}_"))
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        // Another process's sweep may be dropping the same stale databases meanwhile
        // (one half-dropped is "invalid" and refuses `alter`): each statement may fail,
        // but the database must be gone at the end.
        for name in pooled.iter().map(String::as_str).chain([template]) {
            if exists(name).await {
                let pool = sqlx::PgPool::connect(&url()).await.unwrap();
                for sql in [
                    format!(r#"alter database "{name}" with is_template false"#),
                    format!(r#"drop database if exists "{name}" with (force)"#),
                ] {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                }
                pool.close().await;
                assert!(!exists(name).await, "`{name}` could not be removed");
            }
        }
    }

    #[testbed::test]
    async fn stale_templates_and_pools_are_swept_and_others_untouched() {
        // A broker would keep this run's pooled databases in use.
        if rerun_without_broker(
            "postgres::stale_templates_and_pools_are_swept_and_others_untouched",
        ) {
            return;
        }
        require(Backend::Postgres).await;
        let v1 = VERSIONS[0].template_name(Backend::Postgres).unwrap();
        let v1_hash = v1.rsplit('_').next().unwrap().to_owned();
        // Databases testbed did not make, or did not mark: never touched.
        let foreign = [
            "not_testbed_x".to_owned(),
            "testbed_lookalike".to_owned(),
            format!("testbed_pool_{v1_hash}_90"),
        ];
        for name in &foreign {
            execute(&format!(r#"drop database if exists "{name}""#)).await;
            execute(&format!(r#"create database "{name}""#)).await;
        }
        let templates = oldest_versions_are_swept(Backend::Postgres).await;
        sweep(Backend::Postgres).await;
        let mut untouched = Vec::new();
        for name in &foreign {
            untouched.push(exists(name).await);
            execute(&format!(r#"drop database if exists "{name}""#)).await;
        }
        for template in &templates {
            remove(template).await;
        }
        assert_eq!(untouched, [true, true, true], "{foreign:?}");
    }

    #[testbed::test]
    async fn a_template_in_use_is_kept() {
        if rerun_without_broker("postgres::a_template_in_use_is_kept") {
            return;
        }
        require(Backend::Postgres).await;
        a_live_template_is_kept(Backend::Postgres, async |template: &str| {
            // Used last long ago, as far as the server records.
            execute(&format!(
                r#"alter database "{template}" set testbed.last_used = '1000'"#
            ))
            .await;
        })
        .await;
    }
}

mod mysql {
    use super::*;

    const URL: &str = "mysql://root@127.0.0.1:3306";

    async fn pool() -> sqlx::MySqlPool {
        let url = std::env::var(testbed_db::MYSQL_URL_ENV).unwrap_or_else(|_| URL.to_owned());
        sqlx::MySqlPool::connect(&url).await.unwrap()
    }

    async fn execute(sql: &str) {
        let pool = pool().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    async fn exists(name: &str) -> bool {
        let pool = pool().await;
        let found: Option<String> = sqlx::query_scalar(
            "select cast(schema_name as char) from information_schema.schemata
             where schema_name = ?",
        )
        .bind(name)
        .fetch_optional(&pool)
        .await
        .unwrap();
        pool.close().await;
        found.is_some()
    }

    #[testbed::test]
    async fn stale_mysql_templates_and_pools_are_swept_and_others_untouched() {
        require(Backend::MySql).await;
        let v1 = VERSIONS[0].template_name(Backend::MySql).unwrap();
        let v1_hash = v1.rsplit('_').next().unwrap().to_owned();
        // Databases testbed did not make or register: never touched.
        let foreign = [
            "not_testbed_x".to_owned(),
            "testbed_lookalike".to_owned(),
            format!("testbed_pool_{v1_hash}_90"),
        ];
        for name in &foreign {
            execute(&format!("drop database if exists `{name}`")).await;
            execute(&format!("create database `{name}`")).await;
        }
        let templates = oldest_versions_are_swept(Backend::MySql).await;
        sweep(Backend::MySql).await;
        let mut untouched = Vec::new();
        for name in &foreign {
            untouched.push(exists(name).await);
            execute(&format!("drop database if exists `{name}`")).await;
        }
        // What is left of the versions is no one's now: make it long unused and sweep.
        for template in &templates {
            execute(&format!(
                "update testbed_registry.used set last_used = 1000 where name = '{template}'"
            ))
            .await;
        }
        assert_eq!(untouched, [true, true, true], "{foreign:?}");
        sweep_until_gone(Backend::MySql, &templates).await;
    }

    #[testbed::test]
    async fn a_mysql_template_in_use_is_kept() {
        require(Backend::MySql).await;
        a_live_template_is_kept(Backend::MySql, async |template: &str| {
            execute(&format!(
                "update testbed_registry.used set last_used = 1000 where name = '{template}'"
            ))
            .await;
        })
        .await;
    }
}

mod sqlite {
    use super::*;

    /// Where the templates are: keys of a testbed `Persistent` directory.
    fn templates_dir() -> std::path::PathBuf {
        std::env::var_os("TESTBED_SQLITE_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("testbed-db"))
            .join("templates")
    }

    fn template_path(template: &str) -> std::path::PathBuf {
        templates_dir().join(template).join("template.sqlite")
    }

    /// Makes template `template` look used long ago: its directory's completion marker
    /// is touched on every use.
    fn backdate(template: &str) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(templates_dir().join(format!("{template}.complete")))
            .unwrap();
        let long_ago = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        file.set_modified(long_ago).unwrap();
    }

    #[testbed::test]
    async fn stale_sqlite_templates_are_swept_and_others_untouched() {
        let dir = templates_dir();
        std::fs::create_dir_all(&dir).unwrap();
        // Files testbed did not make: never touched.
        let foreign = [
            dir.join("not_testbed_x.sqlite"),
            dir.join("testbed_lookalike"),
            dir.parent().unwrap().join("not_testbed_y.sqlite"),
        ];
        for path in &foreign {
            std::fs::write(path, b"not a template").unwrap();
        }
        let templates = oldest_versions_are_swept(Backend::Sqlite).await;
        sweep(Backend::Sqlite).await;
        let untouched: Vec<bool> = foreign.iter().map(|path| path.exists()).collect();
        for path in &foreign {
            let _ = std::fs::remove_file(path);
        }
        assert_eq!(untouched, [true, true, true], "{foreign:?}");
        // What a build that failed or was killed leaves (a lock, a half-built directory,
        // no completion marker) does not pile up.
        let lone = [
            dir.join("testbed_tpl_00000000000000aa.lock"),
            dir.join("testbed_tpl_00000000000000aa"),
        ];
        std::fs::write(&lone[0], b"").unwrap();
        std::fs::create_dir_all(&lone[1]).unwrap();
        sweep(Backend::Sqlite).await;
        assert!(lone.iter().all(|path| !path.exists()), "{lone:?}");
        for template in &templates {
            if template_path(template).exists() {
                backdate(template);
            }
        }
        sweep_until_gone(Backend::Sqlite, &templates).await;
    }

    #[testbed::test]
    async fn an_sqlite_template_in_use_is_kept() {
        a_live_template_is_kept(Backend::Sqlite, async |template: &str| backdate(template)).await;
    }
}
