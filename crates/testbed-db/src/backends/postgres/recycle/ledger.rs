//! Who holds which pooled database, across processes: claiming one (or cloning a new
//! one), recording its state in the registry's ledger, letting it go, dropping it.
//!
//! The hand-over rules, which hold whatever a process does when it exits:
//! - A process holds pooled database `N` while its lease holds `N`'s claim lock
//!   (`registry::pool_key`). Only the holder touches `N`.
//! - `N` is created and dropped on a session that holds `N`'s existence lock
//!   (`registry::existence_key`) from before the statement to after it. A backend runs
//!   its statement to the end even when its client is gone, and releases its session's
//!   locks only when it exits, so the existence lock is held while a `CREATE DATABASE`
//!   or `DROP DATABASE` of `N` still runs, whatever became of its process; a claimer
//!   passes over a database whose existence lock is held. (Not on the lease, which
//!   every test of the process needs: a statement of 100 ms there would stall them.)
//! - What runs inside `N` (a test's queries, a reset) runs on other sessions, which can
//!   outlive a killed holder. So a claimer ends every session on `N` and waits for
//!   them to be gone before it uses `N` (the claim function does it in the same round
//!   trip as the claim).
//! - The ledger says `clean` only from the moment a holder finished resetting `N` to
//!   the moment the next one claims it, and only sessions of that holder's pool, idle,
//!   may be found on it then. Anything else (a holder killed mid-test, a statement
//!   still running, no ledger row) makes the claimer reset `N` before use.
//! - A holder may leave `N` recorded in use across its tests, resetting it after each,
//!   and record it clean only when it lets it go ([`let_go`]): the broker does, which
//!   saves two ledger writes per test. If it dies holding `N`, the next claimer finds
//!   `N` in use and resets it.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, MutexGuard};

use sqlx::PgConnection;

use super::super::intent;
use super::super::marks::{self, POOL_COMMENT, mark};
use super::super::registry;
use super::super::server::PgServer;
use super::super::sql;
use super::super::template::{Template, create_clone};
use crate::{Backend, ServerCallError, owner};

/// The names this process holds, so it never claims one twice (advisory locks are
/// re-entrant within a session).
fn held() -> MutexGuard<'static, HashSet<String>> {
    static HELD: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// A pooled database this process just claimed.
pub(crate) struct Claim {
    pub(crate) name: String,
    /// Usable as it is; otherwise reset it first.
    pub(crate) clean: bool,
}

fn fail(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> ServerCallError {
    let action = action.into();
    move |e| ServerCallError::statement(Backend::Postgres, action, e)
}

/// `testbed_pool_<hash>_`: the names of `template`'s pooled databases.
pub(crate) fn pool_prefix(template: &Template) -> String {
    let hash = template.name.rsplit('_').next().unwrap_or_default();
    format!("{}{hash}_", crate::owner::POOL_PREFIX)
}

/// Claims a free pooled database of `template`, or clones a new one.
pub(crate) async fn claim(
    server: &PgServer,
    template: &Template,
) -> Result<Claim, ServerCallError> {
    let prefix = pool_prefix(template);
    // Past a few invalid databases (dropped on the way), give up.
    for _ in 0..8 {
        // Under the lease's lock from the list of held names to the new name's entry in
        // it: advisory locks are re-entrant within the lease's session, so another task
        // of this process claiming meanwhile would get the same database.
        let mut lease = server.lease.lock().await;
        let skip: Vec<String> = held().iter().cloned().collect();
        let (claimed, clean, invalid, next_serial): (Option<String>, bool, bool, i32) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "select * from {}($1, $2, $3)",
                registry::claim_function()
            )))
            .bind(&prefix)
            .bind(POOL_COMMENT)
            .bind(&skip)
            .fetch_one(&mut *lease)
            .await
            .map_err(fail("claim a pooled database"))?;
        if let Some(name) = &claimed {
            held().insert(name.clone());
        }
        drop(lease);
        let Some(name) = claimed else {
            return clone_new(server, template, &prefix, next_serial).await;
        };
        if !invalid {
            return Ok(Claim { name, clean });
        }
        // Left invalid by an interrupted `DROP DATABASE`: it can only be dropped.
        drop_claimed(server, &name).await.map_err(|e| match e {
            ServerCallError::Statement { source, .. } => {
                fail(format!("drop the invalid `{name}`"))(source)
            }
            other => other,
        })?;
    }
    Err(ServerCallError::failed(
        Backend::Postgres,
        "claim a pooled database",
        "every pooled database found was invalid",
    ))
}

