//! Each scenario is its own test, named after the test and the scenario, and the body
//! and its fixtures see which scenario they run in.

use std::sync::Mutex;

use super::respawn;
use testbed::scenarios::Scenario;
use testbed::{BoxError, Fixture, Scope};

static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[testbed::test(scenarios(memory, sqlite))]
fn plain(scenario: Scenario) {
    assert_eq!(scenario.get("scenario"), Some(scenario.value()));
    SEEN.lock().unwrap().push(scenario.name());
}

#[testbed::test(scenarios(backend = [memory, sqlite], format = [json, yaml]))]
fn multiplied(scenario: &Scenario) {
    let backend = scenario.get("backend").unwrap();
    let format = scenario.get("format").unwrap();
    assert_eq!(scenario.name(), format!("{backend}::{format}"));
}

/// A fixture that picks its backend from the scenario, as a database fixture would.
struct Backend(&'static str);

impl Fixture for Backend {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let scenario = Scenario::of(scope).ok_or("`Backend` needs a scenario")?;
        Ok(Backend(scenario.value()))
    }
}

#[testbed::test(scenarios(memory, sqlite))]
fn fixtures_see_the_scenario(backend: Backend, scenario: Scenario, scope: &Scope) {
    assert_eq!(backend.0, scenario.value());
    assert!(
        scope
            .test_name()
            .ends_with(&format!("::{}", scenario.name()))
    );
}

#[testbed::test(scenarios(memory, sqlite), timeout = "5s")]
async fn async_tests_have_scenarios(scenario: Scenario) {
    tokio::task::yield_now().await;
    assert!(scenario.is("memory") || scenario.is("sqlite"));
}

#[testbed::test]
fn a_test_without_scenarios_has_none(scope: &Scope) {
    assert_eq!(Scenario::of(scope), None);
}

fn listed(args: &[&str]) -> Vec<String> {
    let output = respawn::run_with(&[&["--list", "--format", "terse"], args].concat(), &[])
        .wait_with_output()
        .unwrap();
    assert!(output.status.success());
    let mut names: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn each_scenario_is_a_test_named_after_it() {
    let names = listed(&["naming::"]);
    for expected in [
        "naming::plain::memory",
        "naming::plain::sqlite",
        "naming::multiplied::memory::json",
        "naming::multiplied::memory::yaml",
        "naming::multiplied::sqlite::json",
        "naming::multiplied::sqlite::yaml",
        "naming::fixtures_see_the_scenario::sqlite",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} in {names:?}"
        );
    }
}

#[test]
fn a_filter_selects_scenarios() {
    assert_eq!(
        listed(&["naming::multiplied::sqlite"]),
        [
            "naming::multiplied::sqlite::json",
            "naming::multiplied::sqlite::yaml"
        ]
    );
    assert_eq!(
        listed(&["--exact", "naming::plain::memory"]),
        ["naming::plain::memory"]
    );
    let json = listed(&["multiplied::", "--skip", "yaml"]);
    assert_eq!(
        json,
        [
            "naming::multiplied::memory::json",
            "naming::multiplied::sqlite::json"
        ]
    );
}

#[test]
fn one_scenario_runs_alone() {
    let child = respawn::run_with(&["--exact", "naming::plain::sqlite", "--nocapture"], &[]);
    let output = respawn::expect_success(child);
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
}
