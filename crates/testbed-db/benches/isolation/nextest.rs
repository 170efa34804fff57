//! The bench's nextest mode (`cargo bench -p testbed-db --bench isolation -- --nextest`):
//! the generated suite (`tests/nextest-suite`: 200 tests per backend and strategy, the
//! same bodies as `#[testbed::test]` and as the real `#[sqlx::test]`) under the real
//! `cargo nextest run`, one process per test, and as one `cargo test` process, side by
//! side: every repetition runs `#[sqlx::test]` and then each strategy, alternating, and
//! the lines give medians over the repetitions.
//!
//! ```text
//! <backend> <strategy> nextest: suite <S> s, per test p50 <P> ms, vs sqlx::test <R>x
//! <backend> <strategy> cargo test: suite <S> s, per test p50 <P> ms, vs sqlx::test <R>x
//! <backend> first run nextest: ...   (the template built in the run, from a new schema)
//! floor (no database) nextest: suite <S> s, per test p50 <P> ms   (the same 200 names,
//!                                     no database: what a test process costs alone)
//! ```
//!
//! `TESTBED_BENCH_REPS` (default 3) repetitions at `TESTBED_BENCH_THREADS` (default 4)
//! test threads; `TESTBED_BENCH_BACKENDS=postgres,mysql` runs only those. A run with
//! failing tests says how many failed and the first error. The `#[sqlx::test]`
//! databases the runs leave (failing tests keep theirs) are dropped at the end.

use std::path::Path;
use std::time::Duration;

use testbed_db::Backend;

#[path = "suite.rs"]
mod suite;

use suite::{Broker, Part, Run};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn p50_ms(samples: &[Duration]) -> f64 {
    median(samples.iter().map(|d| d.as_secs_f64() * 1e3).collect())
}

/// The runs of one part under one runner, over the repetitions.
#[derive(Default)]
struct Series {
    suites: Vec<f64>,
    per_test: Vec<Duration>,
    executions: usize,
    failed: usize,
    first_error: Option<String>,
    errors: Vec<String>,
}

impl Series {
    fn add(&mut self, run: Result<Run, String>) {
        match run {
            Ok(run) => {
                self.suites.push(run.suite.as_secs_f64());
                self.per_test.extend(run.per_test);
                self.executions += run.tests;
                self.failed += run.failed;
                if self.first_error.is_none() {
                    self.first_error = run.first_error;
                }
            }
            Err(error) => self.errors.push(error),
        }
    }

    fn suite(&self) -> f64 {
        median(self.suites.clone())
    }

    /// Why no run counted, for a series without one.
    fn error(&self) -> &str {
        self.errors.first().map(String::as_str).unwrap_or("no run")
    }
}

fn line(
    backend: Backend,
    strategy: &str,
    runner: &str,
    series: &Series,
    baseline: Option<&Series>,
) {
    if series.suites.is_empty() {
        println!("{backend} {strategy} {runner}: failed: {}", series.error());
        return;
    }
    let ratio = baseline
        .map(|b| format!("{:.1}x", b.suite() / series.suite()))
        .unwrap_or_else(|| "n/a".into());
    let failures = if series.failed > 0 {
        format!(
            " ({} of {} test executions failed; first: {})",
            series.failed,
            series.executions,
            series.first_error.as_deref().unwrap_or("?")
        )
    } else {
        String::new()
    };
    println!(
        "{backend} {strategy} {runner}: suite {:.2} s, per test p50 {:.1} ms, vs sqlx::test {ratio}{failures}",
        series.suite(),
        p50_ms(&series.per_test),
    );
}

/// Each strategy of `backend`: its name in the lines, its module, and which PostgreSQL
/// broker serves it (under nextest the default is `cargo-testbed` when it is found, else
/// the test binary itself; the `without broker` lines set `TESTBED_PG_BROKER=0`).
fn strategies(backend: Backend) -> &'static [(&'static str, &'static str, Broker)] {
    match backend {
        Backend::Sqlite => &[("default (image)", "sqlite", Broker::Off)],
        Backend::Postgres => &[
            ("default (recycle, broker)", "postgres", Broker::Release),
            (
                "default (recycle, test binary as broker)",
                "postgres",
                Broker::TestBinary,
            ),
            ("default without broker", "postgres", Broker::Off),
            ("rollback (broker)", "postgres_rollback", Broker::Release),
            ("rollback without broker", "postgres_rollback", Broker::Off),
        ],
        Backend::MySql => &[("default (recycle)", "mysql", Broker::Off)],
    }
}

