//! The same 200-test suite, on the same schema (tests/schema: 22 tables with keys,
//! foreign keys and indexes in 12 migrations, plus seed rows), run the way
//! `#[sqlx::test]` runs it and with each of testbed-db's strategies, on SQLite,
//! PostgreSQL and MariaDB, side by side:
//!
//! ```text
//! cargo bench -p testbed-db --bench isolation
//! ```
//!
//! `#[sqlx::test]` is reproduced step by step (sqlx's attribute only works inside
//! `cargo test`): per test a new database, every migration, the seed fixtures, the test,
//! then the drop. Tests run one at a time, each on a runtime of its own as
//! `#[testbed::test]` does. Templates persist across runs, so testbed's are built once
//! before timing (their build time is printed). `acquire` is the time from asking for a
//! database to holding it; `ready` adds the first query, which for a pooled database
//! opens its first connection. `TESTBED_BENCH_TESTS` changes the number of tests, and
//! `TESTBED_BENCH_BACKENDS=postgres,mysql` runs only those backends.
//!
//! `-- --nextest` runs the generated suite of `tests/nextest-suite` instead, under the
//! real `cargo nextest run` and `cargo test`, against the real `#[sqlx::test]` (see
//! `isolation/nextest.rs`).

use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection, Executor};
use testbed::{Outcome, Scope};
use testbed_db::{Backend, Database, Isolation};

#[path = "isolation/nextest.rs"]
mod nextest;

const SCHEMA: &str = "tests/schema";
const SEEDS: &str = "tests/seeds/base.sql";

/// The schema and seeds, embedded (`SCHEMA` and `SEEDS` are what `#[sqlx::test]`'s
/// steps read).
static RECYCLED: Database =
    testbed_db::migrations!("tests/schema").with_seeds(testbed_db::seeds!["tests/seeds/base.sql"]);
static CLONED: Database = RECYCLED.isolation(Isolation::Clone);
static ROLLBACK: Database = RECYCLED.isolation(Isolation::Rollback);
static FILE_COPY: Database = RECYCLED.isolation(Isolation::File);

/// What every test of the suite does: an order with three items, a count, an update.
const BODY: [&str; 5] = [
    "insert into customers (name, email) values ('Bench', 'bench@example.com')",
    "insert into addresses (customer_id, line1, city, country)
       select id, '1 Main St', 'Springfield', 'US' from customers where email = 'bench@example.com'",
    "insert into orders (customer_id, address_id, status, total_cents, placed_at)
       select c.id, a.id, 'new', 1255, '2024-05-01 12:00:00'
       from customers c join addresses a on a.customer_id = c.id where c.email = 'bench@example.com'",
    "insert into order_items (order_id, product_id, quantity, price_cents)
       select o.id, p.id, 1, p.price_cents from orders o, products p where o.status = 'new'",
    "update orders set status = 'paid' where status = 'new'",
];
const CHECK: &str = "select count(*) from order_items";

/// Runs the body on one connection of `pool`'s kind and checks it did its work.
macro_rules! body {
    ($pool:expr) => {{
        for statement in BODY {
            sqlx::raw_sql(statement)
                .execute($pool)
                .await
                .expect(statement);
        }
        let items: i64 = sqlx::query_scalar(CHECK)
            .fetch_one($pool)
            .await
            .expect(CHECK);
        assert_eq!(items, 2, "the test body ran against the seed products");
    }};
}

#[derive(Default)]
struct Timings {
    suite: Duration,
    acquire: Vec<Duration>,
    ready: Vec<Duration>,
}

