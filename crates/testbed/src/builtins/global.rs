//! Typed globals that application code reads and a test can override for its own length.

use std::fmt;
use std::sync::{Arc, RwLock};

use super::process_lock::{LockKey, hold};
use crate::Scope;

/// A process-wide value with a default, which a test can replace for its own length.
///
/// Application code declares it in a `static` and reads it with [`get`](Global::get);
/// a test swaps it with [`override_in`](Global::override_in), and a cleanup puts the
/// previous value back however the test ends. A test overriding a global holds that
/// global's lock until its cleanups have run, so tests overriding the same global run
/// one after the other, never interleaved. A test that only reads it is not held back,
/// and may see another test's override: make globals you override in tests ones that
/// other tests do not depend on, or override them in every test that does.
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

    /// Replaces the value until the test of `scope` ends; a cleanup restores the value it
    /// replaced. Overriding again in the same test stacks: each cleanup undoes one.
    ///
    /// # Panics
    ///
    /// When another test has overridden this global and held it for five minutes; the
    /// message names that test.
    pub fn override_in(&'static self, scope: &Scope, value: T) {
        hold(scope, LockKey::Global(self as *const Self as usize));
        let replaced = self.replace(Some(Arc::new(value)));
        scope.add_cleanup(move |_| {
            self.replace(replaced);
        });
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
