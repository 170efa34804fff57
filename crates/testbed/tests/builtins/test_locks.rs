//! The process-wide lock: re-entrant within a test, exclusive between tests, released
//! after the test's restoring cleanups.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use testbed::{EnvLock, EnvVars, Outcome, Scope};

#[test]
fn is_taken_once_per_test_from_any_of_its_threads() {
    let test = Scope::new("lock::threads_of_one_test");
    let _lock = EnvLock::new(&test);
    let same_test = test.clone();
    thread::spawn(move || {
        EnvVars::new(&same_test).set("TESTBED_L1_THREAD", "from a thread of the test");
    })
    .join()
    .unwrap();
    assert_eq!(
        std::env::var("TESTBED_L1_THREAD").unwrap(),
        "from a thread of the test"
    );
    test.finish(Outcome::Passed).unwrap();
    assert_eq!(std::env::var_os("TESTBED_L1_THREAD"), None);
}

#[test]
fn is_released_only_after_every_restoring_cleanup() {
    let holder = Scope::new("lock::release_order");
    let env = EnvVars::new(&holder);
    env.set("TESTBED_L2_ORDER", "set by the holder");
    // Registered after the fixture, so it runs first: the lock must still be held.
    let (probe, probe_rx) = mpsc::channel();
    holder.add_cleanup(move |_| {
        let (got, got_rx) = mpsc::channel();
        let prober = thread::spawn(move || {
            let other = Scope::new("lock::prober");
            let _lock = EnvLock::new(&other);
            got.send(()).unwrap();
            other.finish(Outcome::Passed).unwrap();
        });
        let got_it_during_cleanup = got_rx.recv_timeout(Duration::from_millis(200)).is_ok();
        probe.send((got_it_during_cleanup, got_rx, prober)).unwrap();
    });
    holder.finish(Outcome::Passed).unwrap();
    let (got_it_during_cleanup, got_rx, prober) = probe_rx.recv().unwrap();
    assert!(!got_it_during_cleanup);
    got_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    prober.join().unwrap();
    assert_eq!(std::env::var_os("TESTBED_L2_ORDER"), None);
}
