//! Re-running one test of this binary in child processes, to test what spans processes.

use std::process::{Child, Command, Output};

/// Starts this test binary running only `test` (an `#[ignore]`d helper), with `envs`.
pub fn spawn(test: &str, envs: &[(&str, &str)]) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            test,
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
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