/// Runs the nextest mode and prints its lines.
pub fn main() {
    let reps = env_number("TESTBED_BENCH_REPS", 3);
    let threads = env_number("TESTBED_BENCH_THREADS", 4);
    let scratch =
        std::env::temp_dir().join(format!("testbed-bench-nextest-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&scratch) {
        println!(
            "nextest mode: cannot create `{}`: {error}",
            scratch.display()
        );
        return;
    }
    eprintln!("  (building the suite in tests/nextest-suite)");
    let bins = match suite::build(&scratch) {
        Ok(bins) => bins,
        Err(error) => {
            println!("nextest mode: {error}");
            let _ = std::fs::remove_dir_all(&scratch);
            return;
        }
    };
    println!(
        "the generated suite (200 tests per backend and strategy), {threads} test threads, \
         {reps} repetitions (medians); nextest runs one process per test"
    );
    bench_floor(&bins, reps, threads);
    let only = std::env::var("TESTBED_BENCH_BACKENDS").ok();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        if only
            .as_deref()
            .is_some_and(|only| !only.split(',').any(|name| name.trim() == backend.name()))
        {
            continue;
        }
        bench_backend(&bins, &scratch, backend, reps, threads, stamp);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        match runtime.block_on(suite::remove_sqlx_leftovers(backend)) {
            Ok(0) => {}
            Ok(n) => {
                eprintln!("  ({backend}: dropped {n} database(s) failing #[sqlx::test]s left)")
            }
            Err(error) => println!("{backend}: cannot drop #[sqlx::test]'s leftovers: {error}"),
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The floor: the suite's 200 test names with no database (`floor` in `testbed_suite`),
/// under both runners, so each line below can be read against what a test process
/// costs by itself.
fn bench_floor(bins: &suite::Binaries, reps: usize, threads: usize) {
    let floor = Part {
        sqlx: false,
        module: "floor",
        backend: Backend::Sqlite,
        broker: Broker::Off,
    };
    let (mut nextest, mut cargo) = (Series::default(), Series::default());
    for _ in 0..reps {
        nextest.add(suite::nextest(floor, threads, None));
        cargo.add(suite::cargo_test(bins, floor, threads, &suite::dir()));
    }
    for (runner, series) in [("nextest", &nextest), ("cargo test", &cargo)] {
        if series.suites.is_empty() {
            println!("floor (no database) {runner}: failed: {}", series.error());
        } else {
            println!(
                "floor (no database) {runner}: suite {:.2} s, per test p50 {:.1} ms",
                series.suite(),
                p50_ms(&series.per_test)
            );
        }
    }
}

fn bench_backend(
    bins: &suite::Binaries,
    scratch: &Path,
    backend: Backend,
    reps: usize,
    threads: usize,
    stamp: u128,
) {
    let sqlx = Part {
        sqlx: true,
        module: backend.name(),
        backend,
        broker: Broker::Off,
    };
    let parts: Vec<(&str, Part)> = strategies(backend)
        .iter()
        .map(|&(name, module, broker)| {
            (
                name,
                Part {
                    sqlx: false,
                    module,
                    backend,
                    broker,
                },
            )
        })
        .collect();
    // First runs: a schema no server has seen, so the run builds the template.
    let first = |token: String, nextest: bool| -> Series {
        let mut series = Series::default();
        match suite::fresh_copy(scratch, &token) {
            Ok(copy) if nextest => series.add(suite::nextest(
                parts[0].1,
                threads,
                Some((&bins.archive, &copy)),
            )),
            Ok(copy) => series.add(suite::cargo_test(bins, parts[0].1, threads, &copy)),
            Err(error) => series.errors.push(error),
        }
        series
    };
    let first_nextest = first(format!("{stamp}-{}-nextest", backend.name()), true);
    let first_cargo = first(format!("{stamp}-{}-cargo", backend.name()), false);
    let mut baseline = (Series::default(), Series::default());
    let mut strategies: Vec<(Series, Series)> = parts.iter().map(|_| Default::default()).collect();
    for rep in 0..reps {
        eprintln!("  ({backend}: repetition {} of {reps})", rep + 1);
        baseline.0.add(suite::nextest(sqlx, threads, None));
        for ((_, part), series) in parts.iter().zip(&mut strategies) {
            series.0.add(suite::nextest(*part, threads, None));
        }
        baseline
            .1
            .add(suite::cargo_test(bins, sqlx, threads, &suite::dir()));
        for ((_, part), series) in parts.iter().zip(&mut strategies) {
            series
                .1
                .add(suite::cargo_test(bins, *part, threads, &suite::dir()));
        }
    }
    line(backend, "sqlx::test", "nextest", &baseline.0, None);
    for ((name, _), series) in parts.iter().zip(&strategies) {
        line(backend, name, "nextest", &series.0, Some(&baseline.0));
    }
    line(
        backend,
        "first run",
        "nextest",
        &first_nextest,
        Some(&baseline.0),
    );
    line(backend, "sqlx::test", "cargo test", &baseline.1, None);
    for ((name, _), series) in parts.iter().zip(&strategies) {
        line(backend, name, "cargo test", &series.1, Some(&baseline.1));
    }
    line(
        backend,
        "first run",
        "cargo test",
        &first_cargo,
        Some(&baseline.1),
    );
}
