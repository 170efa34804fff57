//! `Global`: a default, per-test overrides restored afterwards, one test at a time.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use testbed::{Global, Outcome, Scope};

use crate::support::run_panicking_test;

#[test]
fn reads_the_default_until_overridden_and_again_after() {
    static LIMIT: Global<u32> = Global::new(|| 10);
    assert_eq!(*LIMIT.get(), 10);
    let test = Scope::new("global::override");
    LIMIT.override_in(&test, 3);
    assert_eq!(*LIMIT.get(), 3);
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(*LIMIT.get(), 10);
}

#[test]
fn overrides_in_one_test_stack() {
    static NAME: Global<String> = Global::new(|| "default".to_owned());
    let test = Scope::new("global::stacked");
    NAME.override_in(&test, "first".to_owned());
    let inner = test.child();
    NAME.override_in(&inner, "second".to_owned());
    assert_eq!(*NAME.get(), "second");
    inner.finish(Outcome::Passed).unwrap();
    assert_eq!(*NAME.get(), "first");
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(*NAME.get(), "default");
}

#[test]
fn is_restored_after_a_panicking_body() {
    static MODE: Global<&'static str> = Global::new(|| "production");
    let report = run_panicking_test("global::panicking", |scope| {
        MODE.override_in(scope, "test");
        assert_eq!(*MODE.get(), "test");
    });
    assert!(report.contains("panicked on purpose"), "{report}");
    assert_eq!(*MODE.get(), "production");
}

#[test]
fn tests_overriding_the_same_global_do_not_interleave() {
    static SHARED: Global<u32> = Global::new(|| 0);
    let first = Scope::new("global::first");
    SHARED.override_in(&first, 1);
    let (seen, seen_rx) = mpsc::channel();
    let second = thread::spawn(move || {
        let test = Scope::new("global::second");
        SHARED.override_in(&test, 2);
        seen.send(*SHARED.get()).unwrap();
        test.finish(Outcome::Passed).unwrap();
    });
    assert!(seen_rx.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(*SHARED.get(), 1);
    first.finish(Outcome::Passed).unwrap();
    assert_eq!(seen_rx.recv_timeout(Duration::from_secs(60)).unwrap(), 2);
    second.join().unwrap();
    assert_eq!(*SHARED.get(), 0);
}

#[test]
fn different_globals_do_not_wait_for_each_other() {
    static LEFT: Global<u8> = Global::new(|| 0);
    static RIGHT: Global<u8> = Global::new(|| 0);
    let first = Scope::new("global::left");
    LEFT.override_in(&first, 1);
    thread::spawn(|| {
        let second = Scope::new("global::right");
        RIGHT.override_in(&second, 1);
        second.finish(Outcome::Passed).unwrap();
    })
    .join()
    .unwrap();
    first.finish(Outcome::Passed).unwrap();
    assert_eq!((*LEFT.get(), *RIGHT.get()), (0, 0));
}
