//! Giving a test a pooled PostgreSQL database and taking it back: through the broker
//! when one serves, else from this process's warm pool or a fresh claim in the ledger;
//! after the test, reset and recorded clean, or dropped.

use std::sync::Arc;

use testbed::{Outcome, Scope};

use super::super::server::{PgServer, server};
use super::super::sql;
use super::rollback::RollbackSession;
use super::session::Claimed;
use super::warm::Warm;
use super::{broker, ledger, returned, session, warm};
use crate::pool_limit;
use crate::schema::Prepared;
use crate::{
    Backend, DatabaseAcquireError, Isolation, ServerCallError, TestDb, engine, owner, trace,
};

/// Gives `scope`'s test a clean pooled database of `prepared`'s template, for
/// `isolation`: `Recycle`, or `Rollback`.
///
/// With `Rollback`, the test's pool has one connection that runs inside a transaction
/// opened when it connects and rolled back after the test: nothing the test writes is
/// ever committed, so there is nothing to reset.
pub(crate) async fn acquire(
    prepared: Arc<Prepared>,
    isolation: Isolation,
    scope: &Scope,
) -> Result<TestDb<sqlx::Postgres>, DatabaseAcquireError> {
    let rollback = isolation == Isolation::Rollback;
    if broker::enabled()
        && warm::is_empty_here(&prepared.hash)
        && let Some(acquired) = broker::acquire(&prepared, isolation, scope).await
    {
        return acquired.map_err(Into::into);
    }
    let (warm, claimed) = match warm::take_here(&prepared.hash) {
        Some((warm, claimed)) => {
            let (server, name) = (warm.server.clone(), claimed.name.clone());
            let marked = engine::run(async move { ledger::mark_in_use(&server, &name).await });
            if let Err(error) = marked.await {
                warm.push(claimed);
                return Err(error.into());
            }
            (warm, claimed)
        }
        None => {
            let work_prepared = prepared.clone();
            let taken = engine::run(async move {
                let probe = trace::step("probe");
                let server = server().await?;
                probe.end();
                let sweep = trace::step("sweep");
                engine::boxed(super::super::inventory::sweep_if_due(&server)).await;
                sweep.end();
                let ensure = trace::step("template");
                let template = engine::boxed(super::super::inventory::ensure_template(
                    &server,
                    &work_prepared,
                ))
                .await?;
                ensure.end();
                let warm = warm::warm_for(&server, &template);
                // In rollback mode the test works on a pool of its own: open nothing
                // here that it would not use.
                let open = if rollback {
                    session::Sessions::NONE
                } else {
                    session::Sessions::test()
                };
                let claimed = engine::boxed(claim_ready(&server, &warm, open)).await?;
                Ok::<_, DatabaseAcquireError>((warm, claimed))
            })
            .await?;
            warm::remember(&prepared.hash, &taken.0);
            taken
        }
    };
    let server = warm.server.clone();
    let name = claimed.name.clone();
    let url = server.url_of(&name);
    let claimed = if rollback {
        engine::run(ready_for_rollback(server.clone(), claimed)).await?
    } else {
        claimed
    };
    let (pool, holdings, more) = match &claimed.rollback {
        Some(session) if rollback => (
            session.pool.clone(),
            session.holdings.clone(),
            RollbackSession::ALLOWS_MORE,
        ),
        _ => (claimed.pool.clone(), claimed.holdings.clone(), ""),
    };
    let details = scope.details();
    let cleanup_url = url.clone();
    let alive = Arc::new(());
    let handles = Arc::downgrade(&alive);
    scope.add_async_cleanup(move |outcome: Outcome| {
        super::super::server::watched(release(
            warm,
            claimed,
            rollback,
            (cleanup_url, details, handles),
            outcome,
        ))
    });
    pool_limit::explain_on_failure(scope, holdings, Backend::Postgres, &name, more);
    Ok(TestDb {
        pool,
        url: Some(url),
        name,
        backend: Backend::Postgres,
        isolation,
        alive,
    })
}

