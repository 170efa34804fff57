//! Re-running tests of this binary in child processes, to test what spans processes.

#![allow(dead_code)] // each test binary uses part of it

use std::process::{Child, Command, Output, Stdio};

/// Starts this test binary running only `test` (an `#[ignore]`d helper), with `envs`.
pub fn spawn(test: &str, envs: &[(&str, &str)]) -> Child {
    run_with(
        &[
            "--ignored",
            "--exact",
            test,
            "--nocapture",
            "--test-threads=1",
        ],
        envs,
    )
}

/// Starts this test binary with libtest arguments `args` and `envs`; the parent's
/// `TESTBED_REQUIRE` is not passed on unless `envs` sets it.
pub fn run_with(args: &[&str], envs: &[(&str, &str)]) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    Command::new(exe)
        .args(args)
        .env_remove("TESTBED_REQUIRE")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("re-running the test binary")
}

/// Waits for `child` and fails with its output unless it passed.
pub fn expect_success(child: Child) -> Output {
    let output = child
        .wait_with_output()
        .expect("waiting for the child test");
    assert!(
        output.status.success(),
        "child test failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test (was it filtered out?):\n{stdout}"
    );
    output
}
