//! What the harness must do, checked on child runs of this binary.

use std::process::Output;

use super::helpers::MARKER_ENV;
use super::respawn;

fn run(args: &[&str], envs: &[(&str, &str)]) -> (Output, String, String) {
    let output = respawn::run_with(args, envs).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// The `made N` figure of `resource` in the harness's summary.
fn makes(stderr: &str, resource: &str) -> u32 {
    let prefix = format!("    {resource}: made ");
    let line = stderr
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no summary line for `{resource}` in:\n{stderr}"));
    line.split(',').next().unwrap().parse().unwrap()
}

#[testbed::test]
fn the_planned_order_makes_each_resource_once() {
    let (output, stdout, stderr) = run(
        &["--ignored", "helpers::interleaved::", "--test-threads=1"],
        &[],
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("6 passed"), "{stdout}");
    assert_eq!(
        (makes(&stderr, "alpha"), makes(&stderr, "beta")),
        (1, 1),
        "{stderr}"
    );
}

#[testbed::test]
fn the_listed_order_remakes_what_it_releases() {
    let (output, stdout, stderr) = run(
        &["--ignored", "helpers::interleaved::", "--test-threads=1"],
        &[("TESTBED_ORDER", "listed")],
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        (makes(&stderr, "alpha"), makes(&stderr, "beta")),
        (3, 3),
        "{stderr}"
    );
}

#[testbed::test]
fn tests_sharing_a_resource_run_in_parallel() {
    let (output, stdout, stderr) = run(
        &["--ignored", "helpers::parallel_", "--test-threads=2"],
        &[],
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 passed"), "{stdout}");
    assert_eq!(makes(&stderr, "meeting"), 1);
}

#[testbed::test]
fn a_skip_is_reported_as_ignored_with_its_reason_and_counted() {
    let (output, stdout, stderr) = run(&["--ignored", "helpers::backend::"], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "helpers::backend::postgres ... ignored (postgres unavailable: \
             nothing listens on 127.0.0.1:1)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed; 0 failed; 1 ignored"), "{stdout}");
    assert!(
        !stderr.contains("SKIPPED"),
        "no libtest fallback line: {stderr}"
    );
}

#[testbed::test]
fn testbed_require_fails_the_skip_under_the_harness() {
    let (output, stdout, _) = run(
        &["--ignored", "helpers::backend::"],
        &[("TESTBED_REQUIRE", "postgres")],
    );
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed; 1 failed"), "{stdout}");
    assert!(stdout.contains("required"), "{stdout}");
}

#[testbed::test]
fn a_dirtied_resource_is_reset_for_the_next_test() {
    let (output, stdout, stderr) = run(&["--ignored", "helpers::dirty_", "--test-threads=1"], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("    counter: made 1, reset 1, cleaned 1"),
        "{stderr}"
    );
}

#[testbed::test]
fn resources_are_torn_down_at_the_end_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let (output, stdout, stderr) = run(
        &["--ignored", "helpers::marked::"],
        &[(MARKER_ENV, marker.to_str().unwrap())],
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("    marked: made 1, reset 0, cleaned 1"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(marker).unwrap(), "cleaned");
}

#[testbed::test]
fn should_panic_and_failures_are_reported_as_libtest_does() {
    let (output, stdout, stderr) = run(&["--ignored", "helpers::panics_as_expected"], &[]);
    assert!(output.status.success(), "{stdout}");
    // A passing `#[should_panic]` test prints nothing of its panic (libtest captures it).
    assert!(!stderr.contains("boom"), "{stderr}");
    let (output, stdout, _) = run(&["--ignored", "--exact", "helpers::fails"], &[]);
    assert_eq!(output.status.code(), Some(101), "{stdout}");
    assert!(stdout.contains("this helper fails on purpose"), "{stdout}");
}

#[testbed::test]
fn speaks_nextest_s_protocol() {
    // nextest lists with `--list --format terse` (and again with `--ignored`), then runs
    // each test in a process of its own with `--exact <name> --nocapture`.
    let (output, listed, _) = run(&["--list", "--format", "terse"], &[]);
    assert!(output.status.success());
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .collect();
    assert!(
        names.contains(&"checks::speaks_nextest_s_protocol"),
        "{listed}"
    );
    assert!(names.contains(&"helpers::backend::postgres"), "{listed}");
    let (_, ignored, _) = run(&["--list", "--format", "terse", "--ignored"], &[]);
    assert!(
        ignored
            .lines()
            .any(|l| l == "helpers::dirty_1_changes: test"),
        "{ignored}"
    );
    assert!(!ignored.contains("checks::"), "{ignored}");
    for name in [
        "helpers::parallel_one",
        "helpers::dirty_2_sees_a_reset_counter",
    ] {
        if name == "helpers::parallel_one" {
            continue; // needs its partner in the same process
        }
        let child = respawn::spawn(name, &[]);
        respawn::expect_success(child);
    }
    let (output, stdout, _) = run(
        &[
            "--ignored",
            "--exact",
            "helpers::backend::memory",
            "--nocapture",
        ],
        &[],
    );
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}"
    );
}