/// Clones `template` into the first free name from `next_serial` on.
async fn clone_new(
    server: &PgServer,
    template: &Template,
    prefix: &str,
    next_serial: i32,
) -> Result<Claim, ServerCallError> {
    for serial in next_serial..next_serial + 64 {
        let name = format!("{prefix}{serial}");
        if !try_lock(&mut *server.lease.lock().await, &name).await? {
            continue;
        }
        match clone_into(server, template, &name).await {
            Ok(true) => return Ok(Claim { name, clean: true }),
            // It exists (made by another process, or unmarked): the next name.
            Ok(false) => unclaim(server, &name).await,
            Err(error) => {
                unclaim(server, &name).await;
                return Err(error);
            }
        }
    }
    Err(ServerCallError::failed(
        Backend::Postgres,
        "find a free name for a pooled database",
        format!("64 names from `{prefix}{next_serial}` on were taken"),
    ))
}

/// Takes the claim lock of `name` on the lease: `true` if this process now holds it.
async fn try_lock(lease: &mut PgConnection, name: &str) -> Result<bool, ServerCallError> {
    if !held().insert(name.to_owned()) {
        return Ok(false);
    }
    let locked = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(registry::pool_key(name))
        .fetch_one(&mut *lease)
        .await;
    match locked {
        Ok(true) => Ok(true),
        Ok(false) => {
            held().remove(name);
            Ok(false)
        }
        Err(error) => {
            held().remove(name);
            Err(fail("lock a pooled database")(error))
        }
    }
}

async fn unlock(lease: &mut PgConnection, name: &str) {
    let _ = sqlx::query("select pg_advisory_unlock($1)")
        .bind(registry::pool_key(name))
        .execute(&mut *lease)
        .await;
    held().remove(name);
}

/// Whether this process holds `name` claimed: from its claim until it is let go, also
/// while it is being handed to a test, used, or reset.
pub(crate) fn holds(name: &str) -> bool {
    held().contains(name)
}

/// Lets `name` go, reset, recording it clean: for a holder that kept it recorded in
/// use while it held it (see the rules above). If the record fails, the claim still
/// goes: the next claimer finds `name` in use and resets it.
pub(crate) async fn let_go(server: &PgServer, name: &str) {
    let mut lease = server.lease.lock().await;
    let _ = registry::mark_clean(&mut lease, name, owner::token()).await;
    unlock(&mut lease, name).await;
}

/// Forgets that this process holds `name`, whose claim died with a lost lease.
pub(crate) fn forget(name: &str) {
    held().remove(name);
}

/// Lets `name` go: the next claimer (this process or another) takes it as the ledger
/// says.
pub(crate) async fn unclaim(server: &PgServer, name: &str) {
    unlock(&mut *server.lease.lock().await, name).await;
}

/// A connection of the admin pool holding `name`'s existence lock, for creating or
/// dropping it; `None` if another session holds it (a dead holder's statement runs).
async fn for_existence(
    server: &PgServer,
    name: &str,
    wait: bool,
) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>, ServerCallError> {
    let mut conn = crate::server_cache::acquire(server, &server.pool)
        .await
        .map_err(fail("connect to `testbed_registry`"))?;
    let sql = if wait {
        "select pg_advisory_lock($1) is not null"
    } else {
        "select pg_try_advisory_lock($1)"
    };
    let locked: bool = sqlx::query_scalar(sql)
        .bind(registry::existence_key(name))
        .fetch_one(&mut *conn)
        .await
        .map_err(fail(format!("lock the existence of `{name}`")))?;
    Ok(locked.then_some(conn))
}

