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

/// Runs `read` in a test of its own on another thread; the receiver gets its value.
fn read_in_another_test(
    global: &'static Global<u32>,
    name: &'static str,
) -> (
    mpsc::Receiver<u32>,
    mpsc::Sender<()>,
    thread::JoinHandle<()>,
) {
    let (seen, seen_rx) = mpsc::channel();
    let (finish, finish_rx) = mpsc::channel::<()>();
    let reader = thread::spawn(move || {
        let test = Scope::new(name);
        seen.send(*global.get_in(&test)).unwrap();
        finish_rx.recv().unwrap();
        test.finish(Outcome::Passed).unwrap();
    });
    (seen_rx, finish, reader)
}

#[test]
fn a_reader_never_sees_another_tests_override() {
    static RATE: Global<u32> = Global::new(|| 100);
    let reader = Scope::new("global::reader");
    assert_eq!(*RATE.get_in(&reader), 100);
    let (overridden, overridden_rx) = mpsc::channel();
    let overrider = thread::spawn(move || {
        let test = Scope::new("global::overrider");
        RATE.override_in(&test, 1);
        overridden.send(*RATE.get()).unwrap();
        test.finish(Outcome::Passed).unwrap();
    });
    assert!(
        overridden_rx
            .recv_timeout(Duration::from_millis(200))
            .is_err(),
        "the override waits for the reader's test"
    );
    assert_eq!(*RATE.get(), 100);
    assert_eq!(*RATE.get_in(&reader), 100);
    reader.finish(Outcome::Passed).unwrap();
    assert_eq!(overridden_rx.recv_timeout(Duration::from_secs(60)), Ok(1));
    overrider.join().unwrap();
    assert_eq!(*RATE.get(), 100);
}

#[test]
fn readers_do_not_wait_for_each_other() {
    static SHARED_READ: Global<u32> = Global::new(|| 7);
    let first = Scope::new("global::first_reader");
    assert_eq!(*SHARED_READ.get_in(&first), 7);
    let (seen, finish, second) = read_in_another_test(&SHARED_READ, "global::second_reader");
    assert_eq!(seen.recv_timeout(Duration::from_secs(60)), Ok(7));
    finish.send(()).unwrap();
    second.join().unwrap();
    first.finish(Outcome::Passed).unwrap();
}

#[test]
fn a_reader_waits_for_another_tests_override_to_end() {
    static TIMEOUT: Global<u32> = Global::new(|| 30);
    let overrider = Scope::new("global::overrides_first");
    TIMEOUT.override_in(&overrider, 1);
    let (seen, finish, reader) = read_in_another_test(&TIMEOUT, "global::reads_later");
    assert!(seen.recv_timeout(Duration::from_millis(200)).is_err());
    overrider.finish(Outcome::Passed).unwrap();
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(60)),
        Ok(30),
        "restored"
    );
    finish.send(()).unwrap();
    reader.join().unwrap();
}

#[test]
fn a_waiting_overrider_keeps_new_readers_out() {
    static LEVEL: Global<u32> = Global::new(|| 0);
    let early = Scope::new("global::early_reader");
    LEVEL.get_in(&early);
    let (overriding, overriding_rx) = mpsc::channel();
    let (finish_override, finish_override_rx) = mpsc::channel::<()>();
    let overrider = thread::spawn(move || {
        let test = Scope::new("global::waiting_overrider");
        LEVEL.override_in(&test, 9);
        overriding.send(()).unwrap();
        finish_override_rx.recv().unwrap();
        test.finish(Outcome::Passed).unwrap();
    });
    // Give the overrider time to start waiting, then a late reader must queue behind it.
    assert!(
        overriding_rx
            .recv_timeout(Duration::from_millis(200))
            .is_err()
    );
    let (late_seen, finish_late, late) = read_in_another_test(&LEVEL, "global::late_reader");
    assert!(
        late_seen.recv_timeout(Duration::from_millis(200)).is_err(),
        "a late reader would starve the waiting overrider"
    );
    early.finish(Outcome::Passed).unwrap();
    overriding_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(late_seen.recv_timeout(Duration::from_millis(100)).is_err());
    finish_override.send(()).unwrap();
    overrider.join().unwrap();
    assert_eq!(late_seen.recv_timeout(Duration::from_secs(60)), Ok(0));
    finish_late.send(()).unwrap();
    late.join().unwrap();
}

#[test]
fn overriding_after_reading_in_the_same_test_is_refused() {
    static MODE: Global<u32> = Global::new(|| 0);
    let report = run_panicking_test("global::reads_then_overrides", |scope| {
        MODE.get_in(scope);
        MODE.override_in(scope, 1);
    });
    assert!(
        report.contains("overrides `testbed::builtins::global::Global<u32>` after reading it"),
        "{report}"
    );
    assert!(
        report.contains("hint: override it before reading it"),
        "{report}"
    );
    assert_eq!(*MODE.get(), 0);
    // The refused test left nothing held: another test overrides at once.
    let next = Scope::new("global::after_the_refusal");
    MODE.override_in(&next, 2);
    next.finish(Outcome::Passed).unwrap();
}

#[test]
fn reading_after_overriding_in_the_same_test_sees_the_override() {
    static LABEL: Global<u32> = Global::new(|| 0);
    let test = Scope::new("global::overrides_then_reads");
    LABEL.override_in(&test, 5);
    assert_eq!(*LABEL.get_in(&test), 5);
    LABEL.override_in(&test.child(), 6);
    assert_eq!(*LABEL.get_in(&test), 6);
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(*LABEL.get(), 0);
}