#[testbed::test(timeout = "600s")]
fn runs_under_cargo_nextest() {
    // The real runner, not an imitation of its protocol: nextest lists this binary, then
    // runs each selected test in a process of its own.
    let cargo = env!("CARGO");
    let has_nextest = std::process::Command::new(cargo)
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_nextest {
        testbed::skip(
            "nextest",
            "`cargo nextest` is not installed (hint: `cargo install cargo-nextest`)",
        );
    }
    // `--workspace` resolves features as CI's `cargo nextest run --workspace` does, so
    // there this builds nothing; `--test` builds this target alone.
    let output = std::process::Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["nextest", "run", "--workspace", "--test", "harness_suite"])
        .args([
            "--run-ignored",
            "only",
            "--no-fail-fast",
            "-E",
            "binary_id(testbed::harness_suite) \
             & test(/^helpers::(backend|dirty|interleaved|panics_as_expected)/)",
            // The tests' own stderr passes through, to show no process printed a summary.
            "--no-capture",
            // The assertions read plain text, whatever colour the caller asked for.
            "--color",
            "never",
        ])
        .env_remove("TESTBED_REQUIRE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Each test is a process: 2 scenarios, 2 dirty, 6 interleaved, 1 should_panic.
    assert!(stderr.contains("11 tests run: 11 passed"), "{stderr}");
    // One test per process: a summary each would be noise (the interleaved tests make
    // resources, so each process would have had resource lines to print).
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("helpers::backend::postgres ... ignored (postgres unavailable"),
        "the tests' output passes through: {stdout}"
    );
    assert!(!stderr.contains("testbed summary"), "{stderr}");
    assert!(!stderr.contains("make(s) in all"), "{stderr}");
}

#[testbed::test]
fn an_undeclared_resource_is_pointed_out() {
    let (output, stdout, stderr) = run(&["--ignored", "helpers::undeclared::"], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "resource `alpha` is used by 1 test(s) that do not declare it, such as \
             `helpers::undeclared::uses_alpha`"
        ),
        "{stderr}"
    );
    let (_, _, declared) = run(&["--ignored", "helpers::interleaved::"], &[]);
    assert!(declared.contains("testbed summary"), "{declared}");
    assert!(!declared.contains("do not declare"), "{declared}");
}

#[testbed::test]
fn each_scenario_declares_its_own_resources() {
    let declared = |name: &str| -> Vec<&'static str> {
        let trials = testbed::__private::harness::registered();
        let trial = trials
            .iter()
            .find(|trial| trial.name() == name)
            .unwrap_or_else(|| panic!("`{name}` is registered"));
        trial.resources().iter().map(|r| r.name()).collect()
    };
    assert_eq!(declared("helpers::per_scenario::memory"), ["beta"]);
    assert_eq!(
        declared("helpers::per_scenario::postgres"),
        ["beta", "alpha"]
    );
    let (output, stdout, stderr) = run(&["--ignored", "helpers::per_scenario::"], &[]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("do not declare"), "{stderr}");
}
