//! Releasing resources during a run: a resource is cleaned as soon as no running test
//! uses it and none of the next tests to start needs it, as testresources'
//! OptimisingTestSuite does between consecutive tests, widened to the tests that may
//! start in parallel. So the order decides how often each resource is made.

use std::sync::Mutex;

use super::plan::ResourceSet;
use crate::core::lock;
use crate::resources::AnyResource;

/// The run's resources and, in run order, the set each runnable test uses.
pub(crate) struct Schedule {
    resources: Vec<&'static dyn AnyResource>,
    /// Dependency depth of each resource: dependents (deeper) are released first.
    depth: Vec<usize>,
    sets: Vec<ResourceSet>,
    lookahead: usize,
    state: Mutex<State>,
}

struct State {
    started: Vec<bool>,
    first_unstarted: usize,
    running: Vec<usize>,
}

impl Schedule {
    /// `lookahead` is how many not-yet-started tests may start at once (the thread count).
    pub(crate) fn new(
        resources: Vec<&'static dyn AnyResource>,
        sets: Vec<ResourceSet>,
        lookahead: usize,
    ) -> Self {
        let depth = resources
            .iter()
            .map(|resource| depth_of(*resource))
            .collect();
        let state = State {
            started: vec![false; sets.len()],
            first_unstarted: 0,
            running: vec![0; resources.len()],
        };
        Schedule {
            resources,
            depth,
            sets,
            lookahead: lookahead.max(1),
            state: Mutex::new(state),
        }
    }

    /// Records that the test at `position` (in run order) starts.
    pub(crate) fn start(&self, position: usize) {
        let mut state = lock(&self.state);
        for &resource in &self.sets[position] {
            state.running[resource] += 1;
        }
        state.started[position] = true;
        while state
            .started
            .get(state.first_unstarted)
            .copied()
            .unwrap_or(false)
        {
            state.first_unstarted += 1;
        }
    }

    /// Records that the test at `position` ended and releases what nothing about to run
    /// needs. Returns the clean errors, to be reported with the run's summary.
    pub(crate) fn end(&self, position: usize) -> Vec<crate::resources::ResourceCleanError> {
        let mut releasable: Vec<usize> = {
            let mut state = lock(&self.state);
            for &resource in &self.sets[position] {
                state.running[resource] -= 1;
            }
            let upcoming: Vec<usize> = (state.first_unstarted..self.sets.len())
                .filter(|&next| !state.started[next])
                .take(self.lookahead)
                .collect();
            self.sets[position]
                .iter()
                .copied()
                .filter(|&resource| state.running[resource] == 0)
                .filter(|resource| {
                    !upcoming
                        .iter()
                        .any(|&next| self.sets[next].contains(resource))
                })
                .collect()
        };
        releasable.sort_by_key(|&resource| std::cmp::Reverse(self.depth[resource]));
        releasable
            .into_iter()
            .filter_map(|resource| self.resources[resource].release_if_unused().err())
            .collect()
    }
}

/// The length of the longest dependency chain below `resource`.
fn depth_of(resource: &dyn AnyResource) -> usize {
    resource
        .dependencies()
        .iter()
        .map(|dep| depth_of(*dep) + 1)
        .max()
        .unwrap_or(0)
}
