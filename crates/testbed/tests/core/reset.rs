//! `Resettable::reset` runs the fixture's cleanups and sets it up again, unless the
//! fixture overrides `reset` with something cheaper.

use testbed::__private::body;
use testbed::{BoxError, Fixture, Scope};

use crate::{Journal, run_sync};

/// Numbers its generations: setup `n` registers cleanup `n`.
struct Generation(usize);

impl Fixture for Generation {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let journal = Journal::current();
        let n = 1 + journal
            .entries()
            .iter()
            .filter(|entry| entry.starts_with("setup"))
            .count();
        journal.record(format!("setup {n}"));
        let cleanup_journal = journal.clone();
        scope.add_cleanup(move |outcome| {
            cleanup_journal.record(format!("cleanup {n} saw {outcome}"))
        });
        Ok(Generation(n))
    }
}

#[test]
fn the_default_reset_runs_the_cleanups_then_sets_up_again() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        scope.add_cleanup(journal.cleanup("test before"));
        let mut generation = scope.use_resettable::<Generation>()?;
        scope.add_cleanup(journal.cleanup("test after"));
        body(scope, || {
            journal.record(format!("body uses {}", generation.0));
            generation.reset().unwrap();
            journal.record(format!("body uses {}", generation.0));
        })
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        [
            "setup 1",
            "body uses 1",
            "cleanup 1 saw passed",
            "setup 2",
            "body uses 2",
            // The fixture's scope is a child: its cleanups keep their place in the order.
            "test after saw passed",
            "cleanup 2 saw passed",
            "test before saw passed",
        ]
    );
}

/// Counts rows; resetting only zeroes the count instead of setting up again.
struct Rows(u32);

impl Fixture for Rows {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let journal = Journal::current();
        journal.record("setup");
        scope.add_cleanup(journal.cleanup("cleanup"));
        Ok(Rows(0))
    }

    fn reset(&mut self, _scope: &Scope) -> Result<(), BoxError> {
        Journal::current().record(format!("cheap reset from {}", self.0));
        self.0 = 0;
        Ok(())
    }
}

#[test]
fn an_overridden_reset_is_used_instead() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        let mut rows = scope.use_resettable::<Rows>()?;
        body(scope, || {
            rows.0 += 3;
            rows.reset().unwrap();
            assert_eq!(rows.0, 0);
        })
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        ["setup", "cheap reset from 3", "cleanup saw passed"]
    );
}

/// Sets up once; every later setup fails.
struct OnlyOnce;

impl Fixture for OnlyOnce {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let journal = Journal::current();
        if journal.entries().iter().any(|entry| entry == "setup") {
            return Err("cannot set up twice".into());
        }
        journal.record("setup");
        scope.add_cleanup(journal.cleanup("cleanup"));
        Ok(OnlyOnce)
    }
}

#[test]
fn a_failed_reset_returns_the_setup_error() {
    let journal = Journal::fresh();
    let scope = Scope::new("failed reset");
    let mut fixture = scope.use_resettable::<OnlyOnce>().unwrap();
    let error = fixture.reset().unwrap_err();
    assert_eq!(error.to_string(), "cannot set up twice");
    scope.finish(testbed::Outcome::Passed).unwrap();
    assert_eq!(journal.entries(), ["setup", "cleanup saw passed"]);
}
