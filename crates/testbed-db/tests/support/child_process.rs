//! Running a helper test of this test binary in a child process, the one way every test
//! binary of testbed-db does it: to die mid-test, or to run with an environment variable
//! set (setting it in the parent would race with other tests' threads).
//!
//! A helper is an `#[ignore]`d `#[testbed::test]` that starts with [`only_in_child`]:
//! run any other way (`--include-ignored`, nextest's `--run-ignored all`) it reports a
//! skip naming its parent, never a pass.

#![allow(dead_code)] // each test binary uses its own part

use std::process::Command;

/// Set in the child to the name of the helper it runs.
pub const ROLE_ENV: &str = "TESTBED_DB_CHILD";

/// The command that runs helper test `name` (as libtest names it) of this binary alone
/// in a child process, ignored tests included and its output shown, with [`ROLE_ENV`]
/// naming it and without `TESTBED_REQUIRE` (the caller decides what the child requires).
pub fn command(name: &str) -> Command {
    let mut command = this_binary(name);
    command
        .arg("--ignored")
        .env(ROLE_ENV, name)
        .env_remove(testbed::REQUIRE_ENV);
    command
}

/// The command that runs test `name` of this binary alone, its output shown.
fn this_binary(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    command
}

/// Skips the calling helper unless this process is the child started for it by
/// [`command`]: `name` is the helper's function name.
pub fn only_in_child(name: &str) {
    let role = std::env::var(ROLE_ENV).unwrap_or_default();
    if role.rsplit("::").next() != Some(name) {
        testbed::skip(
            "child process",
            format!(
                "`{name}` is a helper that runs only in the child process its parent test starts"
            ),
        );
    }
}

/// For a test of the direct way (this process's own lease, claims and warm pool): under
/// nextest, where a PostgreSQL broker would serve it instead, re-runs the calling test
/// `name` (as libtest names it) in a child with the broker off (`TESTBED_PG_BROKER=0`),
/// fails if the child fails, skips if it skipped, and returns `true`: the caller then
/// returns. Returns `false` where this process goes the direct way anyway (`cargo test`,
/// or the broker already off): the caller runs its body.
pub fn rerun_without_broker(name: &str) -> bool {
    let broker_off = std::env::var("TESTBED_PG_BROKER").is_ok_and(|value| value.trim() == "0");
    if !under_nextest() || broker_off {
        return false;
    }
    rerun(name, "without the broker", |command| {
        command.env("TESTBED_PG_BROKER", "0");
    });
    true
}

/// [`rerun_without_broker`] for a test of what only `cargo test` does (a pool that serves
/// the process's next tests): under nextest, the child also goes without nextest's
/// variable, as a thread of `cargo test` would.
pub fn rerun_as_under_cargo_test(name: &str) -> bool {
    if !under_nextest() {
        return false;
    }
    rerun(name, "as under cargo test", |command| {
        command
            .env("TESTBED_PG_BROKER", "0")
            .env_remove("NEXTEST_RUN_ID");
    });
    true
}

fn under_nextest() -> bool {
    std::env::var_os("NEXTEST_RUN_ID").is_some()
}

/// Runs test `name` of this binary in a child set up by `configure` (`how` says how, in
/// messages): fails if it fails or did not run, skips if it skipped.
fn rerun(name: &str, how: &str, configure: impl FnOnce(&mut Command)) {
    let mut command = this_binary(name);
    configure(&mut command);
    let output = command.output().expect("the child runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "`{name}` failed in its child {how}:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("test {name} ... ok")),
        "`{name}` did not run in its child:\n{stdout}\n{stderr}"
    );
    if let Some(skipped) = stderr.lines().find(|line| line.starts_with("SKIPPED ")) {
        testbed::skip(format!("the child {how}"), skipped.to_owned());
    }
}
