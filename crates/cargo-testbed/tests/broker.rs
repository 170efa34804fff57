//! The PostgreSQL broker (`cargo testbed db broker`, `TESTBED_PG_BROKER=1`) as test
//! processes meet it: each test of the child below is its own process, as under nextest.
//! The first finds no broker, starts one and goes the direct way; the next get their
//! databases from it, reset between them; a test process killed while it holds one
//! leaves nothing for the next; a broker killed mid-run costs nothing but a new start.
//! The same for `Isolation::Rollback`, whose rolled-back databases the broker takes back
//! with only their sequences rewound.
//!
//! A database came from the broker when its test's session is named `testbed-client`
//! (the direct way names it `testbed-pool-<token>`); the session is warm, kept by the
//! broker's session pool from an earlier test process, when it started before the test
//! process did.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use testbed::Scope;
use testbed_db::Database;

/// The notes table: a test's row must never reach the next test, nor its id's advance.
async fn notes_schema(
    target: testbed_db::Target<'_>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if let testbed_db::Target::Postgres(conn) = target {
        sqlx::raw_sql("create table notes (id serial primary key, body text)")
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A schema of this test only, so its pool is its own.
static NOTES: Database =
    Database::function("broker notes v2", |target| Box::pin(notes_schema(target)));

/// The same for `Isolation::Rollback`: pools of its own.
static NOTES_ROLLBACK: Database = Database::function("broker notes rollback v1", |target| {
    Box::pin(notes_schema(target))
})
.isolation_on(
    testbed_db::Backend::Postgres,
    testbed_db::Isolation::Rollback,
);

const ROLE_ENV: &str = "TESTBED_BROKER_TEST_CHILD";
/// `rollback` when the child uses [`NOTES_ROLLBACK`].
const STRATEGY_ENV: &str = "TESTBED_BROKER_TEST_STRATEGY";
/// When the parent started the child (seconds since the epoch).
const SPAWNED_ENV: &str = "TESTBED_BROKER_TEST_SPAWNED";

/// Which schema, and so which isolation, a parent test and its children use.
#[derive(Clone, Copy)]
enum Strategy {
    Default,
    Rollback,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Default => "default",
            Strategy::Rollback => "rollback",
        }
    }
}

/// Runs the child helper once, as one test process, with the broker on.
fn child(strategy: Strategy, kill_itself: bool) -> Output {
    child_command("child_uses_a_database", &broker_socket(strategy))
        .env(ROLE_ENV, if kill_itself { "kill" } else { "run" })
        .env(STRATEGY_ENV, strategy.name())
        .env("TESTBED_BROKER_BIN", env!("CARGO_BIN_EXE_cargo-testbed"))
        .output()
        .expect("the child runs")
}

/// The command that runs child helper `test` as one test process of a nextest run, with
/// the broker on and on `socket`; the caller names the broker's program, or not.
fn child_command(test: &str, socket: &std::path::Path) -> Command {
    let spawned = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--ignored", "--nocapture"])
        .env(ROLE_ENV, "run")
        .env(SPAWNED_ENV, spawned.to_string())
        .env("TESTBED_PG_BROKER", "1")
        // A process of a nextest run: only there is the broker used.
        .env("NEXTEST_RUN_ID", "broker-test")
        // A broker of this test's own: the run's other test processes must not find it.
        .env("TESTBED_BROKER_SOCKET", socket)
        .env_remove(testbed::REQUIRE_ENV);
    command
}

/// What the child printed: `<how it got the database> <rows it found>`.
fn said(output: &Output) -> (String, i64) {
    let (how, rows, _, _) = said_all(output);
    (how, rows)
}

/// What the child printed, with whether its session was older than the child and the
/// id its row was given.
fn said_all(output: &Output) -> (String, i64, bool, i32) {
    let (how, rows, warm, id, _) = said_with_database(output);
    (how, rows, warm, id)
}

