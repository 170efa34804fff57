//! The one lock table of the built-in fixtures: locks a test holds from first use until
//! its scope has run every cleanup. The process-wide lock of the environment and
//! current-directory fixtures, the lock of each overridden or guarded `Global`, and the
//! locks of registry names all live here.
//!
//! A lock is held alone (an override, the process lock) or shared (tests reading a
//! `Global` with `get_in`). It is re-entrant within a test (a test taking it twice, from
//! two fixtures or two threads, holds it once); a test waiting to hold it alone keeps
//! new sharers out, so a stream of readers cannot starve it. The guard lives in the
//! test's scope state, which the scope drops only after every restoring cleanup has run.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::core::lock;
use crate::{BoxError, Fixture, Scope};

/// How long a test waits for a lock other tests hold before failing. Generous: the
/// holder may be a slow test; a test stuck forever should not make others hang silently.
pub(crate) const WAIT_LIMIT: Duration = Duration::from_secs(300);

/// What a lock protects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LockKey {
    /// The process's environment variables and current directory.
    Process,
    /// One [`Global`](crate::Global), by address, with its type's name for messages.
    Global(usize, &'static str),
    /// One name of one [`Registry`](crate::Registry), by the registry's address.
    RegistryName(usize, String),
}

impl LockKey {
    fn describe(&self) -> String {
        match self {
            LockKey::Process => "the process-wide environment and current-directory lock".into(),
            LockKey::Global(_, name) => format!(
                "the lock of `{name}` (held alone by an override, shared by `get_in` readers)"
            ),
            LockKey::RegistryName(_, name) => format!("the lock of registry name `{name}`"),
        }
    }
}

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// By this test alone.
    Alone,
    /// With other tests holding it shared.
    Shared,
}

/// A test holding a lock.
struct Holder {
    test: u64,
    name: String,
}

/// Who holds one lock, and who waits to hold it alone.
#[derive(Default)]
struct Entry {
    alone: Option<Holder>,
    shared: Vec<Holder>,
    waiting_alone: usize,
}

impl Entry {
    fn holds(&self, test: u64) -> bool {
        self.alone.as_ref().is_some_and(|h| h.test == test)
            || self.shared.iter().any(|h| h.test == test)
    }

    fn is_free(&self) -> bool {
        self.alone.is_none() && self.shared.is_empty() && self.waiting_alone == 0
    }

    /// The tests in the way of `mode`, for a timeout's message.
    fn blockers(&self, mode: Mode) -> String {
        let names: Vec<String> = self
            .alone
            .iter()
            .chain(match mode {
                Mode::Alone => self.shared.as_slice(),
                Mode::Shared => &[],
            })
            .map(|holder| format!("`{}`", holder.name))
            .collect();
        if names.is_empty() {
            "(one about to hold it alone)".to_owned()
        } else {
            names.join(", ")
        }
    }
}

static TABLE: Mutex<BTreeMap<LockKey, Entry>> = Mutex::new(BTreeMap::new());
static CHANGED: Condvar = Condvar::new();
/// The locks this test holds, released when the scope drops its state.
struct HeldLocks {
    test: u64,
    keys: Vec<LockKey>,
}

impl Drop for HeldLocks {
    fn drop(&mut self) {
        for key in self.keys.drain(..) {
            release_for(self.test, &key);
        }
    }
}

/// Frees `key` if test `test` holds it: a change that outlived its test is undone by
/// the leak checks, and its lock must not stay held by a scope nobody will finish.
pub(crate) fn release_for(test: u64, key: &LockKey) {
    let mut table = lock(&TABLE);
    if let Some(entry) = table.get_mut(key) {
        if entry.alone.as_ref().is_some_and(|h| h.test == test) {
            entry.alone = None;
        }
        entry.shared.retain(|h| h.test != test);
        if entry.is_free() {
            table.remove(key);
        }
    }
    drop(table);
    CHANGED.notify_all();
}

/// Takes `key` in `mode` for the test of `scope` until the scope has finished, waiting
/// for the tests in the way.
///
/// # Panics
///
/// When the wait exceeds [`WAIT_LIMIT`]; the message names the tests in the way.
pub(crate) fn hold(scope: &Scope, key: LockKey, mode: Mode) {
    hold_within(scope, key, mode, WAIT_LIMIT);
}

/// Whether the test of `scope` holds `key` shared (and not alone).
pub(crate) fn holds_shared(scope: &Scope, key: &LockKey) -> bool {
    let test = scope.test_id();
    lock(&TABLE)
        .get(key)
        .is_some_and(|entry| entry.shared.iter().any(|h| h.test == test))
}

