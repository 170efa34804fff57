//! Environment variables changed for one test and restored when it ends, under the
//! process-wide lock.

use std::ffi::{OsStr, OsString};
use std::sync::{Arc, Mutex};

use super::test_locks::{LockKey, Mode, hold};
use crate::core::lock;
use crate::{BoxError, Fixture, Scope};

/// Environment variables set or unset for one test, and restored when it ends.
///
/// Every variable keeps the value it had before its first change; a cleanup puts each
/// back (or removes it) however the test ends, panics included. Two `EnvVars` in one
/// test restore in last-in-first-out order, so the original values win.
///
/// # What the lock protects, and what it cannot
///
/// Setting the environment is `unsafe` since edition 2024: on Linux, a thread that reads
/// it (`getenv`) while another thread writes it is undefined behaviour. `EnvVars` first
/// takes testbed's process-wide lock (shared with [`CurrentDir`](crate::CurrentDir) and
/// [`EnvLock`](crate::EnvLock)) and holds it until every cleanup of the test has run, so:
///
/// - no two testbed tests in one process change the environment at the same time, and a
///   test holding [`EnvLock`](crate::EnvLock) never sees another test's changes;
/// - reads through `std::env` in any thread are synchronised with these writes by the
///   standard library's own lock.
///
/// It cannot stop code that does not take the lock: another test of the same binary
/// running in parallel without testbed, or C code in any thread (DNS resolution, time
/// zones, TLS libraries) calling `getenv` directly. Such a read racing a change is still
/// undefined behaviour. Using `EnvVars` is your promise that nothing in the process
/// reads the environment that way while the test runs; `cargo nextest run`, which runs
/// each test in a process of its own, keeps that promise for you.
///
/// ```
/// use testbed::EnvVars;
///
/// #[testbed::test]
/// fn reads_the_port(env: EnvVars) {
///     env.set("APP_PORT", "8080").unset("APP_DEBUG");
///     assert_eq!(std::env::var("APP_PORT").unwrap(), "8080");
/// }
/// ```
///
/// Driven by hand, the old value is back once the scope finishes:
///
/// ```
/// use testbed::{EnvVars, Outcome, Scope};
///
/// let scope = Scope::new("env example");
/// EnvVars::new(&scope).set("TESTBED_DOC_EXAMPLE", "on");
/// assert_eq!(std::env::var("TESTBED_DOC_EXAMPLE").unwrap(), "on");
/// scope.finish(Outcome::Passed).unwrap();
/// assert!(std::env::var_os("TESTBED_DOC_EXAMPLE").is_none());
/// ```
#[derive(Debug, Clone)]
pub struct EnvVars {
    state: Arc<Mutex<Changes>>,
}

/// What the fixture changed, and whether its test is over.
#[derive(Debug, Default)]
struct Changes {
    /// Each changed variable with its value before the first change, in change order.
    originals: Vec<(OsString, Option<OsString>)>,
    restored: bool,
}

impl EnvVars {
    /// Takes the process-wide lock for the test of `scope` and registers the restoring
    /// cleanup.
    ///
    /// # Panics
    ///
    /// When another test has held the lock for five minutes; the message names it.
    pub fn new(scope: &Scope) -> Self {
        hold(scope, LockKey::Process, Mode::Alone);
        let state = Arc::new(Mutex::new(Changes::default()));
        let restore = state.clone();
        scope.add_cleanup(move |_| {
            let mut changes = lock(&restore);
            changes.restored = true;
            for (key, original) in changes.originals.drain(..).rev() {
                write(&key, original.as_deref());
            }
        });
        EnvVars { state }
    }

    /// Sets `key` to `value` for the rest of the test.
    ///
    /// # Panics
    ///
    /// As [`std::env::set_var`]: when `key` is empty or contains `=` or NUL, or `value`
    /// contains NUL. Also when the test's cleanups have already run.
    pub fn set(&self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &Self {
        self.change(key.as_ref(), Some(value.as_ref()));
        self
    }

    /// Removes `key` for the rest of the test.
    ///
    /// # Panics
    ///
    /// As [`std::env::remove_var`]: when `key` is empty or contains `=` or NUL. Also when
    /// the test's cleanups have already run.
    pub fn unset(&self, key: impl AsRef<OsStr>) -> &Self {
        self.change(key.as_ref(), None);
        self
    }

    fn change(&self, key: &OsStr, value: Option<&OsStr>) {
        // Held across the write so a restoring cleanup never interleaves with it.
        let mut changes = lock(&self.state);
        assert!(
            !changes.restored,
            "`EnvVars` changed `{}` after its test ended (hint: keep the fixture inside the test)",
            key.to_string_lossy()
        );
        if !changes.originals.iter().any(|(seen, _)| seen == key) {
            changes
                .originals
                .push((key.to_owned(), std::env::var_os(key)));
        }
        write(key, value);
    }
}

impl Fixture for EnvVars {
    fn setup(scope: &Scope) -> Result<Self, BoxError> {
        Ok(EnvVars::new(scope))
    }
}

/// Sets or removes one variable; only called with the process-wide lock held.
fn write(key: &OsStr, value: Option<&OsStr>) {
    // SAFETY: not fully provable here, so this states what is and is not guaranteed.
    // Guaranteed: the caller's test holds the process-wide lock (taken in
    // `EnvVars::new`, released only after this test's cleanups ran), so no other
    // testbed fixture writes the environment or reads it under the lock meanwhile, and
    // `std::env` readers in other threads are serialised with this write by std's own
    // environment lock. Not guaranteed: that no thread reads the environment without
    // that lock (C code calling `getenv`, a test not using testbed). Avoiding that is the
    // documented contract of `EnvVars` (see its "What the lock protects" section).
    unsafe {
        match value {
            Some(value) => std::env::set_var(key, value),
            None => std::env::remove_var(key),
        }
    }
}