/// Everything the child printed, with the name of its database last.
fn said_with_database(output: &Output) -> (String, i64, bool, i32, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.split_once("GOT ").map(|(_, rest)| rest.to_owned()))
        .unwrap_or_else(|| {
            panic!(
                "the child said nothing:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let words: Vec<&str> = line.split_whitespace().collect();
    (
        words[0].to_owned(),
        words[1].parse().unwrap(),
        words[2] == "warm",
        words[3].parse().unwrap(),
        words[4].to_owned(),
    )
}

/// A parent test's broker socket: under the temporary directory's `testbed-db` (which
/// the leak checks leave alone), named after this test process and `what`.
fn socket_named(what: &str) -> std::path::PathBuf {
    std::env::temp_dir()
        .join("testbed-db")
        .join("brokers")
        .join(format!("broker-test-{}-{what}.sock", std::process::id()))
}

fn broker_socket(strategy: Strategy) -> std::path::PathBuf {
    socket_named(strategy.name())
}

fn broker_pids(strategy: Strategy) -> Vec<String> {
    pids_running(&format!(
        "testbed db broker --socket {}",
        broker_socket(strategy).display()
    ))
}

/// The ids of the processes whose command line contains `pattern`.
fn pids_running(pattern: &str) -> Vec<String> {
    let output = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .expect("pgrep runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs children until one gets its database from the broker (the first starts it).
fn until_brokered(strategy: Strategy) -> (String, i64) {
    until_brokered_by(|| child(strategy, false))
}

/// Runs `child` until it says it got its database from the broker, for at most 20 s.
fn until_brokered_by(child: impl Fn() -> Output) -> (String, i64) {
    let started = Instant::now();
    loop {
        let got = said(&child());
        if got.0 == "broker" || started.elapsed() > Duration::from_secs(20) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Skips the calling test when no PostgreSQL server answers (a failure under
/// `TESTBED_REQUIRE`).
async fn skip_without_postgres() {
    if let Err(testbed_db::ServerCallError::Unavailable(unavailable)) =
        testbed_db::admin::status(testbed_db::Backend::Postgres, None).await
    {
        testbed::skip(unavailable.requirement(), unavailable.reason());
    }
}

#[testbed::test]
async fn test_processes_get_their_databases_from_the_broker() {
    skip_without_postgres().await;
    brokered_test_processes(Strategy::Default).await;
}

#[testbed::test]
async fn rollback_test_processes_get_their_databases_from_the_broker() {
    skip_without_postgres().await;
    brokered_test_processes(Strategy::Rollback).await;
}

/// The broker's promises to test processes of `strategy`, one after another.
async fn brokered_test_processes(strategy: Strategy) {
    let child = |kill_itself| child(strategy, kill_itself);
    // Served, and each finds the database as the template left it.
    assert_eq!(until_brokered(strategy), ("broker".to_owned(), 0));
    assert_eq!(said(&child(false)), ("broker".to_owned(), 0));
    // On a session an earlier test process left: one at a time, each gets the database
    // and the session the last one gave back, its sequence rewound. The broker resets
    // a database after its process ended, so a process that comes sooner, under load,
    // can be given another database and a new session: a few tries, each of which
    // must still find a fresh sequence.
    let mut warm_after = Vec::new();
    for _ in 0..5 {
        let got = said_all(&child(false));
        assert_eq!((got.0.as_str(), got.1, got.3), ("broker", 0, 1), "{got:?}");
        warm_after.push(got.2);
        if got.2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        warm_after.last() == Some(&true),
        "a test process after another is given its warm session: {warm_after:?}"
    );

    // Killed holding its database (a row written): the next finds it reset.
    let killed = child(true);
    assert_eq!(said(&killed).0, "broker");
    let after_kill = said_all(&child(false));
    assert_eq!(
        (after_kill.0.as_str(), after_kill.1, after_kill.3),
        ("broker", 0, 1)
    );

    // The broker killed: the next goes the direct way and starts a new one.
    for pid in broker_pids(strategy) {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    let after = said(&child(false));
    assert_eq!(after.1, 0, "{after:?}");
    assert_eq!(until_brokered(strategy), ("broker".to_owned(), 0));

    // The broker keeps its databases recorded in use while it holds them; when it
    // exits, 10 s after its last client, it lets them go recorded clean, and removes its
    // socket and its session pool's directory.
    let last = said_with_database(&child(false));
    assert_eq!(last.0, "broker");
    let socket = broker_socket(strategy);
    let waited = Instant::now();
    while !broker_pids(strategy).is_empty() && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let exited = broker_pids(strategy).is_empty();
    // Stopped in any case, with its lock file, so nothing is left behind.
    for pid in broker_pids(strategy) {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    let _ = std::fs::remove_file(socket.with_extension("lock"));
    assert!(
        exited,
        "the broker did not exit within 30 s of its last client"
    );
    assert!(!socket.exists() && !socket.with_extension("d").exists());
    assert_eq!(
        ledger_clean(&last.4).await,
        Some(true),
        "`{}` recorded clean once the broker let it go",
        last.4
    );
}

/// What the registry's ledger records of pooled database `name`: clean or not.
async fn ledger_clean(name: &str) -> Option<bool> {
    {
        use sqlx::Connection;
        let url = std::env::var("TESTBED_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let options = options.database("testbed_registry");
        let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
        let clean: Option<bool> = sqlx::query_scalar("select clean from pooled where datname = $1")
            .bind(name)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        clean
    }
}

/// With no `cargo-testbed` to be found, a test process starts its own test binary
/// again as the broker (a `testbed::helper` process), and the next test processes get
/// their databases from it.
#[testbed::test]
async fn without_cargo_testbed_the_test_binary_serves_as_broker(no_programs: testbed::TempDir) {
    skip_without_postgres().await;
    let socket = socket_named("helper");
    let got = until_brokered_by(|| {
        child_command("runner_child_uses_a_database", &socket)
            // Neither named nor on the `PATH`.
            .env_remove("TESTBED_BROKER_BIN")
            .env("PATH", no_programs.path())
            .output()
            .expect("the child runs")
    });
    let serving = pids_running(&format!(
        "{} --exact runner_child_uses_a_database --include-ignored --nocapture",
        std::env::current_exe().unwrap().display()
    ));
    for pid in &serving {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
    let _ = std::fs::remove_file(socket.with_extension("lock"));
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_dir_all(socket.with_extension("d"));
    assert_eq!(
        got,
        ("broker".to_owned(), 0),
        "a later test process is brokered"
    );
    assert_eq!(
        serving.len(),
        1,
        "one helper process of this test binary serves: {serving:?}"
    );
}

#[tokio::test]
#[ignore = "helper: run as a test process of its own by `test_processes_get_their_databases_from_the_broker`"]
async fn child_uses_a_database() {
    let scope = Scope::new("child");
    use_a_database(&scope).await;
    scope.finish_async(testbed::Outcome::Passed).await.unwrap();
}

/// The same as a test the runner runs: only such a test can start the test binary
/// again as a helper process.
#[testbed::test]
#[ignore = "helper: run as a test process of its own by `without_cargo_testbed_the_test_binary_serves_as_broker`"]
async fn runner_child_uses_a_database(scope: &Scope) {
    use_a_database(scope).await;
}

/// The child's test: gets a database of the schema its parent asked for, says how and
/// what it found, adds a row, and kills itself if asked to.
async fn use_a_database(scope: &Scope) {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let schema = match std::env::var(STRATEGY_ENV).as_deref() {
        Ok("rollback") => &NOTES_ROLLBACK,
        _ => &NOTES,
    };
    let db = schema.try_postgres(scope).await.expect("postgres is up");
    let name: String = sqlx::query_scalar(
        "select application_name::text from pg_stat_activity where pid = pg_backend_pid()",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    let how = if name.starts_with("testbed-client") {
        "broker"
    } else {
        "direct"
    };
    let spawned: f64 = std::env::var(SPAWNED_ENV).unwrap().parse().unwrap();
    let session_started: f64 = sqlx::query_scalar(
        "select extract(epoch from backend_start)::float8 from pg_stat_activity \
         where pid = pg_backend_pid()",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    let age = if session_started < spawned {
        "warm"
    } else {
        "new"
    };
    let rows: i64 = sqlx::query_scalar("select count(*) from notes")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let id: i32 =
        sqlx::query_scalar("insert into notes (body) values ('left by a test') returning id")
            .fetch_one(db.pool())
            .await
            .unwrap();
    println!("GOT {how} {rows} {age} {id} {}", db.name());
    if role == "kill" {
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        let _ = Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::thread::sleep(Duration::from_secs(10));
    }
}
