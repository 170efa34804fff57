//! Waiting for a pool's connections to come back to it: sqlx returns a connection to its
//! pool through a task, after a ping, so a connection given back is idle again only a
//! round trip later.

use std::time::Duration;

use sqlx::postgres::PgPool;

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