async fn end_existence(conn: &mut PgConnection, name: &str) {
    let _ = sqlx::query("select pg_advisory_unlock($1)")
        .bind(registry::existence_key(name))
        .execute(&mut *conn)
        .await;
}

/// Clones `template` into `name`, which this process has claimed; `false` if `name`
/// already exists (or is being made or dropped).
async fn clone_into(
    server: &PgServer,
    template: &Template,
    name: &str,
) -> Result<bool, ServerCallError> {
    let Some(mut conn) = for_existence(server, name, false).await? else {
        return Ok(false);
    };
    let made = create_marked(&mut conn, server, template, name).await;
    end_existence(&mut conn, name).await;
    made
}

async fn create_marked(
    conn: &mut PgConnection,
    server: &PgServer,
    template: &Template,
    name: &str,
) -> Result<bool, ServerCallError> {
    if !intent::record(conn, name).await? {
        return Ok(false);
    }
    match create_clone(conn, server, &template.name, name).await {
        Ok(()) => {}
        Err(error) if sql::has_code(&error, "42P04") || sql::has_code(&error, "23505") => {
            intent::clear(conn, name).await?;
            return Ok(false);
        }
        Err(error) => {
            // Nothing was made: the intent has nothing left to prove.
            let _ = intent::clear(conn, name).await;
            let hint = sql::clone_hint(&error);
            return Err(fail(format!("clone template `{}`{hint}", template.name))(
                error,
            ));
        }
    }
    // A failed mark keeps the intent: once this process is gone, the sweep drops the
    // database.
    sql::run(conn, mark(name, POOL_COMMENT, template.settings_source()))
        .await
        .map_err(fail(format!("mark `{name}`")))?;
    registry::mark_in_use(conn, name).await?;
    intent::clear(conn, name).await?;
    Ok(true)
}

/// Records that this process finished resetting `name`, which it still holds.
pub(crate) async fn mark_clean(server: &PgServer, name: &str) -> Result<(), ServerCallError> {
    registry::mark_clean(&mut *server.lease.lock().await, name, owner::token()).await
}

/// Records that `name`, held by this process, goes to a test.
pub(crate) async fn mark_in_use(server: &PgServer, name: &str) -> Result<(), ServerCallError> {
    registry::mark_in_use(&mut *server.lease.lock().await, name).await
}

/// Drops `name`, which this process holds (its schema was changed), then lets it go.
pub(crate) async fn drop_claimed(server: &PgServer, name: &str) -> Result<(), ServerCallError> {
    let dropped = match for_existence(server, name, true).await {
        Ok(Some(mut conn)) => {
            let dropped = sql::drop_database(&mut conn, name).await;
            registry::forget(&mut conn, name).await;
            end_existence(&mut conn, name).await;
            dropped.map_err(fail(format!("drop `{name}`")))
        }
        Ok(None) => Err(ServerCallError::failed(
            Backend::Postgres,
            format!("lock the existence of `{name}`"),
            "the lock was not granted",
        )),
        Err(error) => Err(error),
    };
    unclaim(server, name).await;
    dropped
}

/// Marks `name`, which this process holds, as a failing test's database kept for
/// inspection (out of the pool), then lets it go.
pub(crate) async fn keep(server: &PgServer, name: &str) -> Result<(), ServerCallError> {
    let comment = marks::KEPT_COMMENT;
    let mut lease = server.lease.lock().await;
    let kept = sql::run(
        &mut lease,
        format!(r#"comment on database "{name}" is '{comment}'"#),
    )
    .await;
    registry::forget(&mut lease, name).await;
    unlock(&mut lease, name).await;
    kept.map_err(fail(format!("keep `{name}`")))
}
