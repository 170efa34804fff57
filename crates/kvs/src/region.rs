//! Regions: a named key space over one backend, with its key mangler, lock settings and
//! expiry policy, and the typed get/set/delete operations callers use.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{Backend, Entry, KeyTtl};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::KvsError;
use crate::lock::{KeyLock, LOCK_PREFIX, LockContext, backoff, new_token};
use crate::mangler::KeyMangler;
use crate::options::BackendOptions;
use crate::registry::create_backend;

type WrapFn = Box<dyn FnOnce(Box<dyn Backend>) -> Box<dyn Backend>>;

/// How to build a [`Region`]: the backing store by registered name, its options, and
/// the region's own settings. Made by [`Region::builder`].
///
/// ```
/// use std::time::Duration;
/// use kvs::{KeyMangler, Region};
///
/// let region = Region::builder("sessions", "memory")
///     .key_mangler(KeyMangler::new("plain", |key| key.to_owned()))
///     .expire_time(Duration::from_secs(3600))
///     .no_expiry_keys(["admin"])
///     .lock_timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(region.storage_key("alice"), "alice");
/// ```
#[must_use = "a builder does nothing until `.build()` is called"]
pub struct RegionBuilder {
    name: String,
    backing_store: String,
    options: BackendOptions,
    key_mangler: Option<KeyMangler>,
    proxies: Vec<WrapFn>,
    locking: bool,
    lock_timeout: Option<Duration>,
    max_lock_attempts: Option<u32>,
    expire_time: Option<Duration>,
    no_expiry_keys: HashSet<String>,
    clock: Arc<dyn Clock>,
}

impl RegionBuilder {
    /// Passes option `name` to the backend's factory (see each backend for its options).
    pub fn option(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.options.insert(name, value);
        self
    }

    /// Mangles keys with `mangler` rather than the backend's or SHA-1. A backend that
    /// [forces its own](Backend::forces_key_mangler) still wins, and
    /// [`Config::enable_key_mangler`] off disables mangling whatever is chosen.
    pub fn key_mangler(mut self, mangler: KeyMangler) -> Self {
        self.key_mangler = Some(mangler);
        self
    }

    /// Wraps the backend in a proxy. Proxies apply in the order given: the first one is
    /// the outermost, seeing every call first.
    ///
    /// ```
    /// use kvs::{Backend, Proxy, Region};
    ///
    /// struct Named(&'static str, Box<dyn Backend>);
    /// impl Proxy for Named {
    ///     fn name(&self) -> &str { self.0 }
    ///     fn inner(&self) -> &dyn Backend { &*self.1 }
    /// }
    ///
    /// let region = Region::builder("r", "memory")
    ///     .proxy(|inner| Box::new(Named("outer", inner)))
    ///     .proxy(|inner| Box::new(Named("inner", inner)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(region.backend().chain(), ["outer", "inner", "memory"]);
    /// ```
    pub fn proxy(
        mut self,
        wrap: impl FnOnce(Box<dyn Backend>) -> Box<dyn Backend> + 'static,
    ) -> Self {
        self.proxies.push(Box::new(wrap));
        self
    }

    /// Whether [`Region::lock`] takes a lock in the backend (default `true`). Off, a
    /// lock is only a token that the key matches and the timeout holds.
    pub fn locking(mut self, enabled: bool) -> Self {
        self.locking = enabled;
        self
    }

    /// How long a lock may be held (default [`Config::default_lock_timeout`]); its
    /// backend entry expires after this long, and actions under it are refused a little
    /// before.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// How many times [`Region::lock`] tries a held lock before giving up (default
    /// [`Config::default_max_lock_attempts`]).
    pub fn max_lock_attempts(mut self, attempts: u32) -> Self {
        self.max_lock_attempts = Some(attempts);
        self
    }

    /// Makes every key set from now on expire after `ttl`, except the
    /// [no-expiry keys](RegionBuilder::no_expiry_keys). The backend must support expiry.
    pub fn expire_time(mut self, ttl: Duration) -> Self {
        self.expire_time = Some(ttl);
        self
    }

