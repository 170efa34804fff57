//! The backend contract: what a storage engine must do for a region, and proxies that
//! wrap one backend in another.
//!
//! Backends store bytes under keys the region has already mangled. Everything above that
//! (encoding values, mangling keys, locks, expiry policy) lives in the region, so a new
//! backend implements a handful of primitive operations.

use std::any::Any;
use std::time::Duration;

use crate::error::KvsError;
use crate::mangler::KeyMangler;

/// One value to store, as [`Backend::set_multi`] receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The (mangled) key.
    pub key: String,
    /// The encoded value.
    pub value: Vec<u8>,
    /// How long the key lives, or `None` for no expiry.
    pub ttl: Option<Duration>,
}

/// Whether a key exists and how long it has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// No such key.
    Missing,
    /// The key exists and never expires.
    Persistent,
    /// The key expires after this long.
    Expires(Duration),
}

/// A storage engine a region keeps its values in.
///
/// Implement the required methods; the `*_multi` ones loop by default, and a backend
/// with a batch command (Redis' `MGET`) overrides them. Keys arrive already mangled.
///
/// ```
/// use kvs::{Backend, MemoryBackend};
///
/// let backend = MemoryBackend::new();
/// backend.set("k", b"v", None).unwrap();
/// assert_eq!(backend.get("k").unwrap(), Some(b"v".to_vec()));
/// assert!(!backend.add("k", b"other", None).unwrap(), "add never overwrites");
/// assert!(backend.delete("k").unwrap());
/// ```
pub trait Backend: Any + Send + Sync {
    /// A short name for messages and introspection (`memory`, `redis`, a proxy's name).
    fn name(&self) -> &str;

    /// The value under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvsError>;

    /// The values under `keys`, in order, `None` where a key is missing.
    fn get_multi(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvsError> {
        keys.iter().map(|key| self.get(key)).collect()
    }

    /// Stores `value` under `key`, replacing any value, expiring after `ttl` if given
    /// and if the backend [supports expiry](Backend::supports_expiry).
    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvsError>;

    /// Stores every entry.
    fn set_multi(&self, entries: &[Entry]) -> Result<(), KvsError> {
        entries
            .iter()
            .try_for_each(|entry| self.set(&entry.key, &entry.value, entry.ttl))
    }

    /// Removes `key`; returns whether it existed.
    fn delete(&self, key: &str) -> Result<bool, KvsError>;

    /// Removes every key that exists among `keys`.
    fn delete_multi(&self, keys: &[String]) -> Result<(), KvsError> {
        keys.iter().try_for_each(|key| self.delete(key).map(drop))
    }

    /// Stores `value` under `key` only if the key is absent; returns whether it stored.
    /// Locks are built on this, so it must be atomic.
    fn add(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, KvsError>;

    /// Removes `key` only if it holds `expected`; returns whether it removed. Releasing a
    /// lock uses this, so that a lock that expired and was taken by someone else is left
    /// alone. Must be atomic.
    fn delete_if_equal(&self, key: &str, expected: &[u8]) -> Result<bool, KvsError>;

    /// Whether `key` exists and when it expires. The default knows no expiry.
    fn ttl(&self, key: &str) -> Result<KeyTtl, KvsError> {
        Ok(match self.get(key)? {
            Some(_) => KeyTtl::Persistent,
            None => KeyTtl::Missing,
        })
    }

    /// Whether the backend honours the `ttl` of [`set`](Backend::set).
    fn supports_expiry(&self) -> bool {
        false
    }

    /// A key mangler this backend prefers, used when the region is given none.
    fn key_mangler(&self) -> Option<KeyMangler> {
        None
    }

    /// Whether the backend's [key mangler](Backend::key_mangler) must win even over one
    /// the region is configured with (a backend with strict key rules, say).
    fn forces_key_mangler(&self) -> bool {
        false
    }

    /// The backend this one wraps, if it is a proxy.
    fn proxied(&self) -> Option<&dyn Backend> {
        None
    }
}

impl dyn Backend {
    /// This backend as its concrete type, if it is a `T`.
    ///
    /// ```
    /// use kvs::{Backend, MemoryBackend};
    ///
    /// let backend: Box<dyn Backend> = Box::new(MemoryBackend::new());
    /// assert!(backend.downcast_ref::<MemoryBackend>().is_some());
    /// ```
    pub fn downcast_ref<T: Backend>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }

    /// The names of this backend and of every backend it wraps, outermost first.
    pub fn chain(&self) -> Vec<String> {
        let mut names = vec![self.name().to_owned()];
        let mut current = self.proxied();
        while let Some(inner) = current {
            names.push(inner.name().to_owned());
            current = inner.proxied();
        }
        names
    }
}

/// A backend that wraps another and forwards to it whatever it does not override:
/// implement [`name`](Proxy::name) and [`inner`](Proxy::inner), then override the
/// operations to intercept. Every `Proxy` is a [`Backend`].
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use kvs::{Backend, KvsError, MemoryBackend, Proxy};
///
/// /// Counts reads.
/// struct CountingProxy { inner: Box<dyn Backend>, reads: AtomicUsize }
///
/// impl Proxy for CountingProxy {
///     fn name(&self) -> &str { "counting" }
///     fn inner(&self) -> &dyn Backend { &*self.inner }
///     fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvsError> {
///         self.reads.fetch_add(1, Ordering::Relaxed);
///         self.inner.get(key)
///     }
/// }
///
/// let proxy = CountingProxy { inner: Box::new(MemoryBackend::new()), reads: AtomicUsize::new(0) };
/// // Used as a backend (how a region uses it): `Proxy` and `Backend` share method names.
/// let backend: &dyn Backend = &proxy;
/// assert_eq!(backend.get("missing").unwrap(), None);
/// assert_eq!(backend.chain(), ["counting", "memory"]);
/// assert_eq!(proxy.reads.load(Ordering::Relaxed), 1);
/// ```
pub trait Proxy: Send + Sync + 'static {
    /// The proxy's name, as [`Backend::name`].
    fn name(&self) -> &str;

