//! Runner compatibility: the checked-in project `tests/fixture-project`, whose tests end
//! every way a `#[testbed::test]` can, run under `cargo test` and `cargo nextest run`
//! (and its test binary run directly, with and without `TESTBED_REQUIRE`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// How each test of the fixture project must end when nothing is required.
const EXPECTED: [(&str, bool); 10] = [
    ("passes", true),
    ("passes_returning_ok", true),
    ("fails_with_report", false),
    ("fails_returning_err", false),
    ("skipped_by_call", true),
    ("skipped_by_setup", true),
    ("times_out_sync", false),
    ("times_out_async", false),
    ("slow_without_own_timeout_sync", true),
    ("slow_without_own_timeout_async", true),
];

const REPORT_OF_FAILS_WITH_REPORT: [&str; 8] = [
    "`fails_with_report` failed with 2 errors:",
    "\n  1. test panicked: body assertion broke",
    "\n  2. cleanup registered at src/lib.rs:",
    " failed: cannot remove `/tmp/fixture-project`",
    "\ndetails:",
    "\n---- noisy ----\nattached by Noisy::setup\n",
    "\n---- request ----\nGET /health\n",
    "---- end of details ----",
];

const SKIPPED_LINES: [&str; 2] = [
    "SKIPPED skipped_by_call: fixture-tool unavailable: `fixture-tool` is not installed",
    "SKIPPED skipped_by_setup: fixture-backend unavailable: nothing listens on `127.0.0.1:1`",
];

pub(crate) fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture-project")
}

/// Where the project builds: beside this suite's own build, reused between runs.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixture-project")
}

/// A cargo command for the fixture project, with the environment this suite's runner
/// gave it removed so it cannot leak into the nested run.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(args).current_dir(project_dir());
    scrub(&mut command);
    command
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_TERM_COLOR", "never");
    command
}

pub(crate) fn scrub(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let runner_set = name.starts_with("NEXTEST")
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || name.starts_with("__CARGO")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_TARGET_DIR",
                "CARGO_BUILD_TARGET_DIR",
                "RUST_TEST_THREADS",
                "RUST_TEST_NOCAPTURE",
            ]
            .contains(&&*name);
        if runner_set {
            command.env_remove(&*name);
        }
    }
    // Short panic messages, and no requirement unless a case sets one.
    command
        .env("RUST_BACKTRACE", "0")
        .env_remove(testbed::REQUIRE_ENV);
}

pub(crate) fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The fixture project's test binary, built once per process (nextest runs each test in
/// a process of its own; cargo's lock makes concurrent builds wait for each other).
pub(crate) fn test_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        seed_lock_file();
        let output = run(&mut cargo(&["test", "--no-run", "--message-format=json"]));
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "building the fixture project failed:\n{}",
            text(&output.stderr)
        );
        let marker = "\"executable\":\"";
        let executable = stdout
            .lines()
            .filter_map(|line| Some(&line[line.find(marker)? + marker.len()..]))
            .find_map(|rest| rest.split('"').next())
            .expect("cargo reported no test executable for the fixture project");
        PathBuf::from(executable)
    })
}

/// Starts the fixture project's lock file from the workspace's, so it builds the same
/// dependency versions and needs no registry look-up. The file is not checked in: cargo
/// rewrites it whenever testbed's dependencies change.
fn seed_lock_file() {
    let lock = project_dir().join("Cargo.lock");
    if lock.exists() {
        return;
    }
    let workspace_lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    // Copied then renamed, so a concurrent build never reads half a file.
    let partial = target_dir().join(format!("Cargo.lock.{}", std::process::id()));
    std::fs::create_dir_all(target_dir()).expect("cannot create the fixture project's target dir");
    std::fs::copy(&workspace_lock, &partial).expect("cannot copy the workspace's `Cargo.lock`");
    std::fs::rename(&partial, &lock).expect("cannot place the fixture project's `Cargo.lock`");
}

/// Each test's result from libtest's `test <name> ... ok|FAILED` lines.
pub(crate) fn libtest_results(stdout: &str) -> BTreeMap<String, bool> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test "))
        .filter_map(|rest| {
            let (name, result) = rest.split_once(" ... ")?;
            // `#[ignore]`d tests (the leak cases, run on purpose by `leaks`) are not run.
            (!result.starts_with("ignored")).then(|| (name.to_owned(), result == "ok"))
        })
        .collect()
}

