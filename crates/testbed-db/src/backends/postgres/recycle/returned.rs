//! A pool's connections between two tests: waiting for them to come back to the pool
//! (sqlx returns a connection through a task, after a ping, so a connection given back
//! is idle again only a round trip later), and ending what the last test left in one.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::{Connection, Row};

use crate::retry::Pace;

/// Waits (on the engine) until every connection of `pool` is back in it: a connection
/// is returned by a task after a ping.
pub(crate) async fn idle(pool: &PgPool) {
    // A ping takes a round trip, far less than the timer's millisecond: yield first.
    let spin = std::time::Instant::now();
    while spin.elapsed() < Duration::from_millis(1) {
        if pool.num_idle() as u32 == pool.size() {
            return;
        }
        tokio::task::yield_now().await;
    }
    let mut pacer = Pace::every(Duration::from_millis(1), Duration::from_millis(200)).start();
    while pool.num_idle() as u32 != pool.size() && pacer.pause().await {}
}

/// Whether the test's pool can serve the next test: every connection back in it.
/// Otherwise (a connection the test still holds) the pool is closed and a new one
/// opened. Runs on the engine.
pub(crate) async fn reusable(pool: &PgPool) -> bool {
    idle(pool).await;
    !pool.is_closed() && pool.num_idle() as u32 == pool.size()
}

/// Ends what the last test left in `session`, so that the next test finds it as a new
/// one (see `session::end_sessions`, which ends a recycled pool's
/// sessions with it, as does a kept `Rollback` session): closed instead if the test's
/// queries opened it (its id in `opened_by_test`).
pub(super) async fn end_session(
    mut session: sqlx::pool::PoolConnection<sqlx::Postgres>,
    opened_by_test: &HashSet<i32>,
) -> Result<(), sqlx::Error> {
    // Refused inside a transaction block, open or failed: roll it back first.
    if sqlx::raw_sql("discard all")
        .execute(&mut *session)
        .await
        .is_err()
    {
        sqlx::raw_sql("rollback").execute(&mut *session).await?;
        sqlx::raw_sql("discard all").execute(&mut *session).await?;
    }
    // A round trip more, only after a test whose queries opened sessions (asked once no
    // transaction is left, which a failed one would refuse).
    if !opened_by_test.is_empty() {
        // Not a prepared statement: sqlx would take the one the test cached for the same
        // text, which `DISCARD ALL` just dropped on the server.
        let pid: i32 = sqlx::raw_sql("select pg_backend_pid()")
            .fetch_one(&mut *session)
            .await?
            .try_get(0)?;
        if opened_by_test.contains(&pid) {
            return session.close().await;
        }
    }
    session.clear_cached_statements().await
}
