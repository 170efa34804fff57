//! Name-to-value registries that application code looks its plugins up in, and that a
//! test can extend or override for its own length.

use std::any::type_name;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::in_effect;
use super::test_locks::{LockKey, Mode, hold};
use crate::Scope;

/// A name could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryRegisterError {
    /// [`Registry::register`] was given a name registered already.
    #[error(
        "register `{name}`: the name is already registered (hint: register each name once, at startup)"
    )]
    AlreadyRegistered {
        /// The name.
        name: String,
    },
    /// [`Registry::register_in`] was given a name application code registered: the test
    /// would silently hide it.
    #[error(
        "register `{name}` for a test: application code registered that name (hint: pick a name of the test's own, or call `Registry::override_in` to replace it on purpose)"
    )]
    WouldShadow {
        /// The name.
        name: String,
    },
}

/// The values under one name: the permanent one, and those tests put over it.
struct Entry<T: ?Sized> {
    permanent: Option<Arc<T>>,
    /// Values of the one test holding this name's lock, latest last.
    for_test: Vec<Arc<T>>,
}

impl<T: ?Sized> Entry<T> {
    fn current(&self) -> Option<&Arc<T>> {
        self.for_test.last().or(self.permanent.as_ref())
    }
}

/// A process-wide map from names to values (backends, codecs, plugins), usable in a
/// `static`, which a test can extend or override for its own length.
///
/// Application code registers values for good with [`register`](Registry::register)
/// and looks them up with [`get`](Registry::get), which costs a read lock and an `Arc`
/// clone. A test adds a name of its own with [`register_in`](Registry::register_in), or
/// replaces a registered value on purpose with [`override_in`](Registry::override_in);
/// a cleanup removes or restores it however the test ends.
///
/// Rules: a name application code registered is never shadowed by accident
/// (`register_in` refuses it, `override_in` is the explicit way); a test changing a name
/// holds that name's lock until its cleanups have run, so two tests never change the
/// same name at once. While a test has it registered, a name is visible to every thread
/// of the process: give test-only entries names no other test looks up.
///
/// Values may be unsized: a `Registry<dyn Backend>` takes `Arc<dyn Backend>` (or
/// `Box<dyn Backend>`) values.
///
/// ```
/// use std::sync::Arc;
/// use testbed::{Outcome, Registry, Scope};
///
/// trait Store: Send + Sync {
///     fn kind(&self) -> &'static str;
/// }
/// struct Disk;
/// impl Store for Disk {
///     fn kind(&self) -> &'static str { "disk" }
/// }
/// struct Broken;
/// impl Store for Broken {
///     fn kind(&self) -> &'static str { "broken" }
/// }
///
/// static STORES: Registry<dyn Store> = Registry::new();
///
/// // Application code, at startup.
/// STORES.register("disk", Arc::new(Disk) as Arc<dyn Store>).unwrap();
///
/// // A test.
/// let scope = Scope::new("store failures");
/// STORES.register_in(&scope, "broken", Arc::new(Broken) as Arc<dyn Store>).unwrap();
/// assert_eq!(STORES.get("broken").unwrap().kind(), "broken");
/// assert_eq!(STORES.names(), ["broken", "disk"]);
/// scope.finish(Outcome::Passed).unwrap();
/// assert!(STORES.get("broken").is_none());
/// ```
pub struct Registry<T: ?Sized> {
    entries: RwLock<BTreeMap<String, Entry<T>>>,
}