fn expected(overrides: &[(&str, bool)]) -> BTreeMap<String, bool> {
    EXPECTED
        .iter()
        .chain(overrides)
        .map(|(name, passed)| ((*name).to_owned(), *passed))
        .collect()
}

pub(crate) fn assert_contains_all(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in:\n{haystack}"
        );
    }
}

/// Each failing test's report, and proof its cleanup ran, in a runner's output.
fn assert_failure_reports(output: &str) {
    assert_contains_all(output, &REPORT_OF_FAILS_WITH_REPORT);
    assert_contains_all(
        output,
        &[
            "`fails_returning_err` test returned an error: \"body returned this error\"",
            "`times_out_sync` test timed out after 200ms",
            "`times_out_async` test timed out after 200ms",
            "noisy cleanup saw: panicked",
            "noisy cleanup saw: timed out",
        ],
    );
}

#[test]
fn cargo_test_reports_each_outcome() {
    test_binary();
    let output = run(&mut cargo(&["test", "--", "--test-threads=2"]));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(101), "{stdout}\n{stderr}");
    assert_eq!(libtest_results(&stdout), expected(&[]), "{stdout}");
    assert_failure_reports(&stdout);
    // Written past libtest's capture, so a skip shows even though the test "passed".
    assert_contains_all(&stderr, &SKIPPED_LINES);
}

/// Each test's result from nextest's `PASS [..] (n/m) <binary> <name>` status lines.
pub(crate) fn nextest_results(output: &str) -> BTreeMap<String, bool> {
    output
        .lines()
        .map(str::trim_start)
        .filter_map(|line| {
            let passed = if line.starts_with("PASS [") {
                true
            } else if line.starts_with("FAIL [") {
                false
            } else {
                return None;
            };
            let name = line.split_whitespace().last()?;
            Some((name.to_owned(), passed))
        })
        .collect()
}

/// Whether `cargo nextest` works here; CI must have it, elsewhere its test is skipped.
pub(crate) fn require_nextest() {
    let installed = cargo(&["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if installed {
        return;
    }
    let reason = "`cargo nextest` is not installed (hint: `cargo install cargo-nextest --locked`)";
    if std::env::var_os("CI").is_some() {
        panic!("{reason}: CI must check runner compatibility with nextest");
    }
    testbed::skip("cargo-nextest", reason);
}

#[testbed::test]
fn cargo_nextest_reports_each_outcome(dir: testbed::TempDir) {
    require_nextest();
    test_binary();
    let output = run(cargo(&[
        "nextest",
        "run",
        "--no-fail-fast",
        "--color",
        "never",
        // Show passing tests' output too: that is where the SKIPPED lines are.
        "--success-output",
        "final",
        "--failure-output",
        "final",
    ])
    .env("TESTBED_DIR", dir.path()));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(output.status.code(), Some(100), "{all}");
    assert_eq!(nextest_results(&all), expected(&[]), "{all}");
    // nextest indents captured output; compare the report line by line.
    let unindented: String = all
        .lines()
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    assert_failure_reports(&unindented);
    assert_contains_all(&unindented, &SKIPPED_LINES);
    assert_contains_all(
        &unindented,
        &["noisy cleanup saw: skipped", "backend cleanup saw: skipped"],
    );
    // nextest showed the skipped tests as PASS: the run's skip ledger names them.
    let ledger = testbed::skips::latest(dir.path()).expect("the run recorded its skips");
    let mut skipped: Vec<(String, String, String, String)> = ledger
        .skips
        .into_iter()
        .map(|skip| (skip.binary, skip.test, skip.requirement, skip.reason))
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            (
                "testbed_fixture_project".to_owned(),
                "skipped_by_call".to_owned(),
                "fixture-tool".to_owned(),
                "`fixture-tool` is not installed".to_owned()
            ),
            (
                "testbed_fixture_project".to_owned(),
                "skipped_by_setup".to_owned(),
                "fixture-backend".to_owned(),
                "nothing listens on `127.0.0.1:1`".to_owned()
            ),
        ]
    );
}

#[test]
fn cargo_test_writes_no_skip_ledger() {
    let dir = tempfile::tempdir().unwrap();
    test_binary();
    let output = run(cargo(&["test", "--", "--test-threads=2"]).env("TESTBED_DIR", dir.path()));
    assert_eq!(output.status.code(), Some(101));
    assert!(testbed::skips::latest(dir.path()).is_none());
}

