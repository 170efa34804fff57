//! Locks a test holds from first use until its scope has run every cleanup: the one
//! process-wide lock of the environment and current-directory fixtures, and the locks
//! of overridden globals and registry names.
//!
//! A lock is re-entrant within a test (a test taking it twice, from two fixtures or two
//! threads, holds it once) and exclusive between tests. The guard lives in the test's
//! scope state, which the scope drops only after every restoring cleanup has run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::core::lock;
use crate::{BoxError, Fixture, Scope};

/// How long a test waits for a lock another test holds before failing. Generous: the
/// holder may be a slow test; a test stuck forever should not make others hang silently.
const WAIT_LIMIT: Duration = Duration::from_secs(300);

/// What a lock protects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LockKey {
    /// The process's environment variables and current directory.
    Process,
    /// One [`Global`](crate::Global), by address.
    Global(usize),
    /// One name of one [`Registry`](crate::Registry), by the registry's address.
    RegistryName(usize, String),
}

impl LockKey {
    fn describe(&self) -> String {
        match self {
            LockKey::Process => "the process-wide environment and current-directory lock".into(),
            LockKey::Global(_) => "the lock of an overridden `Global`".into(),
            LockKey::RegistryName(_, name) => format!("the lock of registry name `{name}`"),
        }
    }
}

/// The test holding a lock.
struct Holder {
    test: u64,
    name: String,
}

static HELD: Mutex<BTreeMap<LockKey, Holder>> = Mutex::new(BTreeMap::new());
static RELEASED: Condvar = Condvar::new();
static NEXT_TEST_ID: AtomicU64 = AtomicU64::new(0);

/// Tells tests apart even when two scopes share a name.
struct TestId(u64);

/// The locks this test holds, released when the scope drops its state.
#[derive(Default)]
struct HeldLocks(Vec<LockKey>);

impl Drop for HeldLocks {
    fn drop(&mut self) {
        let mut held = lock(&HELD);
        for key in self.0.drain(..) {
            held.remove(&key);
        }
        drop(held);
        RELEASED.notify_all();
    }
}

fn test_id(scope: &Scope) -> u64 {
    scope.with_slot(
        || TestId(NEXT_TEST_ID.fetch_add(1, Ordering::Relaxed)),
        |id| id.0,
    )
}

/// Takes `key` for the test of `scope` until the scope has finished, waiting for the test
/// that holds it.
///
/// # Panics
///
/// When another test has held it for [`WAIT_LIMIT`]; the message names that test.
pub(crate) fn hold(scope: &Scope, key: LockKey) {
    hold_within(scope, key, WAIT_LIMIT);
}

fn hold_within(scope: &Scope, key: LockKey, limit: Duration) {
    let test = test_id(scope);
    let deadline = Instant::now() + limit;
    let mut held = lock(&HELD);
    loop {
        match held.get(&key) {
            None => break,
            Some(holder) if holder.test == test => return,
            Some(holder) => {
                let now = Instant::now();
                if now >= deadline {
                    panic!(
                        "test `{}` waited {limit:?} for {} held by test `{}` (hint: that test is \
                         stuck or slow while holding it; run it alone, or run tests in separate \
                         processes with `cargo nextest run`)",
                        scope.test_name(),
                        key.describe(),
                        holder.name
                    );
                }
                held = RELEASED
                    .wait_timeout(held, deadline - now)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
        }
    }
    held.insert(
        key.clone(),
        Holder {
            test,
            name: scope.test_name().to_owned(),
        },
    );
    drop(held);
    scope.with_slot(HeldLocks::default, |locks| locks.0.push(key));
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
        hold(scope, LockKey::Process);
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
        LockKey::RegistryName(usize::MAX, format!("process_lock::tests::{name}"))
    }

    #[test]
    fn is_reentrant_within_a_test() {
        let scope = Scope::new("reentrant");
        let child = scope.child();
        hold_within(&scope, unique_key("reentrant"), Duration::from_secs(1));
        hold_within(&child, unique_key("reentrant"), Duration::from_secs(1));
        scope.finish(Outcome::Passed).unwrap();
    }

    #[test]
    fn excludes_another_test_until_the_holder_finishes() {
        let key = unique_key("excludes");
        let first = Scope::new("first");
        hold_within(&first, key.clone(), Duration::from_secs(1));
        let (acquired, acquired_rx) = mpsc::channel();
        let waiter = thread::spawn({
            let key = key.clone();
            move || {
                let second = Scope::new("second");
                hold_within(&second, key, Duration::from_secs(30));
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
        hold_within(&holder, key.clone(), Duration::from_secs(1));
        let message = thread::spawn(move || {
            let waiter = Scope::new("the_waiting_test");
            let panic = std::panic::catch_unwind(|| {
                hold_within(&waiter, key, Duration::from_millis(50));
            })
            .unwrap_err();
            crate::core::panic_message(&*panic)
        })
        .join()
        .unwrap();
        holder.finish(Outcome::Passed).unwrap();
        assert!(message.contains("`the_waiting_test`"), "{message}");
        assert!(
            message.contains("held by test `the_slow_test`"),
            "{message}"
        );
        assert!(message.contains("hint"), "{message}");
    }
}
