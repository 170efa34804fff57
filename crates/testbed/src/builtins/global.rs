//! Typed globals that application code reads and a test can override for its own length,
//! or read with other tests' overrides kept out.

use std::any::type_name;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::in_effect;
use super::test_locks::{LockKey, Mode, WAIT_LIMIT, hold, hold_within, holds_shared};
use crate::Scope;

/// A process-wide value with a default, which a test can replace for its own length.
///
/// Application code declares it in a `static` and reads it with [`get`](Global::get);
/// a test swaps it with [`override_in`](Global::override_in), and a cleanup puts the
/// previous value back however the test ends. A test overriding a global holds that
/// global's lock until its cleanups have run, so tests overriding the same global run
/// one after the other, never interleaved.
///
/// A test that reads the global with plain [`get`](Global::get) is not held back, and may
/// see another test's override. A test that must not reads it with
/// [`get_in`](Global::get_in): readers share the global's lock until their own test ends,
/// overriders wait for them (and new readers wait for a waiting overrider), so such a
/// reader sees the default, or its own test's override, for its whole length.
///
/// One rule keeps a test from deadlocking itself: a test that read a global with
/// `get_in` must not override it afterwards (two such tests would each wait for the
/// other to stop reading); that override panics saying so. Override first, then read:
/// an override includes the right to read, and `get_in` after it returns the override.
///
/// ```
/// use std::time::Duration;
/// use testbed::{Global, Outcome, Scope};
///
/// // Application code.
/// static RETRY_DELAY: Global<Duration> = Global::new(|| Duration::from_secs(5));
///
/// fn retry_delay() -> Duration {
///     *RETRY_DELAY.get()
/// }
///
/// // A test.
/// let scope = Scope::new("fast retries");
/// RETRY_DELAY.override_in(&scope, Duration::from_millis(1));
/// assert_eq!(retry_delay(), Duration::from_millis(1));
/// scope.finish(Outcome::Passed).unwrap();
/// assert_eq!(retry_delay(), Duration::from_secs(5));
/// ```
pub struct Global<T> {
    default: fn() -> T,
    /// `None` until first read or override.
    value: RwLock<Option<Arc<T>>>,
}

impl<T> Global<T> {
    /// A global whose value is `default()` until a test overrides it; `default` runs on
    /// first use.
    pub const fn new(default: fn() -> T) -> Self {
        Global {
            default,
            value: RwLock::new(None),
        }
    }
}

