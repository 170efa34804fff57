//! Per-key locks: an entry next to the key in the backend, taken with an atomic add and
//! released only by its holder.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backend::Backend;
use crate::clock::Clock;
use crate::error::KvsError;

/// The prefix of a lock's backend entry, before the locked key's storage key.
pub const LOCK_PREFIX: &str = "_lock";

/// The longest a lock is considered expired ahead of its timeout. The backend's entry
/// expires on the backend's own clock, so the region gives up a little early rather
/// than act under a lock that may be gone.
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// A held lock on one key of a region, released when dropped.
///
/// Take it with [`Region::lock`](crate::Region::lock); pass it to
/// [`Region::set_locked`](crate::Region::set_locked),
/// [`Region::delete_locked`](crate::Region::delete_locked) or
/// [`Region::with_lock`](crate::Region::with_lock), which refuse to act once it has been
/// held for its timeout (or on another key).
///
/// ```
/// let region = kvs::Region::builder("doc", "memory").build().unwrap();
/// let lock = region.lock("counter").unwrap();
/// region.set_locked("counter", &1, &lock).unwrap();
/// lock.release().unwrap();
/// assert_eq!(region.get::<i32>("counter").unwrap(), 1);
/// ```
#[must_use = "a lock is released as soon as it is dropped: bind it, `let lock = region.lock(key)?;`"]
pub struct KeyLock<'r> {
    /// What it needs of its region, which it borrows.
    region: LockContext<'r>,
    key: String,
    /// The backend entry and its token, or `None` when the region does not lock.
    entry: Option<(String, Vec<u8>)>,
    acquired_at: std::time::Instant,
    released: bool,
}

impl std::fmt::Debug for KeyLock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLock")
            .field("region", &self.region.name)
            .field("key", &self.key)
            .field("storage_key", &self.storage_key())
            .finish()
    }
}

/// What a lock needs of the region it was taken in: its name (for `Debug`), its backend
/// (to release the entry), its clock and its lock timeout (to tell expiry).
#[derive(Clone, Copy)]
pub(crate) struct LockContext<'r> {
    pub(crate) name: &'r str,
    pub(crate) backend: &'r dyn Backend,
    pub(crate) clock: &'r dyn Clock,
    pub(crate) timeout: Duration,
}

impl<'r> KeyLock<'r> {
    pub(crate) fn new(
        region: LockContext<'r>,
        key: &str,
        entry: Option<(String, Vec<u8>)>,
    ) -> KeyLock<'r> {
        KeyLock {
            region,
            key: key.to_owned(),
            entry,
            acquired_at: region.clock.now(),
            released: false,
        }
    }

    /// The key this lock guards, as the caller spelled it.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The backend key of the lock's entry (`_lock` and the key's storage key), or
    /// `None` when the region was built with locking off.
    pub fn storage_key(&self) -> Option<&str> {
        self.entry.as_ref().map(|(key, _)| key.as_str())
    }

    /// The value stored in the lock's entry: unique to this holder, so that only it
    /// can release the entry.
    pub fn token(&self) -> Option<&[u8]> {
        self.entry.as_ref().map(|(_, token)| token.as_slice())
    }

    /// How long the lock has been held, by the region's clock.
    pub fn held_for(&self) -> Duration {
        self.region
            .clock
            .now()
            .saturating_duration_since(self.acquired_at)
    }

    /// Whether the lock has been held so long that its entry may have expired: within
    /// a second (or a fifth of the timeout, if shorter) of the region's lock timeout.
    pub fn is_expired(&self) -> bool {
        let timeout = self.region.timeout;
        self.held_for() + EXPIRY_MARGIN.min(timeout / 5) >= timeout
    }

    /// Releases the lock now, reporting a backend failure that dropping would ignore.
    pub fn release(mut self) -> Result<(), KvsError> {
        self.release_entry()
    }

    fn release_entry(&mut self) -> Result<(), KvsError> {
        if std::mem::replace(&mut self.released, true) {
            return Ok(());
        }
        if let Some((key, token)) = &self.entry {
            // Not finding our token means the entry expired (and someone else may hold
            // the lock now): theirs is not ours to remove.
            self.region.backend.delete_if_equal(key, token)?;
        }
        Ok(())
    }
}

impl Drop for KeyLock<'_> {
    fn drop(&mut self) {
        // An entry left behind expires with the lock timeout; `release` reports errors.
        let _ = self.release_entry();
    }
}

/// A token no other holder has: process id, a counter and the time, so it stays unique
/// across processes and restarts sharing one server.
pub(crate) fn new_token() -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}-{count}-{nanos}", std::process::id()).into_bytes()
}

/// How long to wait before attempt `attempt + 1`: doubling from 10 ms up to 500 ms, so
/// that the default 15 attempts wait about as long as the default lock timeout.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let millis = 10u64.saturating_mul(1 << attempt.min(16).saturating_sub(1));
    Duration::from_millis(millis.min(500))
}

#[cfg(test)]
mod tests {
    use super::{backoff, new_token};
    use std::time::Duration;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(1), Duration::from_millis(10));
        assert_eq!(backoff(2), Duration::from_millis(20));
        assert_eq!(backoff(7), Duration::from_millis(500));
        assert_eq!(backoff(40), Duration::from_millis(500));
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(new_token(), new_token());
    }
}