/// Gives `claimed` a `Rollback` session in a new transaction: the one kept with it from
/// this process's last `Rollback` test there, or a new one (also when the kept one
/// cannot begin: its connection was lost). On failure the claim goes; the ledger has the
/// database in use, so its next claimer resets it. Runs on the engine.
async fn ready_for_rollback(
    server: Arc<PgServer>,
    mut claimed: Claimed,
) -> Result<Claimed, ServerCallError> {
    if let Some(kept) = &claimed.rollback
        && kept.begin().await.is_err()
    {
        kept.pool.close().await;
        claimed.rollback = None;
    }
    if claimed.rollback.is_none() {
        let new = RollbackSession::new(session::pool_options(&server, &claimed.name));
        if let Err(error) = new.begin().await {
            new.pool.close().await;
            claimed.close().await;
            ledger::unclaim(&server, &claimed.name).await;
            return Err(error);
        }
        claimed.rollback = Some(new);
    }
    Ok(claimed)
}

/// Claims a pooled database (or makes a clone) and readies it: its pool open with
/// `open` connections, and reset unless the ledger and the claim found it clean. Loops
/// past databases whose schema a killed test changed, and databases gone meanwhile.
pub(super) async fn claim_ready(
    server: &PgServer,
    warm: &Warm,
    open: session::Sessions,
) -> Result<Claimed, ServerCallError> {
    for _attempt in 0..5 {
        let step = trace::step("claim");
        let claim = ledger::claim(server, &warm.template).await?;
        step.end();
        let step = trace::step("connect");
        let opened = session::open_pool(server, &claim.name, open).await;
        step.end();
        let mut claimed = match opened {
            Ok(claimed) => claimed,
            Err(ServerCallError::Statement { source, .. }) if sql::is_missing(&source) => {
                // Dropped by an older testbed, or by hand: try the next one.
                ledger::unclaim(server, &claim.name).await;
                continue;
            }
            Err(error) => {
                ledger::unclaim(server, &claim.name).await;
                return Err(error);
            }
        };
        if claim.clean {
            return Ok(claimed);
        }
        let step = trace::step("reset a dirty claim");
        let reset = claimed.reset(server, &warm.template).await;
        step.end();
        match reset {
            Ok(true) => return Ok(claimed),
            Ok(false) => {
                claimed.pool.close().await;
                ledger::drop_claimed(server, &claim.name).await?;
            }
            Err(error) => {
                claimed.pool.close().await;
                forget_or_drop(server, &claim.name, &error).await?;
                return Err(error);
            }
        }
    }
    Err(ServerCallError::failed(
        Backend::Postgres,
        "find a usable pooled database",
        "every pooled database had a changed schema",
    ))
}

/// After a failed reset of `name`: drop it, unless the server is out of reach, where
/// it is only forgotten (its claim died with the connection; the next claimer finds it
/// not recorded clean and resets it).
async fn forget_or_drop(
    server: &PgServer,
    name: &str,
    error: &ServerCallError,
) -> Result<(), ServerCallError> {
    if error.is_connection_lost() {
        ledger::forget(name);
        return Ok(());
    }
    ledger::drop_claimed(server, name).await
}

