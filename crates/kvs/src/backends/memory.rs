//! The in-process backend: a map behind a mutex, with expiry checked on read.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::backend::{Backend, KeyTtl};
use crate::error::KvsError;
use crate::options::BackendOptions;

struct Stored {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

impl Stored {
    fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|deadline| now < deadline)
    }
}

/// Values kept in this process, lost when it ends. Registered as `memory`; it takes no
/// options. Supports expiry.
///
/// ```
/// use std::time::Duration;
/// use kvs::{Backend, KeyTtl, MemoryBackend};
///
/// let backend = MemoryBackend::new();
/// backend.set("session", b"x", Some(Duration::from_secs(60))).unwrap();
/// assert!(matches!(backend.ttl("session").unwrap(), KeyTtl::Expires(_)));
/// assert_eq!(backend.ttl("other").unwrap(), KeyTtl::Missing);
/// ```
#[derive(Default)]
pub struct MemoryBackend {
    entries: Mutex<HashMap<String, Stored>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> Self {
        MemoryBackend::default()
    }

    /// The factory registered as `memory`.
    pub fn from_options(_options: &mut BackendOptions) -> Result<Box<dyn Backend>, KvsError> {
        Ok(Box::new(MemoryBackend::new()))
    }

    /// The live keys, sorted: what is stored, for inspection.
    pub fn keys(&self) -> Vec<String> {
        let now = Instant::now();
        let mut keys: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, stored)| stored.is_live(now))
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Stored>> {
        // A panic while holding the lock cannot leave the map half-updated: every
        // operation below is a single insert or remove.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The live entry under `key`, dropping it if it has expired: expiry is checked on
/// access rather than by a sweeper thread.
fn live<'a>(entries: &'a mut HashMap<String, Stored>, key: &str) -> Option<&'a Stored> {
    if entries
        .get(key)
        .is_some_and(|stored| !stored.is_live(Instant::now()))
    {
        entries.remove(key);
    }
    entries.get(key)
}

fn deadline(ttl: Option<Duration>) -> Option<Instant> {
    ttl.map(|ttl| Instant::now() + ttl)
}

impl Backend for MemoryBackend {
    fn name(&self) -> &str {
        crate::registry::MEMORY
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvsError> {
        Ok(live(&mut self.lock(), key).map(|stored| stored.value.clone()))
    }

    fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), KvsError> {
        let stored = Stored {
            value: value.to_vec(),
            expires_at: deadline(ttl),
        };
        self.lock().insert(key.to_owned(), stored);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, KvsError> {
        let mut entries = self.lock();
        let existed = live(&mut entries, key).is_some();
        entries.remove(key);
        Ok(existed)
    }

    fn add(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<bool, KvsError> {
        let mut entries = self.lock();
        if live(&mut entries, key).is_some() {
            return Ok(false);
        }
        let stored = Stored {
            value: value.to_vec(),
            expires_at: deadline(ttl),
        };
        entries.insert(key.to_owned(), stored);
        Ok(true)
    }

    fn delete_if_equal(&self, key: &str, expected: &[u8]) -> Result<bool, KvsError> {
        let mut entries = self.lock();
        if live(&mut entries, key).is_some_and(|stored| stored.value == expected) {
            entries.remove(key);
            return Ok(true);
        }
        Ok(false)
    }

    fn ttl(&self, key: &str) -> Result<KeyTtl, KvsError> {
        let now = Instant::now();
        Ok(match live(&mut self.lock(), key) {
            None => KeyTtl::Missing,
            Some(Stored {
                expires_at: None, ..
            }) => KeyTtl::Persistent,
            Some(Stored {
                expires_at: Some(deadline),
                ..
            }) => KeyTtl::Expires(deadline.saturating_duration_since(now)),
        })
    }

    fn supports_expiry(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::MemoryBackend;
    use crate::backend::{Backend, KeyTtl};

    #[test]
    fn an_expired_entry_is_absent_to_every_operation() {
        let backend = MemoryBackend::new();
        backend
            .set("k", b"old", Some(Duration::from_millis(1)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(backend.get("k").unwrap(), None);
        assert_eq!(backend.ttl("k").unwrap(), KeyTtl::Missing);
        assert!(!backend.delete("k").unwrap());
        assert!(backend.keys().is_empty());

        backend
            .set("lock", b"a", Some(Duration::from_millis(1)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(!backend.delete_if_equal("lock", b"a").unwrap());
        assert!(
            backend.add("lock", b"b", None).unwrap(),
            "an expired lock can be taken"
        );
        assert_eq!(backend.ttl("lock").unwrap(), KeyTtl::Persistent);
    }
}
