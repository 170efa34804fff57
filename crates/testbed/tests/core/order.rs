//! Cleanups run last-in-first-out and exactly once; a child scope's cleanups run as one
//! step of its parent's order.

use testbed::__private::{body, setup};
use testbed::{BoxError, Fixture, Outcome, Scope};

use crate::{Journal, run_async, run_sync};

#[test]
fn cleanups_run_last_in_first_out() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        for name in ["first", "second", "third"] {
            scope.add_cleanup(journal.cleanup(name));
        }
        body(scope, || journal.record("body"))
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        [
            "body",
            "third saw passed",
            "second saw passed",
            "first saw passed"
        ]
    );
}

#[test]
fn sync_and_async_cleanups_share_one_order_in_a_sync_test() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        scope.add_cleanup(journal.cleanup("sync 1"));
        let async_journal = journal.clone();
        scope.add_async_cleanup(move |outcome| async move {
            // A tokio timer: async cleanups of sync tests get a real runtime.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            async_journal.record(format!("async 2 saw {outcome}"));
        });
        scope.add_cleanup(journal.cleanup("sync 3"));
        body(scope, || {})
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        [
            "sync 3 saw passed",
            "async 2 saw passed",
            "sync 1 saw passed"
        ]
    );
}

#[test]
fn sync_and_async_cleanups_share_one_order_in_an_async_test() {
    let journal = Journal::fresh();
    let report = run_async(None, |scope| {
        let journal = journal.clone();
        async move {
            scope.add_cleanup(journal.cleanup("sync 1"));
            let async_journal = journal.clone();
            scope.add_async_cleanup(move |outcome| async move {
                tokio::task::yield_now().await;
                async_journal.record(format!("async 2 saw {outcome}"));
            });
            scope.add_cleanup(journal.cleanup("sync 3"));
            testbed::__private::body_async(&scope, async {}).await
        }
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        [
            "sync 3 saw passed",
            "async 2 saw passed",
            "sync 1 saw passed"
        ]
    );
}

#[test]
fn finishing_a_scope_twice_runs_each_cleanup_once() {
    let journal = Journal::fresh();
    let scope = Scope::new("twice");
    scope.add_cleanup(journal.cleanup("only"));
    scope.finish(Outcome::Passed).unwrap();
    scope.finish(Outcome::Failed).unwrap();
    assert_eq!(journal.entries(), ["only saw passed"]);
}

#[test]
fn a_child_scope_runs_as_one_step_in_its_parents_order() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        scope.add_cleanup(journal.cleanup("parent before"));
        let child = scope.child();
        child.add_cleanup(journal.cleanup("child 1"));
        let grandchild = child.child();
        grandchild.add_cleanup(journal.cleanup("grandchild"));
        scope.add_cleanup(journal.cleanup("parent after"));
        // Registered after the parent's last cleanup, still run inside the child's step.
        child.add_cleanup(journal.cleanup("child 2"));
        body(scope, || {})
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        [
            "parent after saw passed",
            "child 2 saw passed",
            "grandchild saw passed",
            "child 1 saw passed",
            "parent before saw passed",
        ]
    );
}

#[test]
fn a_child_finished_early_is_not_run_again_by_its_parent() {
    let journal = Journal::fresh();
    let parent = Scope::new("early child");
    parent.add_cleanup(journal.cleanup("parent"));
    let child = parent.child();
    child.add_cleanup(journal.cleanup("child"));
    child.finish(Outcome::Passed).unwrap();
    parent.finish(Outcome::Failed).unwrap();
    assert_eq!(journal.entries(), ["child saw passed", "parent saw failed"]);
}

/// Registers one cleanup; used inside [`Outer`].
struct Inner;

impl Fixture for Inner {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        scope.add_cleanup(Journal::current().cleanup("inner"));
        Ok(Inner)
    }
}

/// A fixture built from a fixture, with cleanups of its own on both sides of it.
struct Outer;

impl Fixture for Outer {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let journal = Journal::current();
        scope.add_cleanup(journal.cleanup("outer before"));
        let Inner = scope.use_fixture::<Inner>()?;
        scope.add_cleanup(journal.cleanup("outer after"));
        Ok(Outer)
    }
}

#[test]
fn use_fixture_nests_the_inner_fixtures_cleanups_in_order() {
    let journal = Journal::fresh();
    let report = run_sync(|scope| {
        scope.add_cleanup(journal.cleanup("test before"));
        let Outer = setup::<Outer>(scope)?;
        scope.add_cleanup(journal.cleanup("test after"));
        body(scope, || {})
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        [
            "test after saw passed",
            "outer after saw passed",
            "inner saw passed",
            "outer before saw passed",
            "test before saw passed",
        ]
    );
}

/// An async fixture built from an async fixture.
struct AsyncOuter;

impl testbed::AsyncFixture for AsyncOuter {
    async fn setup(scope: &Scope) -> Result<Self, BoxError> {
        let journal = Journal::current();
        scope.add_cleanup(journal.cleanup("async outer before"));
        let Inner = scope.use_async_fixture::<Inner>().await?;
        let async_journal = journal.clone();
        scope.add_async_cleanup(move |outcome| async move {
            async_journal.record(format!("async outer after saw {outcome}"));
        });
        Ok(AsyncOuter)
    }
}

#[test]
fn use_async_fixture_nests_the_inner_fixtures_cleanups_in_order() {
    let journal = Journal::fresh();
    let report = run_async(None, |scope| async move {
        let AsyncOuter = testbed::__private::setup_async::<AsyncOuter>(&scope).await?;
        testbed::__private::body_async(&scope, async {}).await
    });
    assert_eq!(report, None);
    assert_eq!(
        journal.entries(),
        [
            "async outer after saw passed",
            "inner saw passed",
            "async outer before saw passed",
        ]
    );
}