/// After the test: reset the database and record it clean, keeping it (and its
/// connections) for this process's next test; or drop it if the test changed its
/// schema; or keep it for inspection. `rollback`: the test used `claimed`'s `Rollback`
/// session, kept for the process's next `Rollback` test when its transaction was still
/// open. `handles` sees the test's `TestDb`s: while one is still held (kept in a
/// `static`, say; the leak checks report it), the pool it holds is closed, not handed to
/// the next test.
async fn release(
    warm: Arc<Warm>,
    mut claimed: Claimed,
    rollback: bool,
    (url, details, handles): (String, testbed::Details, std::sync::Weak<()>),
    outcome: Outcome,
) -> Result<(), ServerCallError> {
    let server = warm.server.clone();
    let session = if rollback {
        claimed.rollback.take()
    } else {
        None
    };
    if outcome.is_failure() && owner::keep_failed() {
        if let Some(session) = &session {
            let _ = session.commit().await;
            pool_limit::close_test_pool(&session.pool, Backend::Postgres, &claimed.name).await;
        }
        pool_limit::close_test_pool(&claimed.pool, Backend::Postgres, &claimed.name).await;
        claimed.close().await;
        let name = claimed.name.clone();
        engine::run(async move { ledger::keep(&server, &name).await }).await?;
        crate::handle::announce_kept(&details, Backend::Postgres, &url);
        return Ok(());
    }
    if let Some(session) = session {
        let untouched = matches!(session.roll_back().await, Ok(true))
            && session::rewind_sequences(&warm.template, &session.pool)
                .await
                .is_ok();
        if untouched {
            // Still in its transaction: the rollback undid everything.
            let held = handles.strong_count() != 0;
            let name = claimed.name.clone();
            let claimed = engine::run(async move {
                if session.end_for_next(held).await {
                    claimed.rollback = Some(session);
                } else {
                    pool_limit::close_test_pool(&session.pool, Backend::Postgres, &name).await;
                }
                ledger::mark_clean(&server, &name).await.map(|()| claimed)
            })
            .await?;
            warm.push(claimed);
            return Ok(());
        }
        pool_limit::close_test_pool(&session.pool, Backend::Postgres, &claimed.name).await;
    }
    // The test's connections go back to the pool through tasks on the test's runtime:
    // wait for them on the engine, before that runtime ends.
    let pool = claimed.pool.clone();
    let step = trace::step("wait for the test's connections");
    let reusable = engine::run(async move { returned::reusable(&pool).await }).await
        && handles.strong_count() == 0;
    step.end();
    if !reusable {
        // Closing waits for the test's connections to end, so none holds a lock the
        // reset would wait for.
        pool_limit::close_test_pool(&claimed.pool, Backend::Postgres, &claimed.name).await;
        let (opener, name) = (server.clone(), claimed.name.clone());
        // Its other sessions stay: no test held them.
        let sessions = session::Sessions {
            reset_session: false,
            ..session::Sessions::test()
        };
        let reopened = engine::run(async move {
            engine::boxed(session::open_pool(&opener, &name, sessions)).await
        })
        .await;
        match reopened {
            Ok(fresh) => claimed.replace_pool(fresh),
            Err(error) => {
                claimed.close().await;
                let name = claimed.name.clone();
                engine::run(async move { ledger::unclaim(&server, &name).await }).await;
                return Err(error);
            }
        }
    }
    engine::run(async move {
        let name = claimed.name.clone();
        let step = trace::step("end sessions");
        // Including sessions the test opened from the URL and kept: a transaction of
        // theirs, committed later, would land after the reset.
        let ended = engine::boxed(claimed.end_test_sessions()).await;
        step.end();
        let step = trace::step("reset");
        let (reset, opened_by_test) = match ended {
            Ok(opened) => (
                engine::boxed(claimed.reset(&server, &warm.template)).await,
                opened,
            ),
            Err(error) => (Err(error), 0),
        };
        step.end();
        match reset {
            Ok(true) => {
                let step = trace::step("record clean");
                engine::boxed(ledger::mark_clean(&server, &name)).await?;
                step.end();
                let step = trace::step("grow the pool to the test's use");
                engine::boxed(session::grow_to_the_tests_use(&claimed, opened_by_test)).await;
                step.end();
                // The sessions `end_sessions` ended come back to the pool after a ping,
                // which the reset (on a session of its own) did not wait for: the next
                // test's queries would otherwise find none idle and open more.
                returned::idle(&claimed.pool).await;
                warm.push(claimed);
                Ok(())
            }
            // The test changed the schema: a new clone will take its place.
            Ok(false) => {
                claimed.close().await;
                engine::boxed(ledger::drop_claimed(&server, &name)).await
            }
            Err(error) => {
                claimed.close().await;
                let _ = engine::boxed(forget_or_drop(&server, &name, &error)).await;
                Err(error)
            }
        }
    })
    .await
}
