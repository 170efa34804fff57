//! A `Rollback` test's session: one connection inside a transaction that is rolled back
//! after the test, so nothing the test writes is ever committed.
//!
//! Under `cargo test` the session outlives its test: made on the engine, it stays with
//! its pooled database in this process's warm pool and begins a new transaction for the
//! next `Rollback` test there, instead of a new connection per test (a backend start on
//! the server, its catalog caches filled again: most of the server's time in a run of
//! small `Rollback` tests).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgPool;

use super::super::sql::has_code;
use super::returned::{self, end_session};
use crate::pool_limit::{self, Holdings};
use crate::{Backend, ServerCallError};

/// A `Rollback` test's pool ([`in_transaction`]) and what the test holds of it.
#[derive(Clone)]
pub(crate) struct RollbackSession {
    pub(crate) pool: PgPool,
    pub(crate) holdings: Arc<Holdings>,
    /// How many connections the pool has opened, and how many it had when the test
    /// began: one opened since (the test's broke, or was closed after a failed use)
    /// began a transaction of its own, and what the lost one committed is unknown; it
    /// was also opened on the test's runtime, and dies with it.
    connects: Arc<AtomicU32>,
    connects_at_begin: Arc<AtomicU32>,
}

impl RollbackSession {
    /// A session on `options`, its connection not opened yet.
    pub(crate) fn new(options: sqlx::postgres::PgConnectOptions) -> Self {
        let holdings = Holdings::new(1);
        let connects = Arc::new(AtomicU32::new(0));
        let pool = in_transaction(options, &holdings, &connects);
        Self {
            pool,
            holdings,
            connects,
            connects_at_begin: Arc::default(),
        }
    }