    /// Keys (as callers spell them) that never expire, whatever the expire time.
    pub fn no_expiry_keys<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.no_expiry_keys.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Reads time for lock timeouts from `clock` instead of the system's.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the backend from the registry, wraps it in the proxies, chooses the key
    /// mangler and reads the process-wide [`Config`].
    pub fn build(self) -> Result<Region, KvsError> {
        let config = Config::global();
        let invalid = |setting: &str, reason: &str| KvsError::InvalidSetting {
            region: self.name.clone(),
            setting: setting.to_owned(),
            reason: reason.to_owned(),
        };
        let lock_timeout = self.lock_timeout.unwrap_or(config.default_lock_timeout);
        if lock_timeout.is_zero() {
            return Err(invalid("lock_timeout", "must be longer than zero"));
        }
        let max_lock_attempts = self
            .max_lock_attempts
            .unwrap_or(config.default_max_lock_attempts);
        if max_lock_attempts == 0 {
            return Err(invalid("max_lock_attempts", "must be at least 1"));
        }
        if self.expire_time.is_some_and(|ttl| ttl.is_zero()) {
            return Err(invalid("expire_time", "must be longer than zero"));
        }

        let mut backend = create_backend(&self.backing_store, self.options)?;
        for wrap in self.proxies.into_iter().rev() {
            backend = wrap(backend);
        }
        if self.expire_time.is_some() && !backend.supports_expiry() {
            return Err(KvsError::ExpiryUnsupported {
                region: self.name,
                backend: backend.name().to_owned(),
            });
        }
        let key_mangler = config
            .enable_key_mangler
            .then(|| choose_mangler(self.key_mangler, &*backend));
        Ok(Region {
            name: self.name,
            backend,
            key_mangler: RwLock::new(key_mangler),
            locking: self.locking,
            lock_timeout,
            max_lock_attempts,
            expire_time: self.expire_time,
            no_expiry_keys: self.no_expiry_keys,
            clock: self.clock,
        })
    }
}

/// A forcing backend's mangler first, then the configured one, then the backend's, then
/// SHA-1.
fn choose_mangler(configured: Option<KeyMangler>, backend: &dyn Backend) -> KeyMangler {
    let from_backend = backend.key_mangler();
    let chosen = if backend.forces_key_mangler() {
        from_backend.or(configured)
    } else {
        configured.or(from_backend)
    };
    chosen.unwrap_or_else(KeyMangler::sha1)
}

/// A named key space over one backend.
///
/// Values are any serde type, stored encoded: every get returns a fresh copy, so changing
/// it never changes the store. A missing key is [`KvsError::NotFound`].
///
/// ```
/// use std::collections::HashMap;
/// use kvs::Region;
///
/// let region = Region::builder("users", "memory").build().unwrap();
/// let alice = HashMap::from([("name".to_owned(), "Alice".to_owned())]);
/// region.set("alice", &alice).unwrap();
///
/// let mut copy: HashMap<String, String> = region.get("alice").unwrap();
/// copy.insert("name".into(), "Bob".into());
/// assert_eq!(region.get::<HashMap<String, String>>("alice").unwrap(), alice);
///
/// region.delete("alice").unwrap();
/// assert!(region.get::<HashMap<String, String>>("alice").unwrap_err().is_not_found());
/// ```
pub struct Region {
    name: String,
    backend: Box<dyn Backend>,
    key_mangler: RwLock<Option<KeyMangler>>,
    locking: bool,
    lock_timeout: Duration,
    max_lock_attempts: u32,
    expire_time: Option<Duration>,
    no_expiry_keys: HashSet<String>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.name)
            .field("backend", &self.backend.chain())
            .field("key_mangler", &self.key_mangler())
            .field("locking", &self.locking)
            .field("lock_timeout", &self.lock_timeout)
            .field("max_lock_attempts", &self.max_lock_attempts)
            .field("expire_time", &self.expire_time)
            .finish_non_exhaustive()
    }
}

