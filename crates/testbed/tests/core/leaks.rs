//! Leak detection end to end: the fixture project's `leaks::` tests each leave one
//! category behind (or leave something that must not be reported), run under
//! `cargo test` (its test binary, one test thread: every difference is pinned) and under
//! `cargo nextest run` (a process per test); its `overlap::` tests run side by side to
//! show that a leak is never pinned on a test that may not have made it.

use std::collections::BTreeMap;
use std::process::Command;

use crate::runners::{
    assert_contains_all, cargo, libtest_results, nextest_results, project_dir, require_nextest,
    run, scrub, test_binary, text,
};

/// Each leaking test and the lines its report must hold, whatever the runner.
const REPORTS: [(&str, &[&str]); 8] = [
    (
        "env",
        &[
            "`leaks::env` check failed: left 1 leak behind (leak detection, TESTBED_LEAKS=fail):",
            "- env: variable `FIXTURE_LEAKED_VAR` set without `EnvVars`; restored",
            "allow_leaks(env)",
        ],
    ),
    (
        "cwd",
        &[
            "- cwd: current directory changed to `/` without `CurrentDir` (was `",
            "fixture-project`); restored to `",
        ],
    ),
    (
        "threads",
        &[
            "- threads: thread `fixture-leaker` (tid ",
            ") still running",
            "testbed::leaks::ignore_threads_named(",
        ],
    ),
    (
        "fds",
        &[
            "still open: socket tcp listening on 127.0.0.1:",
            "still open: file `",
            "fixture-project/Cargo.toml`",
        ],
    ),
    (
        "children",
        &[
            "- children: child process ",
            " `sleep 30` still running; killed and reaped",
        ],
    ),
    (
        "overrides",
        &[
            "- overrides: `Global<u32>` overridden at src/leaks.rs:",
            " through a scope of `fixture helper`, still in effect after the test's cleanups; \
             undone, and its lock freed",
        ],
    ),
    (
        "handles",
        &["- handles: a fixture session still held after the test's cleanups"],
    ),
    (
        "tasks",
        &[
            "- tasks: 1 async task still alive on the test's runtime after its cleanups",
            "dropped with the test's runtime",
        ],
    ),
];

/// The tests that must pass: leftovers that finish, are allowed, or match a rule.
const CLEAN: [&str; 4] = [
    "finishing_not_reported",
    "allowed",
    "ignored_by_rule",
    "z_restored",
];

/// Every leaking test fails but `temp_files`, which is only ever a suspect.
fn expected() -> BTreeMap<String, bool> {
    REPORTS
        .iter()
        .map(|(name, _)| (format!("leaks::{name}"), false))
        .chain(CLEAN.iter().map(|name| (format!("leaks::{name}"), true)))
        .chain([("leaks::temp_files".to_owned(), true)])
        .collect()
}

/// Removes the files the `temp_files` case left, named in `output`, that the run tagged
/// `tag` made: the other variant's run (running at the same time) lists them too, among
/// the entries that appeared in the temporary directory, and they are its to remove.
fn remove_leaked_temp_files(output: &str, tag: &str) {
    let marker = format!("fixture-leaked-{tag}-");
    let marker = marker.as_str();
    for (at, _) in output.match_indices(marker) {
        let digits: String = output[at + marker.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        if !digits.is_empty() {
            let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{marker}{digits}")));
        }
    }
}

fn assert_reports(output: &str) {
    for (_, lines) in REPORTS {
        assert_contains_all(output, lines);
    }
    // Names only: a value never reaches a report.
    assert!(!output.contains("secret-value"), "{output}");
    for clean in CLEAN {
        assert!(
            !output.contains(&format!("`leaks::{clean}` check failed")),
            "{output}"
        );
    }
}

#[test]
fn cargo_test_fails_each_leaking_test_and_restores() {
    let mut command = Command::new(test_binary());
    command
        .args(["--ignored", "leaks::", "--test-threads=1"])
        .current_dir(project_dir());
    scrub(&mut command);
    command
        .env("TESTBED_LEAKS", "fail")
        .env("FIXTURE_LEAK_TAG", "cargo");
    let output = run(&mut command);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let all = format!("{stdout}\n{stderr}");
    remove_leaked_temp_files(&all, "cargo");
    assert_eq!(libtest_results(&stdout), expected(), "{all}");
    assert_reports(&all);
    assert_temp_file_suspected(&all, "cargo");
}

/// The temporary file is reported, as a suspect only: other processes write to the
/// temporary directory too (this suite's other runs among them).
fn assert_temp_file_suspected(output: &str, tag: &str) {
    assert_contains_all(
        output,
        &[
            // "1 leak", or more when other processes wrote there meanwhile.
            "appeared while `leaks::temp_files` ran; not failing it: other processes write \
             to the temporary directory too",
            "- temp_files: file `",
            &format!("fixture-leaked-{tag}-"),
            "` left in the temporary directory",
        ],
    );
}

#[testbed::test]
fn cargo_nextest_fails_each_leaking_test() {
    require_nextest();
    test_binary();
    let output = run(cargo(&[
        "nextest",
        "run",
        "--run-ignored",
        "only",
        "--no-fail-fast",
        "--color",
        "never",
        "--success-output",
        "final",
        "--failure-output",
        "final",
        "leaks::",
    ])
    .env("TESTBED_LEAKS", "fail")
    .env("FIXTURE_LEAK_TAG", "nextest"));
    let all = format!("{}\n{}", text(&output.stdout), text(&output.stderr));
    remove_leaked_temp_files(&all, "nextest");
    assert_eq!(nextest_results(&all), expected(), "{all}");
    assert_reports(&all);
    assert_temp_file_suspected(&all, "nextest");
}

#[test]
fn cargo_test_never_fails_a_test_that_overlapped_a_leak() {
    let mut command = Command::new(test_binary());
    command
        .args(["--ignored", "overlap::", "--test-threads=2", "--nocapture"])
        .current_dir(project_dir());
    scrub(&mut command);
    command.env("TESTBED_LEAKS", "fail");
    let output = run(&mut command);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let all = format!("{stdout}\n{stderr}");
    assert_eq!(
        libtest_results(&stdout),
        BTreeMap::from([
            ("overlap::innocent".to_owned(), true),
            ("overlap::leaker".to_owned(), true),
        ]),
        "{all}"
    );
    // The innocent test saw the thread appear, and names the leaker as a suspect
    // instead of failing.
    assert_contains_all(
        &all,
        &[
            "appeared while `overlap::innocent` ran; not failing it: other tests ran in this \
             process meanwhile",
            "suspects: `overlap::innocent` and the tests that overlapped it: `overlap::leaker`",
            "- threads: thread `overlap-leaker` (tid ",
        ],
    );
    assert!(!all.contains("check failed"), "{all}");
}