    /// The backend this proxy wraps.
    fn inner(&self) -> &dyn Backend;

    /// See [`Backend::get`].
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvsError> {
        self.inner().get(key)
    }

    /// See [`Backend::get_multi`].
    fn get_multi(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvsError> {
        self.inner().get_multi(keys)
    }

    /// See [`Backend::set`].
    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvsError> {
        self.inner().set(key, value, ttl)
    }

    /// See [`Backend::set_multi`].
    fn set_multi(&self, entries: &[Entry]) -> Result<(), KvsError> {
        self.inner().set_multi(entries)
    }

    /// See [`Backend::delete`].
    fn delete(&self, key: &str) -> Result<bool, KvsError> {
        self.inner().delete(key)
    }

    /// See [`Backend::delete_multi`].
    fn delete_multi(&self, keys: &[String]) -> Result<(), KvsError> {
        self.inner().delete_multi(keys)
    }

    /// See [`Backend::add`].
    fn add(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, KvsError> {
        self.inner().add(key, value, ttl)
    }

    /// See [`Backend::delete_if_equal`].
    fn delete_if_equal(&self, key: &str, expected: &[u8]) -> Result<bool, KvsError> {
        self.inner().delete_if_equal(key, expected)
    }

    /// See [`Backend::ttl`].
    fn ttl(&self, key: &str) -> Result<KeyTtl, KvsError> {
        self.inner().ttl(key)
    }

    /// See [`Backend::supports_expiry`].
    fn supports_expiry(&self) -> bool {
        self.inner().supports_expiry()
    }

    /// See [`Backend::key_mangler`].
    fn key_mangler(&self) -> Option<KeyMangler> {
        self.inner().key_mangler()
    }

    /// See [`Backend::forces_key_mangler`].
    fn forces_key_mangler(&self) -> bool {
        self.inner().forces_key_mangler()
    }
}

impl<P: Proxy> Backend for P {
    fn name(&self) -> &str {
        Proxy::name(self)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvsError> {
        Proxy::get(self, key)
    }

    fn get_multi(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvsError> {
        Proxy::get_multi(self, keys)
    }

    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvsError> {
        Proxy::set(self, key, value, ttl)
    }

    fn set_multi(&self, entries: &[Entry]) -> Result<(), KvsError> {
        Proxy::set_multi(self, entries)
    }

    fn delete(&self, key: &str) -> Result<bool, KvsError> {
        Proxy::delete(self, key)
    }

    fn delete_multi(&self, keys: &[String]) -> Result<(), KvsError> {
        Proxy::delete_multi(self, keys)
    }

    fn add(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, KvsError> {
        Proxy::add(self, key, value, ttl)
    }

    fn delete_if_equal(&self, key: &str, expected: &[u8]) -> Result<bool, KvsError> {
        Proxy::delete_if_equal(self, key, expected)
    }

    fn ttl(&self, key: &str) -> Result<KeyTtl, KvsError> {
        Proxy::ttl(self, key)
    }

    fn supports_expiry(&self) -> bool {
        Proxy::supports_expiry(self)
    }

    fn key_mangler(&self) -> Option<KeyMangler> {
        Proxy::key_mangler(self)
    }

    fn forces_key_mangler(&self) -> bool {
        Proxy::forces_key_mangler(self)
    }

    fn proxied(&self) -> Option<&dyn Backend> {
        Some(self.inner())
    }
}
