//! The read gate of one [`Global`](super::Global): tests reading it with `get_in` share
//! it, a test overriding it has it alone, each until its scope has run every cleanup.
//!
//! Overriders also take the global's exclusive process lock first (which keeps them one
//! at a time and names the holder when a wait is too long); the gate adds what that lock
//! cannot: readers that exclude overriders without excluding each other. An overrider
//! waiting for readers to leave keeps new readers out, so a steady stream of readers
//! cannot starve it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::Scope;
use crate::core::lock;

/// How long a test waits for the gate before failing. Generous, as for the process
/// locks: the other test may be slow; a stuck one should not hang the run silently.
pub(super) const WAIT_LIMIT: Duration = Duration::from_secs(300);

/// A test holding the gate.
struct Holder {
    test: u64,
    name: String,
}

struct State {
    overrider: Option<Holder>,
    readers: Vec<Holder>,
    /// Overriders waiting for the readers to leave; new readers wait for them.
    waiting_overriders: usize,
}

pub(super) struct Gate {
    state: Mutex<State>,
    changed: Condvar,
}

static NEXT_TEST_ID: AtomicU64 = AtomicU64::new(0);

/// Tells tests apart, the same for every scope and thread of one test.
struct TestId(u64);

/// The gates a test holds, left when the scope drops its state: after its cleanups, so
/// an override is restored before readers get in again.
struct HeldGates {
    test: u64,
    gates: Vec<&'static Gate>,
}

impl Drop for HeldGates {
    fn drop(&mut self) {
        for gate in self.gates.drain(..) {
            gate.leave(self.test);
        }
    }
}

fn test_id(scope: &Scope) -> u64 {
    scope.with_slot(
        || TestId(NEXT_TEST_ID.fetch_add(1, Ordering::Relaxed)),
        |id| id.0,
    )
}

impl Gate {
    pub(super) const fn new() -> Self {
        Gate {
            state: Mutex::new(State {
                overrider: None,
                readers: Vec::new(),
                waiting_overriders: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Lets the test of `scope` read until it ends, waiting while another test overrides
    /// (or waits to override) the global. `what` names the global in a timeout message.
    ///
    /// # Panics
    ///
    /// When the wait exceeds `limit`; the message names the overriding test.
    pub(super) fn enter_shared(&'static self, scope: &Scope, what: &str, limit: Duration) {
        let test = test_id(scope);
        let deadline = Instant::now() + limit;
        let mut state = lock(&self.state);
        let holds = |state: &State| {
            state.overrider.as_ref().is_some_and(|o| o.test == test)
                || state.readers.iter().any(|reader| reader.test == test)
        };
        if holds(&state) {
            return;
        }
        while state.overrider.is_some() || state.waiting_overriders > 0 {
            state = self.wait(state, deadline).unwrap_or_else(|state| {
                let overrider = state
                    .overrider
                    .as_ref()
                    .map_or("(one about to override it)".to_owned(), |o| {
                        format!("`{}`", o.name)
                    });
                drop(state);
                panic!(
                    "test `{}` waited {limit:?} to read `{what}` while test {overrider} \
                     overrides it (hint: that test is stuck or slow; run it alone, or run \
                     tests in separate processes with `cargo nextest run`)",
                    scope.test_name()
                )
            });
        }
        state.readers.push(Holder {
            test,
            name: scope.test_name().to_owned(),
        });
        drop(state);
        self.remember(scope, test);
    }

    /// Gives the test of `scope` the gate alone until it ends, waiting for other tests'
    /// readers to end. Call with the global's exclusive process lock held.
    ///
    /// # Panics
    ///
    /// When the test itself reads the global with `get_in` (an upgrade could deadlock
    /// with another reader upgrading), or when the wait exceeds `limit`; the message
    /// names the readers.
    pub(super) fn enter_alone(&'static self, scope: &Scope, what: &str, limit: Duration) {
        let test = test_id(scope);
        let deadline = Instant::now() + limit;
        let mut state = lock(&self.state);
        if state.overrider.as_ref().is_some_and(|o| o.test == test) {
            return;
        }
        state.waiting_overriders += 1;
        while !state.readers.is_empty() {
            state = self.wait(state, deadline).unwrap_or_else(|mut state| {
                state.waiting_overriders -= 1;
                let readers: Vec<String> = state
                    .readers
                    .iter()
                    .map(|reader| format!("`{}`", reader.name))
                    .collect();
                drop(state);
                self.changed.notify_all();
                panic!(
                    "test `{}` waited {limit:?} to override `{what}` while test(s) {} read it \
                     with `get_in` (hint: those tests are stuck or slow; run them alone, or run \
                     tests in separate processes with `cargo nextest run`)",
                    scope.test_name(),
                    readers.join(", ")
                )
            });
        }
        state.waiting_overriders -= 1;
        state.overrider = Some(Holder {
            test,
            name: scope.test_name().to_owned(),
        });
        drop(state);
        self.remember(scope, test);
    }

    /// Whether the test of `scope` reads the global through the gate.
    pub(super) fn is_read_by(&self, scope: &Scope) -> bool {
        let test = test_id(scope);
        lock(&self.state)
            .readers
            .iter()
            .any(|reader| reader.test == test)
    }

    fn remember(&'static self, scope: &Scope, test: u64) {
        scope.with_slot(
            || HeldGates {
                test,
                gates: Vec::new(),
            },
            |held| held.gates.push(self),
        );
    }

    fn leave(&self, test: u64) {
        let mut state = lock(&self.state);
        state.readers.retain(|reader| reader.test != test);
        if state.overrider.as_ref().is_some_and(|o| o.test == test) {
            state.overrider = None;
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Waits for a change until `deadline`; `Err` with the state when it passed.
    fn wait<'a>(
        &self,
        state: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> Result<MutexGuard<'a, State>, MutexGuard<'a, State>> {
        let now = Instant::now();
        if now >= deadline {
            return Err(state);
        }
        Ok(self
            .changed
            .wait_timeout(state, deadline - now)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0)
    }
}
