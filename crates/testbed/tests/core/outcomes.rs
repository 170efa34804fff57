//! Every cleanup, sync or async, is told how the test ended.

use std::time::Duration;

use testbed::__private::{Step, body_async};
use testbed::Outcome;

use crate::{Journal, panic_with, run_async};

/// How each case's body ends, and the outcome its cleanups must see.
enum Ending {
    Returns,
    ReturnsError,
    Panics,
    FailsSetup,
    PanicsInSetup,
    Hangs,
}

async fn end(ending: &Ending, scope: &testbed::Scope) -> Step {
    match ending {
        Ending::Returns => body_async(scope, async {}).await,
        Ending::ReturnsError => body_async(scope, async { Err::<(), _>("no") }).await,
        Ending::Panics => body_async(scope, async { panic_with("no") }).await,
        Ending::FailsSetup => Err("setup refused".into()),
        Ending::PanicsInSetup => panic!("setup exploded"),
        Ending::Hangs => body_async(scope, std::future::pending::<()>()).await,
    }
}

#[test]
fn sync_and_async_cleanups_see_how_the_test_ended() {
    let cases = [
        (Ending::Returns, Outcome::Passed),
        (Ending::ReturnsError, Outcome::Failed),
        (Ending::Panics, Outcome::Panicked),
        (Ending::FailsSetup, Outcome::Failed),
        (Ending::PanicsInSetup, Outcome::Panicked),
        (Ending::Hangs, Outcome::TimedOut),
    ];
    for (ending, expected) in cases {
        let journal = Journal::fresh();
        // Only the hanging case gets a limit, so a loaded machine cannot time out the others.
        let limit = matches!(ending, Ending::Hangs).then_some(Duration::from_millis(50));
        let report = run_async(limit, |scope| {
            let journal = journal.clone();
            async move {
                scope.add_cleanup(journal.cleanup("sync"));
                let async_journal = journal.clone();
                scope.add_async_cleanup(move |outcome| async move {
                    async_journal.record(format!("async saw {outcome}"));
                });
                end(&ending, &scope).await
            }
        });
        assert_eq!(
            journal.entries(),
            [
                format!("async saw {expected}"),
                format!("sync saw {expected}")
            ]
        );
        assert_eq!(report.is_some(), expected.is_failure(), "{report:?}");
    }
}

#[test]
fn cleanups_of_a_sync_test_see_how_it_ended() {
    use testbed::__private::body;

    type Case = (fn(&testbed::Scope) -> Step, Outcome);
    let cases: [Case; 4] = [
        (|scope| body(scope, || {}), Outcome::Passed),
        (|scope| body(scope, || Err::<(), _>("no")), Outcome::Failed),
        (|scope| body(scope, || panic_with("no")), Outcome::Panicked),
        (|_| Err("setup refused".into()), Outcome::Failed),
    ];
    for (test, expected) in cases {
        let journal = Journal::fresh();
        let report = crate::run_sync(|scope| {
            scope.add_cleanup(journal.cleanup("sync"));
            let async_journal = journal.clone();
            scope.add_async_cleanup(move |outcome| async move {
                async_journal.record(format!("async saw {outcome}"));
            });
            test(scope)
        });
        assert_eq!(
            journal.entries(),
            [
                format!("async saw {expected}"),
                format!("sync saw {expected}")
            ]
        );
        assert_eq!(report.is_some(), expected.is_failure(), "{report:?}");
    }
}
