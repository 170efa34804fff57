//! The connections a test's pool allows, and what a test that reaches the limit is told.
//!
//! sqlx's pool cannot fail an `acquire` early: a test that holds every connection of its
//! pool and asks for one more waits out the acquire timeout and gets
//! `PoolTimedOut` ("pool timed out while waiting for an open connection"). So every
//! test pool counts the connections its test holds (taken from the pool and not yet
//! given back), the wait is kept short ([`ACQUIRE_TIMEOUT`]), and a test that fails
//! after holding all of them at once gets a detail in its report naming the limit, the
//! strategy, and what allows more.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use testbed::{Outcome, Scope};

use crate::Backend;

/// How many connections a test's pool may open, on every backend and strategy but
/// PostgreSQL's `Rollback` (one).
pub(crate) const TEST_POOL_CONNECTIONS: u32 = 5;

/// How long the release of a test's database waits for connections the test still
/// holds before saying so on stderr (it goes on waiting).
const HELD_NOTICE_AFTER: Duration = Duration::from_secs(5);

/// Closes a test's pool once the test is over. Closing waits until every connection the
/// test took is back or dropped, so none is left working on a database the next test
/// gets; a test that kept one past its end (in a `static`, a thread or a task) would
/// make this wait forever without a word, so after [`HELD_NOTICE_AFTER`] it says so,
/// naming the database, and keeps waiting.
pub(crate) async fn close_test_pool<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    backend: Backend,
    database: &str,
) {
    let mut close = std::pin::pin!(pool.close());
    if tokio::time::timeout(HELD_NOTICE_AFTER, &mut close)
        .await
        .is_ok()
    {
        return;
    }
    let held = pool.size().saturating_sub(pool.num_idle() as u32);
    let notice = format!(
        "testbed-db: the release of {backend} database `{database}` has waited \
         {HELD_NOTICE_AFTER:?} for {held} connection(s) its test still holds after the \
         test's cleanups (a connection or transaction kept in a `static`, a thread or a \
         task?); it goes on once they are dropped"
    );
    {
        use std::io::Write as _;
        // Past libtest's capture: the test is not over, and may never be.
        let _ = writeln!(std::io::stderr().lock(), "{notice}");
    }
    close.await;
}

/// How long a test's `acquire` waits for a connection before `PoolTimedOut`: long
/// enough for a busy server to accept one, short enough that a test holding every
/// connection fails in seconds, not half a minute.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The connections a test holds from its pool, and for how long it held all of them at
/// once since [`start_test`](Holdings::start_test): a test that held every connection
/// for as long as an `acquire` waits may have timed out asking for another.
#[derive(Debug)]
pub(crate) struct Holdings {
    limit: u32,
    held: AtomicU32,
    /// When `held` last reached `limit`, in milliseconds since [`epoch`] plus one; 0 while
    /// below it.
    full_since: AtomicU64,
    /// The longest the test held every connection, in milliseconds.
    longest_full: AtomicU64,
}