impl Region {
    /// Starts building region `name` over the backend registered as `backing_store`.
    pub fn builder(name: impl Into<String>, backing_store: impl Into<String>) -> RegionBuilder {
        RegionBuilder {
            name: name.into(),
            backing_store: backing_store.into(),
            options: BackendOptions::new(),
            key_mangler: None,
            proxies: Vec::new(),
            locking: true,
            lock_timeout: None,
            max_lock_attempts: None,
            expire_time: None,
            no_expiry_keys: HashSet::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The region's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backend, outermost proxy first (see [`Backend::proxied`]).
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The key mangler in use, or `None` when keys are stored as given.
    pub fn key_mangler(&self) -> Option<KeyMangler> {
        self.key_mangler
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Mangles keys with `mangler` from now on (`None`: store keys as given). Keys
    /// already stored stay under their old storage keys. An explicit call wins over
    /// [`Config::enable_key_mangler`], which only decides at build time.
    pub fn set_key_mangler(&self, mangler: Option<KeyMangler>) {
        *self
            .key_mangler
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = mangler;
    }

    /// The key the backend stores `key` under.
    pub fn storage_key(&self, key: &str) -> String {
        match &*self
            .key_mangler
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            Some(mangler) => mangler.mangle(key),
            None => key.to_owned(),
        }
    }

    /// Whether [`lock`](Region::lock) takes a lock in the backend.
    pub fn locking(&self) -> bool {
        self.locking
    }

    /// How long a lock may be held.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// How many times [`lock`](Region::lock) tries before giving up.
    pub fn max_lock_attempts(&self) -> u32 {
        self.max_lock_attempts
    }

    /// How long keys live, if they expire.
    pub fn expire_time(&self) -> Option<Duration> {
        self.expire_time
    }

    /// How long `key` lives when set now: `None` for a no-expiry key or a region
    /// without an expire time.
    pub fn ttl_for(&self, key: &str) -> Option<Duration> {
        if self.no_expiry_keys.contains(key) {
            return None;
        }
        self.expire_time
    }

    fn lock_context(&self) -> LockContext<'_> {
        LockContext {
            name: &self.name,
            backend: &*self.backend,
            clock: &*self.clock,
            timeout: self.lock_timeout,
        }
    }

    fn not_found(&self, keys: Vec<String>) -> KvsError {
        KvsError::NotFound {
            region: self.name.clone(),
            keys,
        }
    }

    /// The value under `key`, decoded as a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, KvsError> {
        match self.backend.get(&self.storage_key(key))? {
            Some(bytes) => decode(key, &bytes),
            None => Err(self.not_found(vec![key.to_owned()])),
        }
    }

    /// The values under `keys`, in order. If any is missing, the error names every
    /// missing key.
    ///
    /// ```
    /// let region = kvs::Region::builder("doc", "memory").build().unwrap();
    /// region.set_multi([("a", &1), ("b", &2)]).unwrap();
    /// assert_eq!(region.get_multi::<i32>(&["a", "b"]).unwrap(), [1, 2]);
    /// let error = region.get_multi::<i32>(&["a", "x", "y"]).unwrap_err();
    /// assert_eq!(error.to_string(), "keys `x`, `y` not found in region `doc`");
    /// ```
    pub fn get_multi<T: DeserializeOwned>(
        &self,
        keys: &[impl AsRef<str>],
    ) -> Result<Vec<T>, KvsError> {
        let storage_keys: Vec<String> = keys
            .iter()
            .map(|key| self.storage_key(key.as_ref()))
            .collect();
        let found = self.backend.get_multi(&storage_keys)?;
        let missing: Vec<String> = keys
            .iter()
            .zip(&found)
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| key.as_ref().to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(self.not_found(missing));
        }
        keys.iter()
            .zip(found)
            .map(|(key, value)| decode(key.as_ref(), &value.unwrap_or_default()))
            .collect()
    }

    /// Stores `value` under `key`, expiring per the region's expire time.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), KvsError> {
        let bytes = encode(key, value)?;
        self.backend
            .set(&self.storage_key(key), &bytes, self.ttl_for(key))
    }

    /// Stores `value` under `key` while holding `lock` (see [`with_lock`](Region::with_lock)).
    pub fn set_locked<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        lock: &KeyLock<'_>,
    ) -> Result<(), KvsError> {
        self.with_lock(key, Some(lock), || self.set(key, value))?
    }

    /// Stores every `(key, value)` pair, in one batch where the backend has one.
    pub fn set_multi<K, T, I>(&self, entries: I) -> Result<(), KvsError>
    where
        I: IntoIterator<Item = (K, T)>,
        K: AsRef<str>,
        T: Serialize,
    {
        let entries = entries
            .into_iter()
            .map(|(key, value)| {
                let key = key.as_ref();
                Ok(Entry {
                    key: self.storage_key(key),
                    value: encode(key, &value)?,
                    ttl: self.ttl_for(key),
                })
            })
            .collect::<Result<Vec<_>, KvsError>>()?;
        self.backend.set_multi(&entries)
    }

    /// Removes `key`; a missing key is [`KvsError::NotFound`].
    pub fn delete(&self, key: &str) -> Result<(), KvsError> {
        if self.backend.delete(&self.storage_key(key))? {
            Ok(())
        } else {
            Err(self.not_found(vec![key.to_owned()]))
        }
    }

    /// Removes `key` while holding `lock` (see [`with_lock`](Region::with_lock)).
    pub fn delete_locked(&self, key: &str, lock: &KeyLock<'_>) -> Result<(), KvsError> {
        self.with_lock(key, Some(lock), || self.delete(key))?
    }

    /// Removes every key of `keys` that exists; missing ones are no error.
    pub fn delete_multi(&self, keys: &[impl AsRef<str>]) -> Result<(), KvsError> {
        let storage_keys: Vec<String> = keys
            .iter()
            .map(|key| self.storage_key(key.as_ref()))
            .collect();
        self.backend.delete_multi(&storage_keys)
    }

    /// Whether `key` exists and when it expires.
    pub fn ttl(&self, key: &str) -> Result<KeyTtl, KvsError> {
        self.backend.ttl(&self.storage_key(key))
    }

    /// Takes the lock on `key`, trying up to [`max_lock_attempts`](Region::max_lock_attempts)
    /// times with a growing pause while someone else holds it.
    ///
    /// ```
    /// let region = kvs::Region::builder("doc", "memory").max_lock_attempts(1).build().unwrap();
    /// let first = region.lock("k").unwrap();
    /// let error = region.lock("k").unwrap_err();
    /// assert!(matches!(error, kvs::KvsError::LockAttemptsExhausted { attempts: 1, .. }));
    /// drop(first);
    /// assert!(region.lock("k").is_ok());
    /// ```
    pub fn lock(&self, key: &str) -> Result<KeyLock<'_>, KvsError> {
        if !self.locking {
            return Ok(KeyLock::new(self.lock_context(), key, None));
        }
        let lock_key = format!("{LOCK_PREFIX}{}", self.storage_key(key));
        let token = new_token();
        for attempt in 1..=self.max_lock_attempts {
            if self
                .backend
                .add(&lock_key, &token, Some(self.lock_timeout))?
            {
                return Ok(KeyLock::new(
                    self.lock_context(),
                    key,
                    Some((lock_key, token)),
                ));
            }
            if attempt < self.max_lock_attempts {
                std::thread::sleep(backoff(attempt));
            }
        }
        Err(KvsError::LockAttemptsExhausted {
            key: key.to_owned(),
            attempts: self.max_lock_attempts,
        })
    }

    /// Runs `action` on `key` under `lock`, or unguarded when `lock` is `None`.
    ///
    /// Refuses (without running `action`) a lock on another key
    /// ([`KvsError::LockKeyMismatch`]) and a lock held for about its timeout
    /// ([`KvsError::LockTimeout`]), whose backend entry may already be gone.
    pub fn with_lock<R>(
        &self,
        key: &str,
        lock: Option<&KeyLock<'_>>,
        action: impl FnOnce() -> R,
    ) -> Result<R, KvsError> {
        if let Some(lock) = lock {
            if lock.key() != key {
                return Err(KvsError::LockKeyMismatch {
                    lock_key: lock.key().to_owned(),
                    target_key: key.to_owned(),
                });
            }
            if lock.is_expired() {
                return Err(KvsError::LockTimeout {
                    key: key.to_owned(),
                    held: lock.held_for(),
                    timeout: self.lock_timeout,
                });
            }
        }
        Ok(action())
    }
}

fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, KvsError> {
    serde_json::to_vec(value).map_err(|source| KvsError::Encode {
        key: key.to_owned(),
        source,
    })
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, KvsError> {
    serde_json::from_slice(bytes).map_err(|source| KvsError::Decode {
        key: key.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::choose_mangler;
    use crate::backend::Backend;
    use crate::backends::MemoryBackend;
    use crate::mangler::KeyMangler;

    /// A memory backend that brings its own mangler, forcing it or not.
    struct Mangling {
        inner: MemoryBackend,
        forces: bool,
    }

    impl crate::Proxy for Mangling {
        fn name(&self) -> &str {
            "mangling"
        }
        fn inner(&self) -> &dyn Backend {
            &self.inner
        }
        fn key_mangler(&self) -> Option<KeyMangler> {
            Some(KeyMangler::new("backend", str::to_owned))
        }
        fn forces_key_mangler(&self) -> bool {
            self.forces
        }
    }

    fn chosen(configured: Option<&str>, backend: &dyn Backend) -> String {
        let configured = configured.map(|name| KeyMangler::new(name, str::to_owned));
        choose_mangler(configured, backend).name().to_owned()
    }

    #[test]
    fn mangler_precedence() {
        let plain = MemoryBackend::new();
        let offers = Mangling {
            inner: MemoryBackend::new(),
            forces: false,
        };
        let forces = Mangling {
            inner: MemoryBackend::new(),
            forces: true,
        };
        assert_eq!(chosen(None, &plain), "sha1");
        assert_eq!(chosen(Some("configured"), &plain), "configured");
        assert_eq!(chosen(None, &offers), "backend");
        assert_eq!(chosen(Some("configured"), &offers), "configured");
        assert_eq!(chosen(Some("configured"), &forces), "backend");
    }
}
