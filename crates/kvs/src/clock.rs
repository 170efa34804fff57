//! Where a region reads the time from, for lock timeouts. Replaceable so that a test can
//! move time forward instead of sleeping.

use std::time::Instant;

/// A source of the current instant.
///
/// ```
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use kvs::Clock;
///
/// /// A clock that only moves when told to.
/// struct ManualClock(Mutex<Instant>);
///
/// impl Clock for ManualClock {
///     fn now(&self) -> Instant { *self.0.lock().unwrap() }
/// }
///
/// let clock = ManualClock(Mutex::new(Instant::now()));
/// let start = clock.now();
/// *clock.0.lock().unwrap() += Duration::from_secs(60);
/// assert_eq!(clock.now() - start, Duration::from_secs(60));
/// ```
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The operating system's monotonic clock, the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
