//! Keeps tests that override the kvs [`Config`](kvs::Config) apart from tests that read
//! it: the config is process-wide and libtest runs tests on parallel threads.
//!
//! A region reads the config once, when it is built, so readers hold the gate only
//! while building; an overriding test holds it from its override until its cleanup has
//! restored the config. The overriding thread may still build regions (it must, to test
//! its override).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;

struct State {
    writer: Option<ThreadId>,
    readers: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    writer: None,
    readers: 0,
});
static CHANGED: Condvar = Condvar::new();

fn lock_state() -> MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn wait(guard: MutexGuard<'static, State>) -> MutexGuard<'static, State> {
    CHANGED
        .wait(guard)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `read` (a region build) while no other thread's test overrides the config.
pub fn reading<R>(read: impl FnOnce() -> R) -> R {
    let me = std::thread::current().id();
    let mut state = lock_state();
    while state.writer.is_some_and(|writer| writer != me) {
        state = wait(state);
    }
    state.readers += 1;
    drop(state);
    // Decrements even if `read` panics, so one failing test cannot wedge the others.
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            lock_state().readers -= 1;
            CHANGED.notify_all();
        }
    }
    let _done = Done;
    read()
}

/// The right to change the config, until dropped.
#[must_use = "the gate reopens when this is dropped: keep it until the config is restored"]
pub struct Overriding(());

/// Waits until no test reads or overrides the config, then keeps others out.
pub fn overriding() -> Overriding {
    let me = std::thread::current().id();
    let mut state = lock_state();
    while state.writer.is_some() || state.readers > 0 {
        state = wait(state);
    }
    state.writer = Some(me);
    Overriding(())
}

impl Drop for Overriding {
    fn drop(&mut self) {
        lock_state().writer = None;
        CHANGED.notify_all();
    }
}
