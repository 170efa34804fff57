//! `EnvVars`: changes restored after the test, panics included, under the process lock.

use std::ffi::OsString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use testbed::{CurrentDir, EnvLock, EnvVars, Outcome, Scope};

use crate::support::run_panicking_test;

fn var(key: &str) -> Option<OsString> {
    std::env::var_os(key)
}

#[test]
fn set_and_unset_are_restored_after_a_pass() {
    let test = Scope::new("env::restored_after_pass");
    EnvVars::new(&test)
        .set("TESTBED_T1_KEPT", "original")
        .set("TESTBED_T1_REMOVED", "original");
    let inner = test.child();
    EnvVars::new(&inner)
        .set("TESTBED_T1_KEPT", "changed")
        .unset("TESTBED_T1_REMOVED")
        .set("TESTBED_T1_NEW", "new");
    assert_eq!(var("TESTBED_T1_KEPT").unwrap(), "changed");
    assert_eq!(var("TESTBED_T1_REMOVED"), None);
    inner.finish(Outcome::Passed).unwrap();
    assert_eq!(var("TESTBED_T1_KEPT").unwrap(), "original");
    assert_eq!(var("TESTBED_T1_REMOVED").unwrap(), "original");
    assert_eq!(var("TESTBED_T1_NEW"), None);
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(var("TESTBED_T1_KEPT"), None);
    assert_eq!(var("TESTBED_T1_REMOVED"), None);
}

#[test]
fn changes_are_restored_after_a_panicking_body() {
    let report = run_panicking_test("env::panicking", |scope| {
        let env = EnvVars::new(scope);
        env.set("TESTBED_T2_PANIC", "during the test");
        env.set("TESTBED_T2_PANIC", "changed twice");
        assert_eq!(var("TESTBED_T2_PANIC").unwrap(), "changed twice");
    });
    assert!(report.contains("panicked on purpose"), "{report}");
    assert_eq!(var("TESTBED_T2_PANIC"), None);
}

#[test]
fn two_fixtures_in_one_test_restore_the_original_value() {
    let test = Scope::new("env::two_fixtures");
    let first = EnvVars::new(&test);
    first.set("TESTBED_T3_TWICE", "first");
    let second = EnvVars::new(&test);
    second.set("TESTBED_T3_TWICE", "second");
    first.set("TESTBED_T3_TWICE", "first again");
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(var("TESTBED_T3_TWICE"), None);
}

#[test]
fn changing_after_the_test_ended_panics() {
    let test = Scope::new("env::after_end");
    let env = EnvVars::new(&test);
    test.finish(Outcome::Passed).unwrap();
    let panic = catch_unwind(AssertUnwindSafe(|| {
        env.set("TESTBED_T4_LATE", "late");
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("after its test ended"), "{message}");
    assert_eq!(var("TESTBED_T4_LATE"), None);
}

#[test]
fn another_test_waits_until_the_holder_finished_restoring() {
    let holder = Scope::new("env::holder");
    EnvVars::new(&holder).set("TESTBED_T5_HELD", "holder's");
    let (seen, seen_rx) = mpsc::channel();
    let other = thread::spawn(move || {
        let waiter = Scope::new("env::waiter");
        let _cwd = CurrentDir::new(&waiter).unwrap();
        seen.send(var("TESTBED_T5_HELD")).unwrap();
        waiter.finish(Outcome::Passed).unwrap();
    });
    assert!(seen_rx.recv_timeout(Duration::from_millis(200)).is_err());
    holder.finish(Outcome::Passed).unwrap();
    let seen_by_waiter = seen_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    other.join().unwrap();
    assert_eq!(seen_by_waiter, None);
}

#[testbed::test]
fn env_twice_cwd_and_lock_in_one_test_do_not_deadlock(
    first: EnvVars,
    second: EnvVars,
    cwd: CurrentDir,
    _lock: EnvLock,
) {
    first.set("TESTBED_T6_DEADLOCK", "1");
    second.set("TESTBED_T6_DEADLOCK", "2");
    assert_eq!(var("TESTBED_T6_DEADLOCK").unwrap(), "2");
    assert_eq!(std::env::current_dir().unwrap(), cwd.original());
}
