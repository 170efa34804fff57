//! Giving a test a pooled MySQL database and taking it back: a free one claimed with a
//! named lock on this process's lease (built when all are taken), cleaned if a dead
//! holder left it dirty, and reset after the test.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::{MySql, MySqlConnection};
use testbed::{Outcome, Scope};

use super::registry::{self, State};
use super::reset::{inspect, reset, reset_or_rebuild, with_changes_undone};
use super::server::{self, MySqlServer, fail};
use super::template::{TemplateInfo, admin_connection, build_database, ensure_template};
use super::work::end_sessions_on;
use crate::pool_limit::{self, Holdings, TEST_POOL_CONNECTIONS};
use crate::schema::Prepared;
use crate::{Backend, DatabaseAcquireError, ServerCallError, TestDb, engine, owner};

/// The databases this process holds (MySQL's named locks are re-entrant within a
/// session, so the lock alone cannot stop this process from claiming one twice).
fn held() -> &'static Mutex<HashSet<String>> {
    static HELD: Mutex<Option<&'static Mutex<HashSet<String>>>> = Mutex::new(None);
    let mut slot = HELD.lock().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| Box::leak(Box::default()))
}

fn hold(name: &str) -> bool {
    held()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_owned())
}

fn unhold(name: &str) {
    held()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name);
}

/// Gives `scope`'s test a clean pooled database with `prepared`'s schema.
pub(crate) async fn acquire(
    prepared: Arc<Prepared>,
    scope: &Scope,
) -> Result<TestDb<sqlx::MySql>, DatabaseAcquireError> {
    let (server, template, name) = server::watched(engine::run(async move {
        let step = crate::trace::step("mysql server");
        let server = server::server().await?;
        step.end();
        // One admin connection for the template and the claim, opened when first needed.
        let mut admin = None;
        let step = crate::trace::step("mysql template");
        let template = engine::boxed(ensure_template(&server, &prepared, &mut admin)).await?;
        step.end();
        let step = crate::trace::step("mysql claim");
        let name = engine::boxed(claim(&server, &prepared, &template, &mut admin)).await?;
        step.end();
        Ok::<_, DatabaseAcquireError>((server, template, name))
    }))
    .await?;
    let url = server.url_of(&name);
    let holdings = Holdings::new(TEST_POOL_CONNECTIONS);
    let step = crate::trace::step("mysql connect");
    let pool = pool_limit::test_pool_options::<sqlx::MySql>(&holdings)
        .connect_with(server.options_for(&name))
        .await;
    step.end();
    let pool = match pool {
        Ok(pool) => pool,
        Err(error) => {
            release(server, template, name.clone(), Outcome::Passed).await?;
            return Err(ServerCallError::statement(
                Backend::MySql,
                format!("connect to `{name}`"),
                error,
            )
            .into());
        }
    };
    let (cleanup_pool, cleanup_name, cleanup_url, details) =
        (pool.clone(), name.clone(), url.clone(), scope.details());
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        pool_limit::close_test_pool(&cleanup_pool, Backend::MySql, &cleanup_name).await;
        let keep = outcome.is_failure() && owner::keep_failed();
        server::watched(release(server, template, cleanup_name, outcome)).await?;
        if keep {
            crate::handle::announce_kept(&details, Backend::MySql, &cleanup_url);
        }
        Ok::<(), ServerCallError>(())
    });
    pool_limit::explain_on_failure(scope, holdings, Backend::MySql, &name, "");
    Ok(TestDb {
        pool,
        url: Some(url),
        name,
        backend: Backend::MySql,
        isolation: crate::Isolation::Recycle,
        alive: Default::default(),
    })
}

