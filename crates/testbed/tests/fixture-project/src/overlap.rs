//! Two tests that run side by side under `--test-threads=2`: `leaker` leaves a thread,
//! `innocent` only waits. Neither may fail for the thread: under `cargo test` it cannot
//! be pinned on either, so both only warn, naming the other as a suspect.

use std::time::Duration;

#[testbed::test]
#[ignore = "run by testbed's core suite"]
fn leaker() {
    std::thread::sleep(Duration::from_millis(100));
    std::thread::Builder::new()
        .name("overlap-leaker".into())
        .spawn(|| std::thread::sleep(Duration::from_secs(60)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

#[testbed::test]
#[ignore = "run by testbed's core suite"]
fn innocent() {
    std::thread::sleep(Duration::from_millis(400));
}