pub(crate) fn hold_within(scope: &Scope, key: LockKey, mode: Mode, limit: Duration) {
    let test = scope.test_id();
    let deadline = Instant::now() + limit;
    let mut table = lock(&TABLE);
    let entry = table.entry(key.clone()).or_default();
    if entry.holds(test) {
        return;
    }
    if mode == Mode::Alone {
        entry.waiting_alone += 1;
    }
    loop {
        // Entries without holders or alone-waiters are removed: a shared waiter's may go.
        let entry = table.entry(key.clone()).or_default();
        let in_the_way = match mode {
            Mode::Alone => entry.alone.is_some() || !entry.shared.is_empty(),
            Mode::Shared => entry.alone.is_some() || entry.waiting_alone > 0,
        };
        if !in_the_way {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            let blockers = entry.blockers(mode);
            if mode == Mode::Alone {
                entry.waiting_alone -= 1;
            }
            if entry.is_free() {
                table.remove(&key);
            }
            drop(table);
            CHANGED.notify_all();
            let wanted = match mode {
                Mode::Alone => "alone",
                Mode::Shared => "shared",
            };
            panic!(
                "test `{}` waited {limit:?} to hold {} {wanted} while test(s) {blockers} held it \
                 (hint: those tests are stuck or slow while holding it; run them alone, or run \
                 tests in separate processes with `cargo nextest run`)",
                scope.test_name(),
                key.describe(),
            );
        }
        table = CHANGED
            .wait_timeout(table, deadline - now)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
    }
    let entry = table.entry(key.clone()).or_default();
    let holder = Holder {
        test,
        name: scope.test_name().to_owned(),
    };
    match mode {
        Mode::Alone => {
            entry.waiting_alone -= 1;
            entry.alone = Some(holder);
        }
        Mode::Shared => entry.shared.push(holder),
    }
    drop(table);
    scope.with_slot(
        || HeldLocks {
            test,
            keys: Vec::new(),
        },
        |held| held.keys.push(key),
    );
}

/// Holds, for the whole test, the process-wide lock that [`EnvVars`](crate::EnvVars) and
/// [`CurrentDir`](crate::CurrentDir) take, without changing anything.
///
/// Take it in a test that reads the environment or the current directory and must not
/// see another test's changes (a test of configuration loading, say).
///
/// ```
/// use testbed::{EnvLock, Fixture, Outcome, Scope};
///
/// let scope = Scope::new("reads the environment");
/// let _lock = EnvLock::setup(&scope).unwrap();
/// // No other testbed test changes the environment or the current directory now.
/// let _home = std::env::var_os("HOME");
/// scope.finish(Outcome::Passed).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "the lock is held for the whole test; bind it as `_lock`"]
pub struct EnvLock {
    _held: (),
}

impl EnvLock {
    /// Takes the lock for the test of `scope`, waiting for another test that holds it.
    ///
    /// # Panics
    ///
    /// When another test has held the lock for five minutes; the message names it.
    pub fn new(scope: &Scope) -> Self {
        hold(scope, LockKey::Process, Mode::Alone);
        EnvLock { _held: () }
    }
}

impl Fixture for EnvLock {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        Ok(EnvLock::new(scope))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;

    use super::*;
    use crate::Outcome;

    fn unique_key(name: &str) -> LockKey {
        LockKey::RegistryName(usize::MAX, format!("test_locks::tests::{name}"))
    }

    #[test]
    fn is_reentrant_within_a_test() {
        let scope = Scope::new("reentrant");
        let child = scope.child();
        hold_within(
            &scope,
            unique_key("reentrant"),
            Mode::Alone,
            Duration::from_secs(1),
        );
        hold_within(
            &child,
            unique_key("reentrant"),
            Mode::Alone,
            Duration::from_secs(1),
        );
        scope.finish(Outcome::Passed).unwrap();
    }

    #[test]
    fn excludes_another_test_until_the_holder_finishes() {
        let key = unique_key("excludes");
        let first = Scope::new("first");
        hold_within(&first, key.clone(), Mode::Alone, Duration::from_secs(1));
        let (acquired, acquired_rx) = mpsc::channel();
        let waiter = thread::spawn({
            let key = key.clone();
            move || {
                let second = Scope::new("second");
                hold_within(&second, key, Mode::Alone, Duration::from_secs(30));
                acquired.send(()).unwrap();
                second.finish(Outcome::Passed).unwrap();
            }
        });
        assert!(
            acquired_rx
                .recv_timeout(Duration::from_millis(200))
                .is_err()
        );
        first.finish(Outcome::Passed).unwrap();
        acquired_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        waiter.join().unwrap();
    }

    #[test]
    fn a_waiter_gives_up_naming_the_holder() {
        let key = unique_key("gives_up");
        let holder = Scope::new("the_slow_test");
        hold_within(&holder, key.clone(), Mode::Alone, Duration::from_secs(1));
        let message = thread::spawn(move || {
            let waiter = Scope::new("the_waiting_test");
            let panic = std::panic::catch_unwind(|| {
                hold_within(&waiter, key, Mode::Alone, Duration::from_millis(50));
            })
            .unwrap_err();
            crate::core::panic_message(&*panic)
        })
        .join()
        .unwrap();
        holder.finish(Outcome::Passed).unwrap();
        assert!(message.contains("`the_waiting_test`"), "{message}");
        assert!(
            message.contains("while test(s) `the_slow_test` held it"),
            "{message}"
        );
        assert!(message.contains("hint"), "{message}");
    }
}
