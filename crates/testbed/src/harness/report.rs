//! [`RunReport`]: what a run did, for the summary and for callers of
//! [`run`](super::run).

use std::time::Duration;

use libtest_mimic::Conclusion;

use super::outcomes::{ScenarioTally, TestRecord, skip_reasons, tally};
use crate::resources::{ResourceCleanError, ResourceStats};

/// What a run did.
#[derive(Debug)]
pub struct RunReport {
    /// libtest-mimic's counts.
    pub conclusion: Conclusion,
    /// What each resource cost during this run, in first-made order.
    pub costs: Vec<ResourceCost>,
    /// Cleans that failed, during the run or at teardown.
    pub clean_errors: Vec<ResourceCleanError>,
    /// Resources tests used without declaring them: `(test, resource)`. The plan could not
    /// account for them.
    pub undeclared: Vec<(String, &'static str)>,
    /// How each test that ran ended, in name order.
    pub tests: Vec<TestRecord>,
    /// The [`summary_section`](super::summary_section)s registered by the end of the run,
    /// rendered after teardown: `(name, text)`.
    pub sections: Vec<(&'static str, String)>,
    /// Wall time of the run, teardown included.
    pub wall: Duration,
}

/// What one resource cost during a run.
#[derive(Debug, Clone, Copy)]
pub struct ResourceCost {
    /// The resource's name.
    pub name: &'static str,
    /// Makes, resets, cleans and their time during the run.
    pub stats: ResourceStats,
}

impl RunReport {
    /// Makes of every resource together.
    pub fn makes(&self) -> u64 {
        self.costs.iter().map(|cost| cost.stats.makes).sum()
    }

    /// Per scenario value, how its tests ended: per dimension in first-seen order, values
    /// in name order. A test with several dimensions counts once under each value.
    pub fn scenario_tallies(&self) -> Vec<ScenarioTally> {
        tally(&self.tests)
    }

    /// Each distinct skip reason once, with the number of tests it skipped, most first.
    pub fn skip_reasons(&self) -> Vec<(String, u64)> {
        skip_reasons(&self.tests)
    }
}
