//! The text printed at the end of a run: per scenario value how the tests ended, each
//! distinct skip reason once, the sections other crates registered, what each resource
//! cost, and what needs the user's attention (undeclared resources, failed cleans).

use std::fmt::Write;
use std::time::Duration;

use super::outcomes::ScenarioTally;
use super::report::RunReport;

/// Distinct skip reasons listed before the rest are only counted: a reason that names
/// each test's own database would otherwise list every test again.
const MAX_SKIP_REASONS: usize = 5;

/// The summary [`main`](super::main) prints on stderr after the run, for example:
///
/// ```text
/// testbed summary
///   scenarios: memory 20 passed | redis 20 skipped
///   skipped (20 tests): redis unavailable: cannot connect to 127.0.0.1:6379 (hint: ...)
///   databases: 40 acquired (p50 3 ms, total 0.2 s)
///   resources: 1 used, 1 make(s) in all, 0.004s making, resetting and cleaning
///     redis server: made 1, reset 0, cleaned 1; 0.004s
/// ```
///
/// Only what the run has is shown: no scenario line without scenario tests, no
/// resource lines without resources, nothing at all for a run with nothing to say.
/// Resources used by tests that did not declare them, and failed cleans, follow as
/// `testbed: ...` lines.
///
/// ```
/// use testbed::__private::harness::{Arguments, Order, Trial, run, summary};
///
/// let trials = vec![Trial::new("one", || {}), Trial::new("two", || {})];
/// let report = run(&Arguments { quiet: true, ..Arguments::default() }, trials, Order::Planned);
/// assert_eq!(report.tests.len(), 2);
/// assert_eq!(summary(&report), "", "no scenarios, skips or resources: nothing to say");
/// ```
pub fn summary(report: &RunReport) -> String {
    let mut lines = String::new();
    scenario_lines(&mut lines, &report.scenario_tallies());
    skip_lines(&mut lines, &report.skip_reasons());
    for (name, text) in &report.sections {
        let _ = writeln!(
            lines,
            "  {name}: {}",
            text.trim_end().replace('\n', "\n    ")
        );
    }
    resource_lines(&mut lines, report);
    let mut text = String::new();
    if !lines.is_empty() {
        text.push_str("testbed summary\n");
        text.push_str(&lines);
    }
    undeclared_lines(&mut text, report);
    text.push_str(&clean_errors(report));
    text
}

/// The resource cleans that failed, one `testbed: failed to ...` line each.
pub(crate) fn clean_errors(report: &RunReport) -> String {
    let mut text = String::new();
    for error in &report.clean_errors {
        let _ = writeln!(text, "testbed: failed to {error}: {}", error.source);
    }
    text
}

/// One line per dimension: `scenarios: memory 3 passed | sqlite 2 passed, 1 failed`,
/// or `scenarios by format: json 2 passed | yaml 2 passed` for a named one.
fn scenario_lines(text: &mut String, tallies: &[ScenarioTally]) {
    let mut dimensions: Vec<&str> = tallies.iter().map(|tally| tally.dimension).collect();
    dimensions.dedup();
    for dimension in dimensions {
        let values: Vec<String> = tallies
            .iter()
            .filter(|tally| tally.dimension == dimension)
            .map(|tally| format!("{} {}", tally.value, counts(tally)))
            .collect();
        // `scenario` is the dimension of a plain `scenarios(a, b)` list.
        let label = match dimension {
            "scenario" => "scenarios".to_owned(),
            named => format!("scenarios by {named}"),
        };
        let _ = writeln!(text, "  {label}: {}", values.join(" | "));
    }
}

fn counts(tally: &ScenarioTally) -> String {
    let parts: Vec<String> = [
        (tally.passed, "passed"),
        (tally.failed, "failed"),
        (tally.skipped, "skipped"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} {what}"))
    .collect();
    parts.join(", ")
}

fn skip_lines(text: &mut String, reasons: &[(String, u64)]) {
    for (reason, tests) in reasons.iter().take(MAX_SKIP_REASONS) {
        let _ = writeln!(text, "  skipped ({}): {reason}", tests_count(*tests));
    }
    let rest = &reasons[reasons.len().min(MAX_SKIP_REASONS)..];
    if !rest.is_empty() {
        let tests = rest.iter().map(|(_, tests)| tests).sum();
        let _ = writeln!(
            text,
            "  skipped ({}): {} other reasons",
            tests_count(tests),
            rest.len()
        );
    }
}

fn tests_count(tests: u64) -> String {
    match tests {
        1 => "1 test".to_owned(),
        many => format!("{many} tests"),
    }
}

fn resource_lines(text: &mut String, report: &RunReport) {
    if report.costs.is_empty() {
        return;
    }
    let total: Duration = report
        .costs
        .iter()
        .map(|cost| cost.stats.total_time())
        .sum();
    let _ = writeln!(
        text,
        "  resources: {} used, {} make(s) in all, {:.3}s making, resetting and cleaning",
        report.costs.len(),
        report.makes(),
        total.as_secs_f64()
    );
    for cost in &report.costs {
        let stats = cost.stats;
        let _ = writeln!(
            text,
            "    {}: made {}, reset {}, cleaned {}; {:.3}s",
            cost.name,
            stats.makes,
            stats.resets,
            stats.cleans,
            stats.total_time().as_secs_f64()
        );
    }
}

fn undeclared_lines(text: &mut String, report: &RunReport) {
    let mut resources: Vec<&str> = report.undeclared.iter().map(|(_, r)| *r).collect();
    resources.sort_unstable();
    resources.dedup();
    for resource in resources {
        let users: Vec<&str> = report
            .undeclared
            .iter()
            .filter(|(_, used)| *used == resource)
            .map(|(test, _)| test.as_str())
            .collect();
        let _ = writeln!(
            text,
            "testbed: resource `{resource}` is used by {} test(s) that do not declare it, \
             such as `{}` (hint: add it to `#[testbed::test(resources(...))]` so the \
             harness can order for it)",
            users.len(),
            users[0]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_leave_out_zeros() {
        let tally = ScenarioTally {
            dimension: "scenario",
            value: "redis",
            passed: 3,
            failed: 0,
            skipped: 1,
        };
        assert_eq!(counts(&tally), "3 passed, 1 skipped");
    }

    #[test]
    fn skip_reasons_beyond_the_limit_are_only_counted() {
        let reasons: Vec<(String, u64)> = (0..7)
            .map(|n| (format!("db unavailable: database `test_{n}` is gone"), 1))
            .collect();
        let mut text = String::new();
        skip_lines(&mut text, &reasons);
        assert_eq!(text.lines().count(), MAX_SKIP_REASONS + 1, "{text}");
        assert!(text.contains("  skipped (1 test): db unavailable: database `test_0`"));
        assert!(
            text.ends_with("  skipped (2 tests): 2 other reasons\n"),
            "{text}"
        );
    }
}