/// The process's clock origin for [`Holdings`]' times.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Holdings {
    /// Counts for a pool of at most `limit` connections.
    pub(crate) fn new(limit: u32) -> Arc<Holdings> {
        epoch();
        Arc::new(Holdings {
            limit,
            held: AtomicU32::new(0),
            full_since: AtomicU64::new(0),
            longest_full: AtomicU64::new(0),
        })
    }

    /// A connection went to the test (a new one, or an idle one handed out).
    pub(crate) fn took(&self) {
        if self.held.fetch_add(1, Ordering::SeqCst) + 1 == self.limit {
            self.full_since.store(now_ms() + 1, Ordering::SeqCst);
        }
    }

    /// A connection came back to the pool.
    pub(crate) fn gave_back(&self) {
        let before = self
            .held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if before == Ok(self.limit) {
            self.record_full_until_now();
            self.full_since.store(0, Ordering::SeqCst);
        }
    }

    fn record_full_until_now(&self) {
        let since = self.full_since.load(Ordering::SeqCst);
        if since != 0 {
            let lasted = now_ms().saturating_sub(since - 1);
            self.longest_full.fetch_max(lasted, Ordering::SeqCst);
        }
    }

    /// A new test starts on this pool (a recycled pool serves several in turn): only
    /// what it holds from now on counts.
    pub(crate) fn start_test(&self) {
        self.longest_full.store(0, Ordering::SeqCst);
        let full = self.held.load(Ordering::SeqCst) >= self.limit;
        self.full_since
            .store(if full { now_ms() + 1 } else { 0 }, Ordering::SeqCst);
    }

    /// Whether the test held every connection for as long as an `acquire` waits (a
    /// little less, for the clocks' grain).
    fn held_all_long_enough(&self) -> bool {
        self.record_full_until_now();
        let waited = u64::try_from(ACQUIRE_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
        self.longest_full.load(Ordering::SeqCst) + 100 >= waited
    }

    /// The detail a failing test that reached the limit gets.
    fn explanation(&self, backend: Backend, database: &str, more: &str) -> String {
        format!(
            "the test held all {limit} connection(s) of its {backend} database `{database}` \
             at once for {wait} s or more; an acquire made meanwhile waits {wait} s and fails \
             with `pool timed out while waiting for an open connection` (hint: give a \
             connection back before taking another{more})",
            limit = self.limit,
            wait = ACQUIRE_TIMEOUT.as_secs(),
        )
    }
}

/// The pool settings of a test's database: [`TEST_POOL_CONNECTIONS`] connections,
/// [`ACQUIRE_TIMEOUT`], no ping before each use (the connections are new for the test
/// and closed after it: a ping would add a round trip to every query the test makes),
/// and hooks that count what the test holds into `holdings`. A caller that sets its
/// own `after_connect` or `after_release` must call [`Holdings::took`] or
/// [`Holdings::gave_back`] in it.
pub(crate) fn test_pool_options<DB: sqlx::Database>(
    holdings: &Arc<Holdings>,
) -> sqlx::pool::PoolOptions<DB> {
    let (on_connect, on_acquire, on_release) =
        (holdings.clone(), holdings.clone(), holdings.clone());
    sqlx::pool::PoolOptions::new()
        .max_connections(holdings.limit)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .after_connect(move |_, _| {
            on_connect.took();
            Box::pin(async { Ok(()) })
        })
        .before_acquire(move |_, _| {
            on_acquire.took();
            Box::pin(async { Ok(true) })
        })
        .after_release(move |_, _| {
            on_release.gave_back();
            Box::pin(async { Ok(true) })
        })
}

/// After a failing test that held every connection of its database at once for as long
/// as an `acquire` waits, attaches
/// why a further `acquire` timed out, and `more`: what allows more connections (empty
/// when nothing does). Register it after the backend's own cleanup, so it runs first.
pub(crate) fn explain_on_failure(
    scope: &Scope,
    holdings: Arc<Holdings>,
    backend: Backend,
    database: &str,
    more: &'static str,
) {
    holdings.start_test();
    let (details, database) = (scope.details(), database.to_owned());
    scope.add_cleanup(move |outcome: Outcome| {
        if outcome.is_failure() && holdings.held_all_long_enough() {
            details.attach(
                "database connections",
                holdings.explanation(backend, &database, more),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::{ACQUIRE_TIMEOUT, Holdings};

    #[test]
    fn only_holding_every_connection_as_long_as_a_wait_counts() {
        let holdings = Holdings::new(2);
        holdings.took();
        holdings.took();
        holdings.gave_back();
        assert!(!holdings.held_all_long_enough(), "a moment at the limit");
        let wait = u64::try_from(ACQUIRE_TIMEOUT.as_millis()).unwrap();
        holdings.longest_full.store(wait, Ordering::SeqCst);
        assert!(holdings.held_all_long_enough());
        holdings.start_test();
        assert!(!holdings.held_all_long_enough(), "a new test starts afresh");
        holdings.gave_back();
        holdings.gave_back(); // never below zero
        holdings.took();
        assert_eq!(holdings.held.load(Ordering::SeqCst), 1);
    }
}