/// Claims a free database of the pool (building one when all are taken).
async fn claim(
    server: &MySqlServer,
    prepared: &Prepared,
    template: &TemplateInfo,
    admin: &mut Option<PoolConnection<MySql>>,
) -> Result<String, DatabaseAcquireError> {
    for serial in 1.. {
        let name = format!("{}{}_{serial}", crate::owner::POOL_PREFIX, prepared.hash);
        if !hold(&name) {
            continue;
        }
        let locked: Option<i64> = {
            let mut lease = server.lease.lock().await;
            sqlx::query_scalar("select get_lock(?, 0)")
                .bind(name.clone())
                .fetch_one(&mut *lease)
                .await
                .map_err(fail("lock a pooled database"))?
        };
        if locked != Some(1) {
            unhold(&name);
            continue;
        }
        let conn = admin_connection(server, admin).await?;
        match prepare_claimed(server, conn, prepared, template, &name).await {
            Ok(true) => return Ok(name),
            Ok(false) => {
                release_lock(server, &name).await;
            }
            Err(error) => {
                release_lock(server, &name).await;
                return Err(error);
            }
        }
    }
    unreachable!("the pool is unbounded")
}

/// Makes a just-claimed database clean; `false` if it is kept for inspection.
async fn prepare_claimed(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
    prepared: &Prepared,
    template: &TemplateInfo,
    name: &str,
) -> Result<bool, DatabaseAcquireError> {
    let state = registry::claim_if_clean(conn, name, registry::now_millis()).await?;
    match state {
        // The common case, claimed in that one round trip.
        Some(State::Clean) => return Ok(true),
        Some(State::Kept) => return Ok(false),
        _ => {}
    }
    // A holder died with it (mid-test, mid-reset or mid-build): what it still had
    // running goes first, or it would land after the reset.
    end_sessions_on(conn, name).await?;
    if state == Some(State::Dirty) {
        // Left dirty by a test whose process died.
        reset_or_rebuild(server, conn, prepared, template, name).await?;
    } else {
        registry::put(
            conn,
            name,
            &prepared.hash,
            "pooled",
            State::Building,
            None,
            None,
        )
        .await?;
        build_database(server, conn, prepared, name).await?;
    }
    // Dirty from now on, so a crash mid-test leaves it marked for a reset (its claim
    // time was recorded by `claim_if_clean`).
    registry::set_state(conn, name, State::Dirty).await?;
    Ok(true)
}

async fn release_lock(server: &MySqlServer, name: &str) {
    let mut lease = server.lease.lock().await;
    let _ = sqlx::query("select release_lock(?)")
        .bind(name.to_owned())
        .execute(&mut *lease)
        .await;
    drop(lease);
    unhold(name);
}

/// Returns a test's database to the pool: reset (or rebuilt if the test changed its
/// schema), or kept when the test failed and `TESTBED_KEEP_FAILED` asks.
async fn release(
    server: Arc<MySqlServer>,
    template: TemplateInfo,
    name: String,
    outcome: Outcome,
) -> Result<(), ServerCallError> {
    let keep = outcome.is_failure() && owner::keep_failed();
    engine::run(async move {
        let result = engine::boxed(async {
            let mut conn = crate::server_cache::acquire(&*server, &server.pool)
                .await
                .map_err(fail("connect"))?;
            if keep {
                return registry::set_state(&mut conn, &name, State::Kept).await;
            }
            let step = crate::trace::step("mysql inspect");
            let mut used = inspect(&mut conn, &template, &name).await?;
            step.end();
            if used.other_sessions > 0 {
                // Sessions the test opened from the URL and kept (its pool is closed by
                // now): a write of theirs would otherwise land after the reset. Ended,
                // then the database is looked at again.
                let step = crate::trace::step("mysql end sessions");
                end_sessions_on(&mut conn, &name).await?;
                used = inspect(&mut conn, &template, &name).await?;
                step.end();
            }
            // A test's grants revoked, and a change to the schema undone here, table by
            // table, where it can be (else rebuilt by whoever claims the database next,
            // off this test's clock).
            let used = with_changes_undone(&mut conn, &template, &name, used).await?;
            if used.fingerprint == template.fingerprint {
                // Recorded clean in the reset's own round trip.
                let step = crate::trace::step("mysql reset");
                reset(&mut conn, &template, &name, &used, true).await?;
                step.end();
                Ok(())
            } else {
                // Rebuilt by whoever claims it next, off this test's clock.
                registry::set_state(&mut conn, &name, State::Building).await
            }
        })
        .await;
        release_lock(&server, &name).await;
        result
    })
    .await
}
