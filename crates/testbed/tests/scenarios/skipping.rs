//! An unavailable scenario is skipped with its reason, under plain libtest as one
//! `SKIPPED` line and a pass; `TESTBED_REQUIRE` turns the skip into a failure.

use super::respawn;
use testbed::scenarios::Scenario;
use testbed::{BoxError, Fixture, Scope};

/// A backend fixture whose `postgres` is never reachable (port 1 is never listened on
/// by a test server), so the skip path is taken for real.
struct Connection;

impl Fixture for Connection {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let scenario = Scenario::of(scope).expect("scenario tests only");
        if scenario.is("postgres") {
            return Err(scenario
                .unavailable("cannot connect to 127.0.0.1:1 (hint: set TESTBED_TEST_PG)")
                .into());
        }
        Ok(Connection)
    }
}

#[testbed::test(scenarios(memory, postgres))]
#[ignore = "helper: run by the skip tests in a child process"]
fn backend(_connection: Connection, scenario: Scenario) {
    assert_eq!(scenario.value(), "memory", "postgres never gets this far");
}

fn run_helpers(require: Option<&str>) -> std::process::Output {
    let envs: Vec<(&str, &str)> = require
        .map(|list| ("TESTBED_REQUIRE", list))
        .into_iter()
        .collect();
    respawn::run_with(
        &["--ignored", "skipping::backend::", "--test-threads=1"],
        &envs,
    )
    .wait_with_output()
    .unwrap()
}

#[test]
fn an_unavailable_scenario_is_skipped_with_its_reason() {
    let output = run_helpers(None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 passed"), "{stdout}");
    assert!(
        stderr.contains(
            "SKIPPED skipping::backend::postgres: postgres unavailable: \
             cannot connect to 127.0.0.1:1"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("SKIPPED skipping::backend::memory"),
        "{stderr}"
    );
}

#[test]
fn testbed_require_turns_the_skip_into_a_failure() {
    for require in ["postgres", "all", "mysql, postgres"] {
        let output = run_helpers(Some(require));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            !output.status.success(),
            "TESTBED_REQUIRE={require}: {stdout}"
        );
        assert!(stdout.contains("1 passed; 1 failed"), "{stdout}");
        assert!(stdout.contains("postgres unavailable"), "{stdout}");
    }
    let output = run_helpers(Some("mysql"));
    assert!(output.status.success(), "only postgres is missing");
}
