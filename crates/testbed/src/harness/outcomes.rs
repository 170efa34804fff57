//! What became of each test the harness ran (passed, failed, or skipped and why) and the
//! scenario it ran in, tallied per scenario value for the end-of-run summary.
//!
//! The scenario is known only inside the test, where its fixtures read it from the
//! scope. A [`Check`] installed by the harness registers, before any fixture, one cleanup
//! per test; cleanups run last-in-first-out, so it runs last, while the scope still holds
//! the scenario, and hands it to the thread that reports the test.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Once};

use crate::core::{BoxError, Outcome, Scope, Unavailable, lock};
use crate::runner::{Check, install_check};
use crate::scenarios::Scenario;

/// How one test the harness ran ended.
#[derive(Debug, Clone)]
pub struct TestRecord {
    /// The test's name, as listed.
    pub name: String,
    /// The scenario it ran in, for a `scenarios(...)` test.
    pub scenario: Option<Scenario>,
    /// [`Outcome::Passed`], [`Outcome::Failed`] (a panic or a missing expected panic
    /// included) or [`Outcome::Skipped`].
    pub outcome: Outcome,
    /// Why the test was skipped.
    pub skipped: Option<Unavailable>,
}

/// How the tests of one scenario value ended: `memory`, or `json` in a `format`
/// dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioTally {
    /// The dimension (`scenario` for a plain `scenarios(a, b)` list).
    pub dimension: &'static str,
    /// The value in that dimension.
    pub value: &'static str,
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests that were skipped.
    pub skipped: u64,
}

/// Per dimension (in first-seen order), per value (in name order): how the scenario
/// tests ended. A test with several dimensions counts once under each of its values.
pub(crate) fn tally(records: &[TestRecord]) -> Vec<ScenarioTally> {
    let mut dimensions: Vec<&'static str> = Vec::new();
    let mut counts: BTreeMap<(&'static str, &'static str), [u64; 3]> = BTreeMap::new();
    for record in records {
        let Some(scenario) = record.scenario else {
            continue;
        };
        for &(dimension, value) in scenario.dimensions() {
            if !dimensions.contains(&dimension) {
                dimensions.push(dimension);
            }
            let count = counts.entry((dimension, value)).or_default();
            match record.outcome {
                Outcome::Passed => count[0] += 1,
                Outcome::Skipped => count[2] += 1,
                _ => count[1] += 1,
            }
        }
    }
    dimensions
        .into_iter()
        .flat_map(|dimension| {
            counts
                .iter()
                .filter(move |((known, _), _)| *known == dimension)
                .map(
                    |(&(dimension, value), &[passed, failed, skipped])| ScenarioTally {
                        dimension,
                        value,
                        passed,
                        failed,
                        skipped,
                    },
                )
        })
        .collect()
}

/// Each distinct skip reason once, with how many tests it skipped: most first.
pub(crate) fn skip_reasons(records: &[TestRecord]) -> Vec<(String, u64)> {
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for unavailable in records.iter().filter_map(|record| record.skipped.as_ref()) {
        *reasons.entry(unavailable.to_string()).or_default() += 1;
    }
    let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    reasons
}

thread_local! {
    /// The scenario of the test that last ended on this thread.
    static LAST_SCENARIO: RefCell<Option<Scenario>> = const { RefCell::new(None) };
}

/// Runs `test` and returns what it returned and the scenario it ran in, if any.
pub(crate) fn with_scenario<R>(test: impl FnOnce() -> R) -> (R, Option<Scenario>) {
    static PROBE: Once = Once::new();
    PROBE.call_once(|| install_check(ScenarioProbe));
    LAST_SCENARIO.with(|last| last.borrow_mut().take());
    let result = test();
    (result, LAST_SCENARIO.with(|last| last.borrow_mut().take()))
}

/// Hands each test's scenario to the thread that ran the test.
struct ScenarioProbe;

type SeenScenario = Arc<Mutex<Option<Scenario>>>;

impl Check for ScenarioProbe {
    fn before(&self, scope: &Scope) -> Box<dyn Any + Send> {
        let seen = SeenScenario::default();
        let (slot, test) = (seen.clone(), scope.clone());
        scope.add_cleanup(move |_| {
            *lock(&slot) = Scenario::of(&test);
        });
        Box::new(seen)
    }

    fn after(
        &self,
        _scope: &Scope,
        snapshot: Box<dyn Any + Send>,
        _outcome: Outcome,
    ) -> Result<(), BoxError> {
        // `after` runs on the thread that called the test, the one the harness waits on,
        // even when the body ran on a worker thread for its timeout.
        if let Ok(seen) = snapshot.downcast::<SeenScenario>() {
            let scenario = lock(&seen).take();
            LAST_SCENARIO.with(|last| *last.borrow_mut() = scenario);
        }
        Ok(())
    }
}