impl Timings {
    fn percentile(samples: &[Duration], p: f64) -> f64 {
        let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or(f64::NAN)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn tests() -> usize {
    std::env::var("TESTBED_BENCH_TESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// The suite with testbed-db: one scope and runtime per test, as `#[testbed::test]`.
fn testbed_suite(backend: Backend, database: &'static Database) -> Result<Timings, String> {
    let warm = Instant::now();
    runtime().block_on(async {
        let scope = Scope::new("warm-up");
        let acquired = database.acquire(&scope, backend).await;
        scope
            .finish_async(Outcome::Passed)
            .await
            .map_err(|e| e.to_string())?;
        acquired.map(drop).map_err(|e| e.to_string())
    })?;
    eprintln!(
        "  ({backend}: template ready in {:.0} ms)",
        warm.elapsed().as_secs_f64() * 1e3
    );
    let mut timings = Timings::default();
    let start = Instant::now();
    for n in 0..tests() {
        runtime().block_on(async {
            let scope = Scope::new(format!("test {n}"));
            let asked = Instant::now();
            let db = database
                .acquire(&scope, backend)
                .await
                .map_err(|e| e.to_string())?;
            timings.acquire.push(asked.elapsed());
            match &db {
                testbed_db::AnyTestDb::Sqlite(db) => {
                    sqlx::query("select 1")
                        .execute(db.pool())
                        .await
                        .map_err(|e| e.to_string())?;
                    timings.ready.push(asked.elapsed());
                    body!(db.pool());
                }
                testbed_db::AnyTestDb::Postgres(db) => {
                    sqlx::query("select 1")
                        .execute(db.pool())
                        .await
                        .map_err(|e| e.to_string())?;
                    timings.ready.push(asked.elapsed());
                    body!(db.pool());
                }
                testbed_db::AnyTestDb::MySql(db) => {
                    sqlx::query("select 1")
                        .execute(db.pool())
                        .await
                        .map_err(|e| e.to_string())?;
                    timings.ready.push(asked.elapsed());
                    body!(db.pool());
                }
                _ => unreachable!("three backends"),
            }
            scope
                .finish_async(Outcome::Passed)
                .await
                .map_err(|e| e.to_string())
        })?;
    }
    timings.suite = start.elapsed();
    Ok(timings)
}

fn admin_url(backend: Backend) -> String {
    match backend {
        Backend::Postgres => std::env::var("TESTBED_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        Backend::MySql => std::env::var("TESTBED_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
        Backend::Sqlite => String::new(),
    }
}

fn url_of(admin: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin).expect("an admin URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

async fn seed_sql() -> String {
    std::fs::read_to_string(manifest(SEEDS)).expect("the seed file")
}

fn manifest(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The suite as `#[sqlx::test]` runs it: create, migrate, seed, test, drop, per test.
fn sqlx_test_suite(backend: Backend) -> Result<Timings, String> {
    let mut timings = Timings::default();
    let migrations = manifest(SCHEMA).join(backend.name());
    let admin = admin_url(backend);
    let start = Instant::now();
    for n in 0..tests() {
        runtime().block_on(async {
            let migrator = Migrator::new(migrations.as_path())
                .await
                .map_err(|e| e.to_string())?;
            let seeds = seed_sql().await;
            let name = format!("_sqlx_test_bench_{n}");
            let asked = Instant::now();
            match backend {
                Backend::Postgres => {
                    let mut conn = sqlx::PgConnection::connect(&admin)
                        .await
                        .map_err(|e| e.to_string())?;
                    conn.execute(AssertSqlSafe(format!("drop database if exists {name}")))
                        .await
                        .map_err(|e| e.to_string())?;
                    conn.execute(AssertSqlSafe(format!("create database {name}")))
                        .await
                        .map_err(|e| e.to_string())?;
                    let pool = sqlx::PgPool::connect(&url_of(&admin, &name))
                        .await
                        .map_err(|e| e.to_string())?;
                    migrator.run(&pool).await.map_err(|e| e.to_string())?;
                    sqlx::raw_sql(AssertSqlSafe(seeds))
                        .execute(&pool)
                        .await
                        .map_err(|e| e.to_string())?;
                    timings.acquire.push(asked.elapsed());
                    timings.ready.push(asked.elapsed());
                    body!(&pool);
                    pool.close().await;
                    conn.execute(AssertSqlSafe(format!("drop database {name} with (force)")))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Backend::MySql => {
                    let mut conn = sqlx::MySqlConnection::connect(&admin)
                        .await
                        .map_err(|e| e.to_string())?;
                    conn.execute(AssertSqlSafe(format!("drop database if exists {name}")))
                        .await
                        .map_err(|e| e.to_string())?;
                    conn.execute(AssertSqlSafe(format!("create database {name}")))
                        .await
                        .map_err(|e| e.to_string())?;
                    let pool = sqlx::MySqlPool::connect(&url_of(&admin, &name))
                        .await
                        .map_err(|e| e.to_string())?;
                    migrator.run(&pool).await.map_err(|e| e.to_string())?;
                    sqlx::raw_sql(AssertSqlSafe(seeds))
                        .execute(&pool)
                        .await
                        .map_err(|e| e.to_string())?;
                    timings.acquire.push(asked.elapsed());
                    timings.ready.push(asked.elapsed());
                    body!(&pool);
                    pool.close().await;
                    conn.execute(AssertSqlSafe(format!("drop database {name}")))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Backend::Sqlite => {
                    let dir = std::env::temp_dir().join("testbed-bench-sqlx-test");
                    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                    let path = dir.join(format!("{name}.sqlite"));
                    let _ = std::fs::remove_file(&path);
                    let options = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(&path)
                        .create_if_missing(true);
                    let pool = sqlx::SqlitePool::connect_with(options)
                        .await
                        .map_err(|e| e.to_string())?;
                    migrator.run(&pool).await.map_err(|e| e.to_string())?;
                    sqlx::raw_sql(AssertSqlSafe(seeds))
                        .execute(&pool)
                        .await
                        .map_err(|e| e.to_string())?;
                    timings.acquire.push(asked.elapsed());
                    timings.ready.push(asked.elapsed());
                    body!(&pool);
                    pool.close().await;
                    for suffix in ["", "-wal", "-shm", "-journal"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                }
            }
            Ok::<(), String>(())
        })?;
    }
    timings.suite = start.elapsed();
    Ok(timings)
}

fn report(backend: Backend, strategy: &str, timings: &Timings, baseline: Option<&Timings>) {
    let ratio = baseline
        .map(|b| {
            format!(
                "{:.1}x",
                b.suite.as_secs_f64() / timings.suite.as_secs_f64()
            )
        })
        .unwrap_or_else(|| "n/a".into());
    println!(
        "{backend} {strategy}: suite {:.2} s, acquire p50 {:.2} ms p90 {:.2} ms, vs sqlx::test {ratio} (ready p50 {:.2} ms)",
        timings.suite.as_secs_f64(),
        Timings::percentile(&timings.acquire, 0.5),
        Timings::percentile(&timings.acquire, 0.9),
        Timings::percentile(&timings.ready, 0.5),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, as a smoke run.
    if std::env::args().any(|arg| arg == "--test" || arg == "--list") {
        return;
    }
    if std::env::args().any(|arg| arg == "--nextest") {
        nextest::main();
        return;
    }
    println!("{} tests per suite, one at a time", tests());
    let strategies: [(Backend, &[(&str, &'static Database)]); 3] = [
        (
            Backend::Sqlite,
            &[("default (image)", &RECYCLED), ("file", &FILE_COPY)],
        ),
        (
            Backend::Postgres,
            &[
                ("default (recycle)", &RECYCLED),
                ("rollback", &ROLLBACK),
                ("clone", &CLONED),
            ],
        ),
        (Backend::MySql, &[("default (recycle)", &RECYCLED)]),
    ];
    // `TESTBED_BENCH_BACKENDS=postgres,mysql` runs only those.
    let only = std::env::var("TESTBED_BENCH_BACKENDS").ok();
    for (backend, runs) in strategies {
        if only
            .as_deref()
            .is_some_and(|only| !only.split(',').any(|name| name.trim() == backend.name()))
        {
            continue;
        }
        let baseline = match sqlx_test_suite(backend) {
            Ok(timings) => timings,
            Err(error) => {
                println!("{backend}: skipped: {error}");
                continue;
            }
        };
        report(backend, "sqlx::test", &baseline, None);
        for (strategy, database) in runs {
            match testbed_suite(backend, database) {
                Ok(timings) => report(backend, strategy, &timings, Some(&baseline)),
                Err(error) => println!("{backend} {strategy}: failed: {error}"),
            }
        }
    }
}
