//! The overrides and handles leak checks, in process: a `Global` override or `Registry`
//! registration made through a scope nobody finished fails the test that made it and is
//! undone; a test running beside it is never blamed; a handle a library asked to see
//! dropped fails the test that kept it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::Duration;

use testbed::__private::{Step, TestInfo, body};
use testbed::leaks::Category;
use testbed::{Global, Outcome, Registry, Scope};

use crate::{REPORTED, report_of, run_sync};

/// Runs `test` as a sync `#[testbed::test(allow_leaks(...))]` named `name` would.
fn run_named(
    name: &'static str,
    allow: &'static [Category],
    test: impl FnOnce(),
) -> Option<String> {
    let info = TestInfo {
        name,
        timeout: None,
        should_panic: testbed::__private::ShouldPanic::No,
        allow_leaks: allow,
    };
    report_of(|| testbed::__private::run_sync(&info, |scope| -> Step { body(scope, test) }))
}

#[test]
fn an_override_through_an_unfinished_scope_fails_its_test_and_is_undone() {
    static RETRIES: Global<u32> = Global::new(|| 3);
    let report = run_sync(|scope| {
        body(scope, || {
            // A helper's scope, never finished: its cleanup never runs.
            let forgotten = Scope::new("helper scope");
            RETRIES.override_in(&forgotten, 0);
            std::mem::forget(forgotten);
        })
    })
    .expect("the dangling override fails the test");
    crate::assert_in_order(
        &report,
        &[
            &format!("`{REPORTED}` check failed: left 1 leak behind"),
            "- overrides: `Global<u32>` overridden at crates/testbed/tests/core/dangling.rs:",
            " through a scope of `helper scope`, still in effect after the test's cleanups; \
             undone, and its lock freed",
            "allow_leaks(overrides)",
        ],
    );
    assert_eq!(*RETRIES.get(), 3, "the default is back");
    // The lock the forgotten scope held is free: another test overrides at once.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let next = Scope::new("next test");
        RETRIES.override_in(&next, 1);
        next.finish(Outcome::Passed).unwrap();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the next override waited for a lock nobody would release");
}

#[test]
fn a_registration_through_an_unfinished_scope_fails_its_test_and_is_removed() {
    static CODECS: Registry<str> = Registry::new();
    let report = run_sync(|scope| {
        body(scope, || {
            let dropped = Scope::new("codec helper");
            CODECS
                .register_in(&dropped, "fixture-codec", "zstd")
                .unwrap();
            // Dropped without `finish`: the registration stays.
        })
    })
    .expect("the dangling registration fails the test");
    assert!(
        report.contains(
            "- overrides: `fixture-codec` in `Registry<str>` registered at \
             crates/testbed/tests/core/dangling.rs:"
        ),
        "{report}"
    );
    assert!(report.contains("undone, and its lock freed"), "{report}");
    assert!(CODECS.get("fixture-codec").is_none(), "the name is gone");
}

#[test]
fn overrides_through_the_tests_own_scope_are_not_leaks() {
    static LEVEL: Global<u8> = Global::new(|| 1);
    let report = run_sync(|scope| {
        LEVEL.override_in(scope, 2);
        let child = scope.child();
        LEVEL.override_in(&child, 3);
        body(scope, || assert_eq!(*LEVEL.get(), 3))
    });
    assert_eq!(report, None);
    assert_eq!(*LEVEL.get(), 1);
}

/// Two tests side by side in one process: the one that leaves an override fails, the
/// other passes, whichever ends first.
#[test]
fn a_test_running_beside_a_dangling_override_is_never_blamed() {
    static MODE: Global<&'static str> = Global::new(|| "normal");
    let both_started = Arc::new(Barrier::new(2));
    let leaked = Arc::new(AtomicBool::new(false));
    let innocent = {
        let (both_started, leaked) = (both_started.clone(), leaked.clone());
        std::thread::spawn(move || {
            run_named("core::innocent", &[], move || {
                both_started.wait();
                while !leaked.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
    };
    let leaker = run_named("core::leaker", &[], move || {
        both_started.wait();
        MODE.override_in(&Scope::new("leaker helper"), "degraded");
        leaked.store(true, Ordering::SeqCst);
        // Let the innocent test end while the override is in effect.
        std::thread::sleep(Duration::from_millis(50));
    });
    assert_eq!(innocent.join().unwrap(), None, "the innocent test passes");
    let report = leaker.expect("the leaker fails");
    assert!(report.contains("`leaker` check failed"), "{report}");
    assert!(report.contains("`Global<&str>` overridden at"), "{report}");
    assert_eq!(*MODE.get(), "normal");
}

#[test]
fn an_allowed_override_is_left_in_effect() {
    static FLAG: Global<bool> = Global::new(|| false);
    let kept = Arc::new(Mutex::new(None));
    let keep = kept.clone();
    let report = run_named("core::allowed", &[Category::Overrides], move || {
        let scope = Scope::new("lives on");
        FLAG.override_in(&scope, true);
        *keep.lock().unwrap() = Some(scope);
    });
    assert_eq!(report, None);
    assert!(*FLAG.get(), "allowed: not undone");
    let scope = kept.lock().unwrap().take().unwrap();
    scope.finish(Outcome::Passed).unwrap();
    assert!(!*FLAG.get());
}

#[test]
fn a_handle_kept_past_the_test_fails_it() {
    static KEPT: Mutex<Option<Arc<()>>> = Mutex::new(None);
    let report = run_sync(|scope| {
        let session = Arc::new(());
        testbed::leaks::expect_dropped(scope, "a session of the fixture library", &session);
        body(scope, move || {
            *KEPT.lock().unwrap() = Some(session);
        })
    })
    .expect("the kept handle fails the test");
    assert!(
        report.contains(
            "- handles: a session of the fixture library still held after the test's cleanups"
        ),
        "{report}"
    );
    KEPT.lock().unwrap().take();

    let report = run_sync(|scope| {
        let session = Arc::new(());
        testbed::leaks::expect_dropped(scope, "a session dropped in time", &session);
        // A cleanup still holding a clone runs before the check.
        let held = session.clone();
        scope.add_cleanup(move |_| drop(held));
        body(scope, move || drop(session))
    });
    assert_eq!(report, None);
}
