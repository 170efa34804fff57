//! Write-ahead intents: how testbed proves it created a database it never got to mark.
//!
//! A database is testbed's once its comment says so, but the comment can only be
//! written after `CREATE DATABASE`: a process killed in between (normal when nextest
//! ends a run while a background fill is cloning) leaves a database nothing marks. So
//! before creating one, a process records its intent (the name, its owner token, its
//! pid, the time) in the `intents` table of `testbed_registry`, a database testbed
//! creates and marks; it clears the intent once the database is marked. An unmarked
//! database with an intent whose owner's lease is closed is testbed's, and the sweep
//! drops it. A database with neither a mark nor an intent is never touched.
//!
//! An intent is recorded only while no database of that name exists, so a database
//! made by hand before the intent can never be taken for testbed's.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use super::server::{ADMIN_PREFIX, LEASE_PREFIX, PgServer};
use super::{recycle, template};
use crate::{Backend, DbError, owner};

/// The database holding the intents.
pub(crate) const REGISTRY: &str = "testbed_registry";
/// The registry's comment.
const REGISTRY_COMMENT: &str = "testbed registry";

fn fail(action: &'static str) -> impl Fn(sqlx::Error) -> DbError {
    move |e| DbError::server(Backend::Postgres, action, e)
}

/// The registry's pool, the registry created and its table made on first use.
async fn registry(server: &PgServer) -> Result<&PgPool, DbError> {
    server
        .registry
        .get_or_try_init(|| async {
            let mut admin = server.pool.acquire().await.map_err(fail("connect"))?;
            match template::run(&mut admin, format!(r#"create database "{REGISTRY}""#)).await {
                Ok(()) => {}
                // Made by another process (or an earlier run).
                Err(error)
                    if error
                        .as_database_error()
                        .is_some_and(|db| db.code().as_deref() == Some("42P04")) => {}
                Err(error) => return Err(fail("create the registry `testbed_registry`")(error)),
            }
            // Marked every time: a process killed before marking leaves it unmarked.
            // Its commits need not wait for the disk: `CREATE DATABASE`, which follows
            // each intent, flushes the log that holds it.
            template::run(
                &mut admin,
                format!(
                    r#"comment on database "{REGISTRY}" is '{REGISTRY_COMMENT}';
                       alter database "{REGISTRY}" set synchronous_commit = off"#
                ),
            )
            .await
            .map_err(fail("mark the registry `testbed_registry`"))?;
            drop(admin);
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                .connect_lazy_with(server.options_for(REGISTRY));
            // Two processes making the table at once would collide in the catalog.
            sqlx::raw_sql(
                "begin;
                 select pg_advisory_xact_lock(7474656462656401);
                 create table if not exists intents (
                   datname text not null,
                   owner text not null,
                   pid integer not null,
                   since timestamptz not null default now(),
                   primary key (datname, owner)
                 );
                 commit;",
            )
            .execute(&pool)
            .await
            .map_err(fail("make the registry's `intents` table"))?;
            Ok(pool)
        })
        .await
}

/// Records this process's intent to create `name`: `false` (nothing recorded) if a
/// database of that name exists already.
pub(crate) async fn record(server: &PgServer, name: &str) -> Result<bool, DbError> {
    let pool = registry(server).await?;
    let recorded = sqlx::query(
        "insert into intents (datname, owner, pid)
         select $1, $2, $3
         where not exists (select from pg_database where datname = $1)
         on conflict do nothing",
    )
    .bind(name)
    .bind(owner::token())
    .bind(std::process::id() as i32)
    .execute(pool)
    .await
    .map_err(fail("record an intent in `testbed_registry`"))?;
    Ok(recorded.rows_affected() == 1)
}

/// Clears this process's intent to create `name` (made and marked, or given up).
pub(crate) async fn clear(server: &PgServer, name: &str) -> Result<(), DbError> {
    let pool = registry(server).await?;
    sqlx::query("delete from intents where datname = $1 and owner = $2")
        .bind(name)
        .bind(owner::token())
        .execute(pool)
        .await
        .map_err(fail("clear an intent in `testbed_registry`"))?;
    Ok(())
}

/// Drops the unmarked databases that dead owners recorded intents for, and clears the
/// intents of dead owners. Returns the names dropped. Nothing happens to a name a live
/// owner intends, to a marked database, or without the registry.
pub(crate) async fn sweep(
    server: &PgServer,
    conn: &mut PgConnection,
) -> Result<Vec<String>, DbError> {
    let exists: Option<bool> = sqlx::query_scalar(
        "select shobj_description(oid, 'pg_database') = $2 from pg_database where datname = $1",
    )
    .bind(REGISTRY)
    .bind(REGISTRY_COMMENT)
    .fetch_optional(&mut *conn)
    .await
    .map_err(fail("look for `testbed_registry`"))?;
    if exists != Some(true) {
        return Ok(Vec::new());
    }
    let mut registry = PgConnection::connect_with(&server.options_for(REGISTRY))
        .await
        .map_err(fail("connect to `testbed_registry`"))?;
    let result = sweep_with(&mut registry, conn).await;
    let _ = registry.close().await;
    result
}

async fn sweep_with(
    registry: &mut PgConnection,
    conn: &mut PgConnection,
) -> Result<Vec<String>, DbError> {
    let intents: Vec<(String, String)> = sqlx::query_as("select datname, owner from intents")
        .fetch_all(&mut *registry)
        .await
        .map_err(fail("list the intents"))?;
    // An owner counts as alive while its lease is open, and also while one of its admin
    // connections' backends runs: a process that exits during its `CREATE DATABASE`
    // leaves the statement running, and the database appears only when it commits.
    // Listed before the databases are looked at, so a backend gone from this list has
    // committed its database by then.
    let connections: Vec<String> = sqlx::query_scalar(
        "select application_name from pg_stat_activity
         where application_name like $1 or application_name like $2",
    )
    .bind(format!("{LEASE_PREFIX}%"))
    .bind(format!("{ADMIN_PREFIX}%"))
    .fetch_all(&mut *conn)
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
            // The pool's claim lock, held while dropping: nobody claims it meanwhile.
            let key = recycle::lock_key(name);
            let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut *conn)
                .await
                .map_err(fail("lock a database"))?;
            if !locked {
                continue;
            }
            let unmarked: Option<bool> = sqlx::query_scalar(
                "select shobj_description(oid, 'pg_database') is null
                 from pg_database where datname = $1",
            )
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(fail("look at an intended database"))?;
            let result = match unmarked {
                Some(true) => template::drop_database(conn, name).await.map(|()| true),
                _ => Ok(false),
            };
            let _ = sqlx::query("select pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await;
            if result
                .map_err(|e| DbError::server(Backend::Postgres, format!("drop `{name}`"), e))?
            {
                dropped.push(name.clone());
            }
        }
        sqlx::query("delete from intents where datname = $1 and owner = $2")
            .bind(name)
            .bind(owner)
            .execute(&mut *registry)
            .await
            .map_err(fail("clear a dead owner's intent"))?;
    }
    Ok(dropped)
}

/// Records the intent to create `name` and creates it as an empty database, unmarked:
/// what a process killed between `CREATE DATABASE` and its mark leaves. Internal, for
/// testbed's own tests of the sweep; not part of the API.
#[doc(hidden)]
pub async fn create_unmarked_for_tests(name: String) -> Result<(), DbError> {
    crate::engine::run(async move {
        let server = super::server().await?;
        if !record(&server, &name).await? {
            return Err(fail("record the intent")(sqlx::Error::Protocol(format!(
                "`{name}` exists"
            ))));
        }
        let mut conn = server.pool.acquire().await.map_err(fail("connect"))?;
        template::run(&mut conn, format!(r#"create database "{name}""#))
            .await
            .map_err(fail("create the intended database"))
    })
    .await
}
