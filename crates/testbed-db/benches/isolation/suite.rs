//! The generated suite (`tests/nextest-suite`, its own cargo project) as the nextest mode
//! drives it: building it, running one backend and strategy of it under the real
//! `cargo nextest run` or as one `cargo test` process, reading the per-test times back,
//! making a copy with a schema no server has seen (for first runs), and removing the
//! `#[sqlx::test]` databases its runs leave.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use testbed_db::Backend;

/// The fixture project.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nextest-suite")
}

/// Where the fixture builds: `CARGO_TARGET_DIR` if the caller set one for it
/// (`TESTBED_SUITE_TARGET_DIR`), else `target/nextest-suite` under the workspace root.
fn target_dir() -> PathBuf {
    std::env::var_os("TESTBED_SUITE_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/nextest-suite"))
}

/// A command for the fixture, without what `cargo bench` set for this bench.
pub fn command(program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(cwd);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME"
            || name.starts_with("NEXTEST")
            || name.starts_with("RUST_TEST")
        {
            command.env_remove(&*name);
        }
    }
    command
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_TERM_COLOR", "never")
        .env("TESTBED_REQUIRE", "all");
    command
}

fn cargo(cwd: &Path) -> Command {
    command(
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        cwd,
    )
}

/// The two test binaries, built.
pub struct Binaries {
    pub testbed: PathBuf,
    pub sqlx: PathBuf,
    /// A `cargo nextest archive` of both, for runs from a copy of the sources.
    pub archive: PathBuf,
}

/// Builds the suite and archives it.
pub fn build(scratch: &Path) -> Result<Binaries, String> {
    let output = cargo(&dir())
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the suite failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let executable = |target: &str| {
        stdout
            .lines()
            .filter(|line| line.contains(&format!("\"name\":\"{target}\"")))
            .find_map(|line| json_string(line, "executable"))
            .map(PathBuf::from)
            .ok_or_else(|| format!("no `{target}` executable in cargo's output"))
    };
    let archive = scratch.join("suite.tar.zst");
    let status = cargo(&dir())
        .args(["nextest", "archive", "--archive-file"])
        .arg(&archive)
        .output()
        .map_err(|e| format!("cannot run cargo nextest: {e}"))?;
    if !status.status.success() {
        return Err(format!(
            "cargo nextest archive failed:\n{}",
            String::from_utf8_lossy(&status.stderr)
        ));
    }
    Ok(Binaries {
        testbed: executable("testbed_suite")?,
        sqlx: executable("sqlx_suite")?,
        archive,
    })
}

/// The string value of `"key":"..."` in one line of JSON, its escapes undone.
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// One part of the suite: a binary and the module of one backend and strategy.
#[derive(Clone, Copy)]
pub struct Part {
    pub sqlx: bool,
    pub module: &'static str,
    pub backend: Backend,
    /// Which PostgreSQL broker serves, if any.
    pub broker: Broker,
}

/// Which PostgreSQL broker serves a part's test processes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    /// None: `TESTBED_PG_BROKER=0`.
    Off,
    /// `cargo-testbed` built for release ([`broker_bin`]), on the default socket.
    Release,
    /// The test binary itself (no `cargo-testbed` to be found), on a socket of its own
    /// so that a release broker still serving from another line is not used.
    TestBinary,
}

/// The `cargo-testbed` binary that serves as broker, built for the bench once.
pub fn broker_bin() -> Result<PathBuf, String> {
    static BIN: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BIN.get_or_init(build_broker_bin).clone()
}