/// Runs the fixture project's skipping tests with `TESTBED_REQUIRE` set to `require`.
fn run_skips(require: Option<&str>) -> (BTreeMap<String, bool>, String) {
    let mut command = Command::new(test_binary());
    command
        .args(["skipped_", "--test-threads=1", "--nocapture"])
        .current_dir(project_dir());
    scrub(&mut command);
    if let Some(require) = require {
        command.env(testbed::REQUIRE_ENV, require);
    }
    let output = run(&mut command);
    let stdout = text(&output.stdout);
    let all = format!("{stdout}\n{}", text(&output.stderr));
    let results = libtest_results(&stdout);
    let failed = results.values().any(|passed| !passed);
    assert_eq!(output.status.success(), !failed, "{all}");
    (results, all)
}

/// `TESTBED_TIMEOUT` gives the tests without a `timeout` of their own a limit, sync and
/// async, and the failure names it; the tests with their own keep theirs.
#[test]
fn testbed_timeout_limits_every_test_without_its_own() {
    let mut command = Command::new(test_binary());
    command
        .args(["slow_without_own_timeout", "--test-threads=2"])
        .current_dir(project_dir());
    scrub(&mut command);
    command.env(testbed::DEFAULT_TIMEOUT_ENV, "300ms");
    let output = run(&mut command);
    let stdout = text(&output.stdout);
    assert_eq!(
        libtest_results(&stdout),
        BTreeMap::from([
            ("slow_without_own_timeout_async".to_owned(), false),
            ("slow_without_own_timeout_sync".to_owned(), false),
        ]),
        "{stdout}"
    );
    assert_contains_all(
        &stdout,
        &[
            "`slow_without_own_timeout_sync` test timed out after 300ms, the limit TESTBED_TIMEOUT sets",
            "`slow_without_own_timeout_async` test timed out after 300ms, the limit TESTBED_TIMEOUT sets",
        ],
    );
    // Not a duration: every test it would limit fails, naming the variable.
    let mut command = Command::new(test_binary());
    command
        .args(["slow_without_own_timeout_sync", "--exact"])
        .current_dir(project_dir());
    scrub(&mut command);
    command.env(testbed::DEFAULT_TIMEOUT_ENV, "soon");
    let output = run(&mut command);
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(!output.status.success(), "{all}");
    assert!(
        all.contains("TESTBED_TIMEOUT=`soon` is not a duration"),
        "{all}"
    );
}

fn skips(by_call: bool, by_setup: bool) -> BTreeMap<String, bool> {
    BTreeMap::from([
        ("skipped_by_call".to_owned(), by_call),
        ("skipped_by_setup".to_owned(), by_setup),
    ])
}

#[test]
fn a_skip_passes_with_its_reason_and_runs_cleanups_seeing_skipped() {
    let (results, output) = run_skips(None);
    assert_eq!(results, skips(true, true), "{output}");
    assert_contains_all(&output, &SKIPPED_LINES);
    assert_contains_all(
        &output,
        &["noisy cleanup saw: skipped", "backend cleanup saw: skipped"],
    );
    // The body of the test whose setup was unavailable never ran.
    assert!(!output.contains("body of a test"), "{output}");
}

#[test]
fn testbed_require_all_turns_every_skip_into_a_failure() {
    let (results, output) = run_skips(Some("all"));
    assert_eq!(results, skips(false, false), "{output}");
    assert_contains_all(
        &output,
        &[
            "`skipped_by_call` required but fixture-tool unavailable: `fixture-tool` is not installed (hint: `TESTBED_REQUIRE` lists it",
            "`skipped_by_setup` required but fixture-backend unavailable: nothing listens on `127.0.0.1:1` (hint:",
            // Cleanups still run, and see a failure.
            "noisy cleanup saw: failed",
            "backend cleanup saw: failed",
        ],
    );
    assert!(!output.contains("SKIPPED"), "{output}");
}

#[test]
fn testbed_require_fails_only_the_named_requirements() {
    let (results, output) = run_skips(Some("postgres, fixture-backend"));
    assert_eq!(results, skips(true, false), "{output}");
    assert_contains_all(
        &output,
        &[
            SKIPPED_LINES[0],
            "`skipped_by_setup` required but fixture-backend unavailable",
        ],
    );
}