impl<T: ?Sized> Registry<T> {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry {
            entries: RwLock::new(BTreeMap::new()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Entry<T>>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Entry<T>>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl<T: ?Sized> Default for Registry<T> {
    fn default() -> Self {
        Registry::new()
    }
}

impl<T: ?Sized + Send + Sync + 'static> Registry<T> {
    /// Registers `value` under `name` for good.
    pub fn register(
        &self,
        name: impl Into<String>,
        value: impl Into<Arc<T>>,
    ) -> Result<(), RegistryRegisterError> {
        let name = name.into();
        let mut entries = self.write();
        let entry = entries.entry(name.clone()).or_insert_with(|| Entry {
            permanent: None,
            for_test: Vec::new(),
        });
        if entry.permanent.is_some() {
            return Err(RegistryRegisterError::AlreadyRegistered { name });
        }
        entry.permanent = Some(value.into());
        Ok(())
    }

    /// The value under `name`: a test's, if one is registered, or the permanent one.
    pub fn get(&self, name: &str) -> Option<Arc<T>> {
        self.read().get(name).and_then(Entry::current).cloned()
    }

    /// Every registered name, sorted, test-only names included.
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Registers `value` under `name` until the test of `scope` ends.
    ///
    /// Refuses a name application code registered with
    /// [`RegistryRegisterError::WouldShadow`]; registering a name again in the same test
    /// stacks, each cleanup undoing one.
    ///
    /// # Panics
    ///
    /// When another test has registered `name` and held it for five minutes; the message
    /// names that test.
    #[track_caller]
    pub fn register_in(
        &'static self,
        scope: &Scope,
        name: impl Into<String>,
        value: impl Into<Arc<T>>,
    ) -> Result<(), RegistryRegisterError> {
        self.put_for_test(scope, name.into(), value.into(), false)
    }

    /// Puts `value` under `name` until the test of `scope` ends, hiding any permanent
    /// value, which the cleanup brings back.
    ///
    /// ```
    /// use testbed::{Outcome, Registry, Scope};
    ///
    /// static GREETINGS: Registry<String> = Registry::new();
    /// GREETINGS.register("en", "hello".to_owned()).unwrap();
    ///
    /// let scope = Scope::new("override");
    /// GREETINGS.override_in(&scope, "en", "howdy".to_owned());
    /// assert_eq!(*GREETINGS.get("en").unwrap(), "howdy");
    /// scope.finish(Outcome::Passed).unwrap();
    /// assert_eq!(*GREETINGS.get("en").unwrap(), "hello");
    /// ```
    ///
    /// # Panics
    ///
    /// As [`register_in`](Registry::register_in).
    #[track_caller]
    pub fn override_in(
        &'static self,
        scope: &Scope,
        name: impl Into<String>,
        value: impl Into<Arc<T>>,
    ) {
        self.put_for_test(scope, name.into(), value.into(), true)
            .expect("overriding never refuses a name");
    }

    #[track_caller]
    fn put_for_test(
        &'static self,
        scope: &Scope,
        name: String,
        value: Arc<T>,
        may_shadow: bool,
    ) -> Result<(), RegistryRegisterError> {
        let key = LockKey::RegistryName(self as *const Self as *const () as usize, name.clone());
        hold(scope, key.clone(), Mode::Alone);
        let mut entries = self.write();
        let entry = entries.entry(name.clone()).or_insert_with(|| Entry {
            permanent: None,
            for_test: Vec::new(),
        });
        if entry.permanent.is_some() && !may_shadow {
            return Err(RegistryRegisterError::WouldShadow { name });
        }
        entry.for_test.push(value.clone());
        drop(entries);
        let how = if may_shadow {
            "overridden"
        } else {
            "registered"
        };
        let what = format!(
            "`{name}` in `Registry<{}>` {how} at {}",
            type_name::<T>(),
            Location::caller()
        );
        // Removing exactly this value is right whatever was put over it since.
        in_effect::record(
            scope,
            what,
            key,
            move || self.remove_for_test(&name, &value),
            || true,
        );
        Ok(())
    }

    fn remove_for_test(&self, name: &str, value: &Arc<T>) {
        let mut entries = self.write();
        let Some(entry) = entries.get_mut(name) else {
            return;
        };
        if let Some(at) = entry.for_test.iter().rposition(|v| Arc::ptr_eq(v, value)) {
            entry.for_test.remove(at);
        }
        if entry.permanent.is_none() && entry.for_test.is_empty() {
            entries.remove(name);
        }
    }
}

impl<T: ?Sized> fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.read().keys().collect::<Vec<_>>())
            .finish()
    }
}
