//! The summary the harness prints at the end of a run, checked on child runs.

use super::respawn;

fn run(args: &[&str]) -> (std::process::Output, String, String) {
    let output = respawn::run_with(args, &[]).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

#[testbed::test]
fn tallies_each_scenario_value_and_lists_skip_reasons_once() {
    let (output, stdout, stderr) = run(&["--ignored", "helpers::summarised::"]);
    assert_eq!(output.status.code(), Some(101), "{stdout}\n{stderr}");
    // libtest's own conclusion stays on stdout as libtest-mimic printed it.
    assert!(
        stdout.contains("test result: FAILED. 5 passed; 1 failed; 6 ignored;"),
        "{stdout}"
    );
    assert!(!stdout.contains("testbed summary"), "{stdout}");
    let expected = [
        "testbed summary\n",
        "  scenarios: memory 3 passed, 1 failed | postgres 4 skipped\n",
        "  scenarios by backend: memory 2 passed | postgres 2 skipped\n",
        "  scenarios by format: json 1 passed, 1 skipped | yaml 1 passed, 1 skipped\n",
        "  skipped (6 tests): postgres unavailable: nothing listens on 127.0.0.1:1\n",
    ];
    for line in expected {
        assert!(stderr.contains(line), "no {line:?} in:\n{stderr}");
    }
    assert_eq!(stderr.matches("skipped (").count(), 1, "{stderr}");
}

#[testbed::test]
fn prints_registered_sections_once_per_name() {
    let (_, stdout, stderr) = run(&["--ignored", "helpers::summarised::"]);
    // Both memory tests registered; their render ran once, after the run.
    assert!(
        stderr.contains("  helper section: 2 registrations\n    second line\n"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(stderr.matches("helper section").count(), 1, "{stderr}");
    assert!(!stderr.contains("replaced the first"), "{stderr}");
    assert!(!stderr.contains("quiet section"), "{stderr}");
}

#[testbed::test]
fn a_run_of_one_test_prints_no_summary() {
    let (output, stdout, stderr) = run(&["--ignored", "helpers::summarised::passes::"]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("testbed summary"), "two tests: {stderr}");
    let (output, stdout, stderr) = run(&[
        "--ignored",
        "--exact",
        "helpers::summarised::passes::postgres",
    ]);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 ignored"), "{stdout}");
    assert!(!stderr.contains("testbed summary"), "{stderr}");
}