fn build_broker_bin() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = cargo(&root)
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "build",
            "--release",
            "-p",
            "cargo-testbed",
            "--message-format=json",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let marker = "\"executable\":\"";
    stdout
        .lines()
        .filter(|line| line.contains("cargo-testbed"))
        .filter_map(|line| Some(&line[line.find(marker)? + marker.len()..]))
        .find_map(|rest| rest.split('"').next())
        .map(PathBuf::from)
        .ok_or_else(|| {
            format!(
                "building cargo-testbed failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// Sets the broker's variables on `command` for `part`: on, served by [`broker_bin`] or
/// by the test binary, or off (whatever `cargo-testbed` the `PATH` holds).
fn broker_env(command: &mut Command, part: Part) {
    match part.broker {
        Broker::Off => {
            command.env("TESTBED_PG_BROKER", "0");
        }
        Broker::Release => {
            command.env("TESTBED_PG_BROKER", "1");
            if let Ok(bin) = broker_bin() {
                command.env("TESTBED_BROKER_BIN", bin);
            }
        }
        Broker::TestBinary => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let without: Vec<PathBuf> = std::env::split_paths(&path)
                .filter(|dir| !dir.join("cargo-testbed").is_file())
                .collect();
            let socket = std::env::temp_dir()
                .join("testbed-db")
                .join("brokers")
                .join(format!(
                    "broker-bench-{}-test-binary.sock",
                    std::process::id()
                ));
            command
                .env("TESTBED_PG_BROKER", "1")
                .env_remove("TESTBED_BROKER_BIN")
                .env("PATH", std::env::join_paths(without).unwrap_or_default())
                .env("TESTBED_BROKER_SOCKET", socket);
        }
    }
}

/// What one run of a part measured.
pub struct Run {
    pub suite: Duration,
    pub per_test: Vec<Duration>,
    pub tests: usize,
    pub failed: usize,
    /// The first error line of the first failure, if any.
    pub first_error: Option<String>,
}

/// `DATABASE_URL` for `#[sqlx::test]` on `backend`: the admin URL testbed-db uses (MySQL
/// needs a database for sqlx's bookkeeping table: the server's `test`).
pub fn database_url(backend: Backend) -> Option<String> {
    match backend {
        Backend::Postgres => Some(
            std::env::var("TESTBED_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        ),
        Backend::MySql => Some(
            std::env::var("TESTBED_BENCH_SQLX_MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
        ),
        Backend::Sqlite => None,
    }
}

/// Runs `part` under `cargo nextest run` at `threads`; from the archive with the
/// sources at `remap` when given (a copy), else from the project itself.
pub fn nextest(part: Part, threads: usize, remap: Option<(&Path, &Path)>) -> Result<Run, String> {
    let binary = if part.sqlx {
        "sqlx_suite"
    } else {
        "testbed_suite"
    };
    let filter = format!("binary({binary}) & test(/^{}::/)", part.module);
    let (cwd, junit) = match remap {
        Some((_, sources)) => (
            sources.to_owned(),
            sources.join("target/nextest/junit/junit.xml"),
        ),
        None => (dir(), dir().join("target/nextest/junit/junit.xml")),
    };
    let _ = std::fs::remove_file(&junit);
    let mut command = cargo(&cwd);
    command.args(["nextest", "run", "--profile", "junit", "--no-fail-fast"]);
    if let Some((archive, sources)) = remap {
        let extracted = sources.join("target/extracted");
        std::fs::create_dir_all(&extracted)
            .map_err(|e| format!("cannot create `{}`: {e}", extracted.display()))?;
        command
            .arg("--archive-file")
            .arg(archive)
            .arg("--workspace-remap")
            .arg(sources)
            .arg("--extract-to")
            .arg(extracted)
            .arg("--extract-overwrite");
    }
    command.args(["-j", &threads.to_string(), "-E", &filter]);
    broker_env(&mut command, part);
    if let Some(url) = database_url(part.backend).filter(|_| part.sqlx) {
        command.env("DATABASE_URL", url);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run cargo nextest: {e}"))?;
    let report = std::fs::read_to_string(&junit).map_err(|e| {
        format!(
            "no JUnit report at `{}` ({e}):\n{}",
            junit.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    Ok(junit_run(&report))
}

/// Runs `part` as `cargo test` does (its test binary, once, all tests in one process)
/// at `threads`, the sources at `sources`; per-test times from libtest's JSON report.
pub fn cargo_test(
    bins: &Binaries,
    part: Part,
    threads: usize,
    sources: &Path,
) -> Result<Run, String> {
    let binary = if part.sqlx { &bins.sqlx } else { &bins.testbed };
    let mut command = command(binary, sources);
    command
        .env("CARGO_MANIFEST_DIR", sources)
        // libtest's JSON output and per-test times are unstable options of stable libtest.
        .env("RUSTC_BOOTSTRAP", "1")
        .arg(format!("{}::", part.module))
        .args(["--test-threads", &threads.to_string()])
        .args([
            "-Z",
            "unstable-options",
            "--format",
            "json",
            "--report-time",
        ]);
    if let Some(url) = database_url(part.backend).filter(|_| part.sqlx) {
        command.env("DATABASE_URL", url);
    }
    broker_env(&mut command, part);
    let start = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", binary.display()))?;
    let suite = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut run = Run {
        suite,
        per_test: Vec::new(),
        tests: 0,
        failed: 0,
        first_error: None,
    };
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("{ \"type\": \"test\""))
    {
        let event = json_string(&line.replace("\": \"", "\":\""), "event");
        let time = line
            .split("\"exec_time\": ")
            .nth(1)
            .and_then(|rest| rest.split([',', ' ', '}']).next())
            .and_then(|s| s.parse::<f64>().ok());
        match event.as_deref() {
            Some("ok") => run.tests += 1,
            Some("failed") => {
                run.tests += 1;
                run.failed += 1;
                if run.first_error.is_none() {
                    run.first_error = json_string(&line.replace("\": \"", "\":\""), "stdout")
                        .map(|out| first_error(&out));
                }
            }
            _ => continue,
        }
        if let Some(seconds) = time {
            run.per_test.push(Duration::from_secs_f64(seconds));
        }
    }
    if run.tests == 0 {
        return Err(format!(
            "`{}` ran no test:\n{}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(run)
}

/// The line of a failure's output that says what went wrong.
fn first_error(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|l| l.contains("returned an error"))
        .or_else(|| {
            lines
                .iter()
                .find(|l| l.contains("panicked") || l.contains("rror"))
        })
        .or(lines.first())
        .copied()
        .unwrap_or("(no output)");
    line.chars().take(300).collect()
}

/// Reads nextest's JUnit report: the run's time, each test's time and failures.
fn junit_run(report: &str) -> Run {
    let attribute = |element: &str, name: &str| -> Option<f64> {
        let start = element.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = element[start..].find('"')? + start;
        element[start..end].parse().ok()
    };
    let suite = report
        .split("<testsuites")
        .nth(1)
        .and_then(|root| attribute(&root[..root.find('>').unwrap_or(root.len())], "time"))
        .unwrap_or(f64::NAN);
    let mut run = Run {
        suite: Duration::from_secs_f64(if suite.is_nan() { 0.0 } else { suite }),
        per_test: Vec::new(),
        tests: 0,
        failed: 0,
        first_error: None,
    };
    for case in report.split("<testcase").skip(1) {
        let head = &case[..case.find('>').unwrap_or(case.len())];
        run.tests += 1;
        if let Some(time) = attribute(head, "time") {
            run.per_test.push(Duration::from_secs_f64(time));
        }
        let body = &case[..case.find("</testcase>").unwrap_or(case.len())];
        if body.contains("<failure") || body.contains("<error") {
            run.failed += 1;
            if run.first_error.is_none() {
                run.first_error = Some(first_error(&unescape(body)));
            }
        }
    }
    run
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A copy of the suite's sources whose seed file carries `token`, so its schema hash
/// (and template) is one no server has seen: a run on it builds its templates.
pub fn fresh_copy(scratch: &Path, token: &str) -> Result<PathBuf, String> {
    let copy = scratch.join(token);
    copy_tree(&dir(), &copy).map_err(|e| format!("cannot copy the suite: {e}"))?;
    let seeds = copy.join("seeds.sql");
    let text = std::fs::read_to_string(&seeds).map_err(|e| e.to_string())?;
    std::fs::write(&seeds, format!("-- bench first run {token}\n{text}"))
        .map_err(|e| e.to_string())?;
    Ok(copy)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&entry.path(), &target)?;
            }
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Drops the databases `#[sqlx::test]` left for this suite's tests (failed ones keep
/// theirs) and their bookkeeping rows; nothing of other suites is touched.
pub async fn remove_sqlx_leftovers(backend: Backend) -> Result<usize, String> {
    use sqlx::{AssertSqlSafe, Connection};
    let pattern = format!("sqlx_suite::{}::%", backend.name());
    let Some(url) = database_url(backend) else {
        let dbs = dir()
            .join("target/sqlx/test-dbs/sqlx_suite")
            .join(backend.name());
        let _ = std::fs::remove_dir_all(dbs);
        return Ok(0);
    };
    let error = |e: sqlx::Error| e.to_string();
    match backend {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&url).await.map_err(error)?;
            let names: Vec<String> = sqlx::query_scalar(
                "select db_name from _sqlx_test.databases where test_path like $1",
            )
            .bind(&pattern)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            for name in &names {
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "drop database if exists \"{name}\" with (force)"
                )))
                .execute(&mut conn)
                .await
                .map_err(error)?;
                sqlx::query("delete from _sqlx_test.databases where db_name = $1")
                    .bind(name)
                    .execute(&mut conn)
                    .await
                    .map_err(error)?;
            }
            Ok(names.len())
        }
        Backend::MySql => {
            let mut conn = sqlx::MySqlConnection::connect(&url).await.map_err(error)?;
            let names: Vec<String> = sqlx::query_scalar(
                "select db_name from _sqlx_test_databases where test_path like ?",
            )
            .bind(&pattern)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            for name in &names {
                sqlx::raw_sql(AssertSqlSafe(format!("drop database if exists `{name}`")))
                    .execute(&mut conn)
                    .await
                    .map_err(error)?;
                sqlx::query("delete from _sqlx_test_databases where db_name = ?")
                    .bind(name)
                    .execute(&mut conn)
                    .await
                    .map_err(error)?;
            }
            Ok(names.len())
        }
        Backend::Sqlite => Ok(0),
    }
}
