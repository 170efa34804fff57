//! Write-ahead intents: how testbed proves it created a database it never got to mark.
//!
//! A database is testbed's once its comment says so, but the comment can only be
//! written after `CREATE DATABASE`: a process killed in between (a test process
//! SIGKILLed, or ended by a timeout) leaves a database nothing marks. So
//! before creating one, a process records its intent (the name, its owner token, its
//! pid, the time) in the `intents` table of `testbed_registry`, a database testbed
//! creates and marks; it clears the intent once the database is marked. An unmarked
//! database with an intent whose owner's lease is closed is testbed's, and the sweep
//! drops it. A database with neither a mark nor an intent is never touched.
//!
//! An intent is recorded only while no database of that name exists, so a database
//! made by hand before the intent can never be taken for testbed's.

use std::collections::HashSet;

use sqlx::PgConnection;

use super::marks::{ADMIN_PREFIX, LEASE_PREFIX};
use super::sql;
use crate::{Backend, ServerCallError, owner};

fn fail(action: &'static str) -> impl Fn(sqlx::Error) -> ServerCallError {
    move |e| ServerCallError::statement(Backend::Postgres, action, e)
}

/// The application names of testbed's lease and admin sessions on the server: an owner
/// lives while its lease (`LEASE_PREFIX`) is open, and is still creating a database
/// while one of its admin sessions (`ADMIN_PREFIX`) runs.
pub(crate) async fn owner_sessions(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select application_name from pg_stat_activity
         where application_name like $1 or application_name like $2",
    )
    .bind(format!("{LEASE_PREFIX}%"))
    .bind(format!("{ADMIN_PREFIX}%"))
    .fetch_all(conn)
    .await
}

/// Records this process's intent to create `name`: `false` (nothing recorded) if a
/// database of that name exists already.
pub(crate) async fn record(lease: &mut PgConnection, name: &str) -> Result<bool, ServerCallError> {
    let recorded = sqlx::query(
        "insert into intents (datname, owner, pid)
         select $1, $2, $3
         where not exists (select from pg_database where datname = $1)
         on conflict do nothing",
    )
    .bind(name)
    .bind(owner::token())
    .bind(std::process::id() as i32)
    .execute(&mut *lease)
    .await
    .map_err(fail("record an intent in `testbed_registry`"))?;
    Ok(recorded.rows_affected() == 1)
}

/// Clears this process's intent to create `name` (made and marked, or given up).
pub(crate) async fn clear(lease: &mut PgConnection, name: &str) -> Result<(), ServerCallError> {
    sqlx::query("delete from intents where datname = $1 and owner = $2")
        .bind(name)
        .bind(owner::token())
        .execute(&mut *lease)
        .await
        .map_err(fail("clear an intent in `testbed_registry`"))?;
    Ok(())
}

/// Clears every owner's intent to create `name`: for a builder that holds the lock under
/// which `name` is made, any other intent is a dead builder's.
pub(crate) async fn forget_all(conn: &mut PgConnection, name: &str) -> Result<(), ServerCallError> {
    sqlx::query("delete from intents where datname = $1")
        .bind(name)
        .execute(&mut *conn)
        .await
        .map_err(fail("clear the intents in `testbed_registry`"))?;
    Ok(())
}

/// Drops the unmarked databases that dead owners recorded intents for, and clears the
/// intents of dead owners. Returns the names dropped. Nothing happens to a name a live
/// owner intends, to a marked database, or without the registry. `conn` is connected
/// to the registry.
pub(crate) async fn sweep(conn: &mut PgConnection) -> Result<Vec<String>, ServerCallError> {
    let intents: Vec<(String, String)> = sqlx::query_as("select datname, owner from intents")
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("list the intents"))?;
    // An owner counts as alive while its lease is open, and also while one of its admin
    // connections' backends runs: a process that exits during its `CREATE DATABASE`
    // leaves the statement running, and the database appears only when it commits.
    // Listed before the databases are looked at, so a backend gone from this list has
    // committed its database by then.
    let connections = owner_sessions(&mut *conn)
        .await
        .map_err(fail("list the leases"))?;
    let alive: HashSet<&str> = connections
        .iter()
        .filter_map(|name| {
            name.strip_prefix(LEASE_PREFIX)
                .or_else(|| name.strip_prefix(ADMIN_PREFIX))
        })
        .collect();
    let intended_live: HashSet<&str> = intents
        .iter()
        .filter(|(_, owner)| alive.contains(owner.as_str()))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut dropped = Vec::new();
    for (name, owner) in &intents {
        if alive.contains(owner.as_str()) {
            continue;
        }
        if !intended_live.contains(name.as_str()) && name.starts_with(crate::NAME_PREFIX) {
            // The lock under which the name is made (a template's build lock, a pooled
            // database's claim), held while dropping: nobody makes it meanwhile.
            let key = if name.starts_with(crate::owner::TEMPLATE_PREFIX) {
                sql::lock_key(name)
            } else {
                super::registry::pool_key(name)
            };
            let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut *conn)
                .await
                .map_err(fail("lock a database"))?;
            if !locked {
                continue;
            }
            let found: Option<(bool, bool)> = sqlx::query_as(
                "select shobj_description(oid, 'pg_database') is null,
                        pg_has_role(datdba, 'member')
                 from pg_database where datname = $1",
            )
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(fail("look at an intended database"))?;
            let result = match found {
                Some((true, true)) => sql::drop_database(conn, name).await.map(|()| true),
                // Another role's: its own runs sweep it, and need the intent to.
                Some((_, false)) => {
                    let _ = sqlx::query("select pg_advisory_unlock($1)")
                        .bind(key)
                        .execute(&mut *conn)
                        .await;
                    continue;
                }
                _ => Ok(false),
            };
            let _ = sqlx::query("select pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await;
            if result.map_err(|e| {
                ServerCallError::statement(Backend::Postgres, format!("drop `{name}`"), e)
            })? {
                dropped.push(name.clone());
            }
        }
        sqlx::query("delete from intents where datname = $1 and owner = $2")
            .bind(name)
            .bind(owner)
            .execute(&mut *conn)
            .await
            .map_err(fail("clear a dead owner's intent"))?;
    }
    Ok(dropped)
}

/// Records the intent to create `name` and creates it as an empty database, unmarked:
/// what a process killed between `CREATE DATABASE` and its mark leaves. Internal, for
/// testbed's own tests of the sweep; not part of the API.
#[doc(hidden)]
pub async fn create_unmarked_for_tests(name: String) -> Result<(), ServerCallError> {
    crate::engine::run(async move {
        let server = super::server().await?;
        let mut lease = server.lease.lock().await;
        if !record(&mut lease, &name).await? {
            return Err(ServerCallError::failed(
                Backend::Postgres,
                "record the intent",
                format!("`{name}` exists"),
            ));
        }
        sql::run(&mut lease, format!(r#"create database "{name}""#))
            .await
            .map_err(fail("create the intended database"))
    })
    .await
}