    /// What a test that holds the one connection and asks for another is told allows
    /// more.
    pub(crate) const ALLOWS_MORE: &'static str = concat!(
        "; `Isolation::Rollback` gives a test one connection, ",
        "the default `Isolation::Recycle` five"
    );

    /// Readies the session for a test, on the engine: opens its connection there (in
    /// its first transaction) if it has none, else begins a new transaction on the kept
    /// one (one round trip, and one more as it comes back to the pool).
    pub(crate) async fn begin(&self) -> Result<(), ServerCallError> {
        let kept = self.pool.size() > 0;
        let fail = |e| {
            ServerCallError::statement(
                Backend::Postgres,
                "begin a `Rollback` test's transaction",
                e,
            )
        };
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        if kept {
            sqlx::raw_sql("begin; savepoint testbed_use")
                .execute(&mut *conn)
                .await
                .map_err(fail)?;
        }
        let connects = self.connects.load(Ordering::SeqCst);
        self.connects_at_begin.store(connects, Ordering::SeqCst);
        Ok(())
    }

    /// After a test whose transaction was rolled back: ends what the test left in the
    /// session, as a recycled pool's are ended ([`end_session`]), and tells whether it
    /// can serve the next test. Not when its connection was replaced since the test
    /// began, is still held (`held_elsewhere`, or not back in the pool), or failed to
    /// end; the caller then closes it. Runs on the engine.
    pub(crate) async fn end_for_next(&self, held_elsewhere: bool) -> bool {
        if held_elsewhere || self.replaced() || !returned::reusable(&self.pool).await {
            return false;
        }
        match self.pool.acquire().await {
            Ok(conn) => end_session(conn, &HashSet::new()).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Whether the pool opened a connection since the test began (see `connects`). The
    /// test's first connection is opened by its first query when the session was not
    /// made ready beforehand (the broker's way): one is its own.
    fn replaced(&self) -> bool {
        let own = self.connects_at_begin.load(Ordering::SeqCst).max(1);
        self.connects.load(Ordering::SeqCst) > own
    }

    /// Commits the test's transaction, so a failing test's rows are there to inspect.
    pub(crate) async fn commit(&self) -> Result<(), ServerCallError> {
        let fail =
            |e| ServerCallError::statement(Backend::Postgres, "commit the failing test's work", e);
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        sqlx::raw_sql("commit")
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
        Ok(())
    }

    /// Rolls back the test's transaction: `true` if testbed's was still open, so that
    /// nothing the test did was committed but its sequences' advances (a rollback does not
    /// undo `nextval`: [`rewind_sequences`](super::session::rewind_sequences) does).
    /// `false` after a raw `COMMIT` (or `ROLLBACK`), and when the test's connection was
    /// replaced by another (see `connects`): after a raw `COMMIT; BEGIN`, say, the next
    /// use's savepoint fails and sqlx closes the connection.
    pub(crate) async fn roll_back(&self) -> Result<bool, ServerCallError> {
        let fail = |e| {
            ServerCallError::statement(Backend::Postgres, "roll back the test's transaction", e)
        };
        let mut conn = self.pool.acquire().await.map_err(fail)?;
        // A savepoint is refused outside a transaction block (25P01), and a transaction
        // aborted by an error refuses everything but a rollback (25P02): both tell.
        let open = match sqlx::raw_sql("savepoint testbed_check")
            .execute(&mut *conn)
            .await
        {
            Ok(_) => true,
            Err(error) if has_code(&error, "25P01") => false,
            Err(error) if has_code(&error, "25P02") => true,
            Err(error) => return Err(fail(error)),
        };
        sqlx::raw_sql("rollback")
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
        Ok(open && !self.replaced())
    }
}

/// A pool of one connection that opens a transaction as it connects. The transaction is
/// left open with sqlx counting it, so that the test's own `begin()` becomes a savepoint
/// and its `commit()` a savepoint release: nothing reaches the database for good.
///
/// Outside a transaction of its own, each statement of a test would stand alone: one
/// that fails (a refused duplicate, say) takes nothing else with it. Inside the one
/// transaction, a failed statement would abort every later one (`25P02`). So each use
/// of the connection runs under a savepoint of its own: when the connection comes back
/// to the pool, the savepoint is released and a new one set, or, if a statement failed,
/// rolled back to, undoing only that use. One round trip per use.
///
/// `options` name the database: directly ([`pool_options`](super::session::pool_options)) or through the broker's
/// session pool.
fn in_transaction(
    options: sqlx::postgres::PgConnectOptions,
    holdings: &Arc<Holdings>,
    connects: &Arc<AtomicU32>,
) -> PgPool {
    let (on_connect, on_release) = (holdings.clone(), holdings.clone());
    let connected = connects.clone();
    pool_limit::test_pool_options::<sqlx::Postgres>(holdings)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_connect(move |conn, _| {
            on_connect.took();
            connected.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let transaction = conn.begin().await?;
                // Forgetting the guard keeps the transaction open (its drop would roll
                // back) and sqlx's depth at one; the cleanup rolls back by hand.
                std::mem::forget(transaction);
                sqlx::raw_sql("savepoint testbed_use").execute(conn).await?;
                Ok(())
            })
        })
        .after_release(move |conn, _| {
            on_release.gave_back();
            Box::pin(async move {
                let next = sqlx::raw_sql("release savepoint testbed_use; savepoint testbed_use")
                    .execute(&mut *conn)
                    .await;
                match next {
                    Ok(_) => {}
                    // A statement of this use failed: undo this use only.
                    Err(error) if has_code(&error, "25P02") => {
                        sqlx::raw_sql("rollback to savepoint testbed_use")
                            .execute(&mut *conn)
                            .await?;
                    }
                    // No transaction: a raw `COMMIT` escaped it, which the cleanup sees.
                    Err(error) if has_code(&error, "25P01") => {}
                    // Also a test that rolled back to a savepoint of its own set before
                    // this one (3B001): the failed release aborted the transaction, and
                    // the connection is closed (the README's `Rollback` limit).
                    Err(error) => return Err(error),
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options)
}