impl<T: Send + Sync + 'static> Global<T> {
    /// The current value: a test's override, or the default.
    pub fn get(&self) -> Arc<T> {
        if let Some(value) = &*self.value.read().unwrap_or_else(|p| p.into_inner()) {
            return value.clone();
        }
        let mut value = self.value.write().unwrap_or_else(|p| p.into_inner());
        value
            .get_or_insert_with(|| Arc::new((self.default)()))
            .clone()
    }

    /// The current value, with overrides by other tests kept out until the test of
    /// `scope` ends: waits while another test overrides the global, then holds it shared
    /// with other readers, so every later read in this test (with `get_in` or
    /// [`get`](Global::get)) sees the default, or this test's own override.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use testbed::{Global, Outcome, Scope};
    ///
    /// static REGION: Global<&'static str> = Global::new(|| "eu-west");
    ///
    /// let reader = Scope::new("reads the region");
    /// assert_eq!(*REGION.get_in(&reader), "eu-west");
    ///
    /// let (overridden, done) = mpsc::channel();
    /// let overrider = std::thread::spawn(move || {
    ///     let test = Scope::new("overrides the region");
    ///     REGION.override_in(&test, "us-east"); // waits for the reader's test to end
    ///     overridden.send(()).unwrap();
    ///     test.finish(Outcome::Passed).unwrap();
    /// });
    /// assert!(done.recv_timeout(Duration::from_millis(100)).is_err());
    /// assert_eq!(*REGION.get(), "eu-west", "the reader never sees the override");
    /// reader.finish(Outcome::Passed).unwrap();
    /// done.recv().unwrap();
    /// overrider.join().unwrap();
    /// ```
    ///
    /// # Panics
    ///
    /// When another test has overridden this global and held it for five minutes; the
    /// message names that test.
    pub fn get_in(&'static self, scope: &Scope) -> Arc<T> {
        hold(scope, self.lock_key(), Mode::Shared);
        self.get()
    }

    /// The key of this global's lock in the built-in fixtures' lock table: held alone by
    /// an overriding test, shared by tests reading it with `get_in`.
    fn lock_key(&'static self) -> LockKey {
        LockKey::Global(self as *const Self as usize, type_name::<Self>())
    }

    /// Replaces the value until the test of `scope` ends; a cleanup restores the value it
    /// replaced. Overriding again in the same test stacks: each cleanup undoes one. Waits
    /// for other tests overriding the global, and for other tests reading it with
    /// [`get_in`](Global::get_in), to end.
    ///
    /// # Panics
    ///
    /// When the test of `scope` already read this global with `get_in` (override before
    /// reading instead); when another test has overridden this global, or read it with
    /// `get_in`, for five minutes; the message names that test.
    #[track_caller]
    pub fn override_in(&'static self, scope: &Scope, value: T) {
        self.override_within(scope, value, WAIT_LIMIT);
    }

    #[track_caller]
    fn override_within(&'static self, scope: &Scope, value: T, limit: Duration) {
        if holds_shared(scope, &self.lock_key()) {
            panic!(
                "test `{}` overrides `{}` after reading it with `get_in` (hint: override it \
                 before reading it: an override includes the right to read, while a reader \
                 that overrides could wait forever for another reader doing the same)",
                scope.test_name(),
                type_name::<Self>()
            );
        }
        hold_within(scope, self.lock_key(), Mode::Alone, limit);
        let ours = Arc::new(value);
        let replaced = self.replace(Some(ours.clone()));
        in_effect::record(
            scope,
            format!(
                "`Global<{}>` overridden at {}",
                type_name::<T>(),
                Location::caller()
            ),
            self.lock_key(),
            move || {
                self.replace(replaced);
            },
            move || self.holds(&ours),
        );
    }

    /// Whether the current value is `value` itself.
    fn holds(&self, value: &Arc<T>) -> bool {
        self.value
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, value))
    }

    fn replace(&self, value: Option<Arc<T>>) -> Option<Arc<T>> {
        std::mem::replace(
            &mut *self.value.write().unwrap_or_else(|p| p.into_inner()),
            value,
        )
    }
}

impl<T: fmt::Debug> fmt::Debug for Global<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.value.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("Global").field("value", &*value).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::thread;

    use super::*;
    use crate::Outcome;
    use crate::core::panic_message;

    fn panic_of(run: impl FnOnce()) -> String {
        panic_message(&*catch_unwind(AssertUnwindSafe(run)).unwrap_err())
    }

    #[test]
    fn an_overrider_gives_up_naming_the_readers_and_lets_readers_in_again() {
        static WATCHED: Global<u8> = Global::new(|| 0);
        let reader = Scope::new("the_slow_reader");
        WATCHED.get_in(&reader);
        let message = thread::spawn(|| {
            let overrider = Scope::new("the_impatient_overrider");
            let message = panic_of(|| {
                WATCHED.override_within(&overrider, 1, Duration::from_millis(50));
            });
            overrider.finish(Outcome::Failed).unwrap();
            message
        })
        .join()
        .unwrap();
        assert!(
            message.contains("`the_impatient_overrider` waited"),
            "{message}"
        );
        assert!(
            message.contains("while test(s) `the_slow_reader` held it"),
            "{message}"
        );
        assert!(message.contains("hint"), "{message}");
        // The overrider no longer counts as waiting: another reader gets in.
        let other = Scope::new("another_reader");
        WATCHED.get_in(&other);
        other.finish(Outcome::Passed).unwrap();
        reader.finish(Outcome::Passed).unwrap();
    }

    #[test]
    fn a_reader_gives_up_naming_the_overrider() {
        static GUARDED: Global<u8> = Global::new(|| 0);
        let overrider = Scope::new("the_slow_overrider");
        GUARDED.override_in(&overrider, 1);
        let message = thread::spawn(|| {
            let reader = Scope::new("the_impatient_reader");
            panic_of(|| {
                hold_within(
                    &reader,
                    GUARDED.lock_key(),
                    Mode::Shared,
                    Duration::from_millis(50),
                )
            })
        })
        .join()
        .unwrap();
        overrider.finish(Outcome::Passed).unwrap();
        assert!(
            message.contains("`the_impatient_reader` waited"),
            "{message}"
        );
        assert!(
            message.contains("shared while test(s) `the_slow_overrider` held it"),
            "{message}"
        );
    }
}
