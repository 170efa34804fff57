//! What testbed holds on a PostgreSQL server, and sweeping what killed runs left.
//!
//! A database is testbed's only if its name starts `testbed_` and its comment is one
//! testbed wrote. A test database names its owner's token; the owner is alive while its
//! lease connection (application name `testbed-owner-<token>`) is open, so a sweep never
//! races with a running process, whatever its age.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Connection, PgConnection};

use super::recycle;
use super::server::{LEASE_PREFIX, PgServer};
use super::template::{self, TEMPLATE_COMMENT};
use crate::{Backend, DbError, owner};

/// The comment of a failing test's database kept for inspection.
pub(crate) const KEPT_COMMENT: &str = "testbed kept";
const OWNED_PREFIX: &str = "testbed owner";

pub(crate) fn owned_comment(template: &str) -> String {
    format!("{OWNED_PREFIX} of {template}")
}

/// A database testbed holds on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The server's backend.
    pub backend: Backend,
    /// The database's name.
    pub name: String,
    /// What it is for.
    pub kind: HeldKind,
    /// The owner token, for a test's database.
    pub owner: Option<String>,
}

/// What a [`Held`] database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeldKind {
    /// A complete template, reused by later runs.
    Template,
    /// A template being built, or left half-built by a crash (rebuilt on next use).
    Unfinished,
    /// A test's database whose owner process is running.
    InUse,
    /// A clean database waiting in a pool for its next test.
    Pooled,
    /// A failing test's database kept by `TESTBED_KEEP_FAILED`.
    Kept,
    /// A test's database whose owner is gone: safe to drop.
    Orphaned,
}

impl std::fmt::Display for HeldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeldKind::Template => "template",
            HeldKind::Unfinished => "unfinished template",
            HeldKind::InUse => "in use",
            HeldKind::Pooled => "pooled",
            HeldKind::Kept => "kept",
            HeldKind::Orphaned => "orphaned",
        })
    }
}

pub(crate) async fn list(server: &PgServer) -> Result<Vec<Held>, DbError> {
    let fail = |e| DbError::server(Backend::Postgres, "list testbed's databases", e);
    let rows: Vec<(String, String, bool, bool)> = sqlx::query_as(
        r"select datname, coalesce(shobj_description(oid, 'pg_database'), ''),
                 datistemplate, datallowconn
          from pg_database where datname like 'testbed\_%' order by datname",
    )
    .fetch_all(&server.pool)
    .await
    .map_err(fail)?;
    let leases: Vec<String> = sqlx::query_scalar(
        "select application_name from pg_stat_activity where application_name like $1",
    )
    .bind(format!("{LEASE_PREFIX}%"))
    .fetch_all(&server.pool)
    .await
    .map_err(fail)?;
    let alive: HashSet<&str> = leases
        .iter()
        .filter_map(|name| name.strip_prefix(LEASE_PREFIX))
        .collect();
    let locked: Vec<i64> = sqlx::query_scalar(
        "select (classid::bigint << 32) | objid::bigint from pg_locks
         where locktype = 'advisory' and objsubid = 1 and granted",
    )
    .fetch_all(&server.pool)
    .await
    .map_err(fail)?;
    let mut held = Vec::new();
    for (name, comment, is_template, allows_connections) in rows {
        let (kind, owner) = if name.starts_with("testbed_tpl_") {
            if name
                .strip_prefix("testbed_tpl_")
                .is_none_or(|hash| hash.len() != 16)
            {
                continue;
            }
            let complete =
                is_template && !allows_connections && comment.starts_with(TEMPLATE_COMMENT);
            let kind = if complete {
                HeldKind::Template
            } else {
                HeldKind::Unfinished
            };
            (kind, None)
        } else if name.starts_with(recycle::POOL_PREFIX) {
            let kind = if comment == KEPT_COMMENT {
                HeldKind::Kept
            } else if comment != recycle::POOL_COMMENT {
                continue; // not a comment testbed wrote: not ours to judge
            } else if locked.contains(&recycle::lock_key(&name)) {
                HeldKind::InUse
            } else {
                HeldKind::Pooled
            };
            (kind, None)
        } else {
            let Some(token) = owner::owner_of(&name) else {
                continue;
            };
            let kind = if comment == KEPT_COMMENT {
                HeldKind::Kept
            } else if !comment.starts_with(OWNED_PREFIX) {
                continue; // not a comment testbed wrote: not ours to judge
            } else if alive.contains(token) {
                HeldKind::InUse
            } else {
                HeldKind::Orphaned
            };
            (kind, Some(token.to_owned()))
        };
        held.push(Held {
            backend: Backend::Postgres,
            name,
            kind,
            owner,
        });
    }
    Ok(held)
}

/// Drops the databases of `kinds` (orphans always; templates and kept ones on request).
/// Returns what was dropped.
pub(crate) async fn drop_kinds(
    server: &PgServer,
    kinds: &[HeldKind],
) -> Result<Vec<Held>, DbError> {
    let mut dropped = Vec::new();
    let mut conn = PgConnection::connect_with(&server.admin)
        .await
        .map_err(|e| DbError::server(Backend::Postgres, "connect", e))?;
    for held in list(server).await? {
        if !kinds.contains(&held.kind) {
            continue;
        }
        // Whoever builds a template or uses a pooled database holds its lock: leave
        // those alone, and hold the lock while dropping so nobody claims it meanwhile.
        let key = if held.name.starts_with("testbed_tpl_") {
            Some(template::lock_key(&held.name))
        } else if held.name.starts_with(recycle::POOL_PREFIX) {
            Some(recycle::lock_key(&held.name))
        } else {
            None
        };
        if let Some(key) = key {
            let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| DbError::server(Backend::Postgres, "lock a database", e))?;
            if !locked {
                continue;
            }
        }
        let result = template::drop_database(&mut conn, &held.name).await;
        if let Some(key) = key {
            let _ = sqlx::query("select pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut conn)
                .await;
        }
        result
            .map_err(|e| DbError::server(Backend::Postgres, format!("drop `{}`", held.name), e))?;
        dropped.push(held);
    }
    let _ = conn.close().await;
    Ok(dropped)
}

/// Sweeps the orphans of killed runs, once per process, in the background.
pub(crate) async fn sweep_once(server: &Arc<PgServer>) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let server = server.clone();
    crate::engine::handle().spawn(async move {
        let _ = drop_kinds(&server, &[HeldKind::Orphaned]).await;
    });
}

/// Lists what testbed holds on the PostgreSQL server at `url` (the admin URL; `None`:
/// `TESTBED_POSTGRES_URL` or the local default).
pub async fn status(url: Option<&str>) -> Result<Vec<Held>, DbError> {
    let url = admin_url(url);
    crate::engine::run(async move { list(&*super::server::connect(&url).await?).await }).await
}

/// Drops the orphans on the PostgreSQL server at `url` (and templates and kept databases
/// when `templates` / `kept`); returns what was dropped. Safe while other runs are
/// active: their databases are in use, and templates being built are locked.
pub async fn prune(url: Option<&str>, templates: bool, kept: bool) -> Result<Vec<Held>, DbError> {
    let url = admin_url(url);
    let mut kinds = vec![HeldKind::Orphaned];
    if templates {
        kinds.extend([HeldKind::Template, HeldKind::Unfinished, HeldKind::Pooled]);
    }
    if kept {
        kinds.push(HeldKind::Kept);
    }
    let dropped = crate::engine::run(async move {
        drop_kinds(&*super::server::connect(&url).await?, &kinds).await
    })
    .await;
    // The sweep's part in the throwaway cluster's life: stop it if nobody uses it.
    super::cluster::stop_if_unused();
    dropped
}

fn admin_url(url: Option<&str>) -> String {
    url.map(str::to_owned)
        .or_else(|| std::env::var(super::POSTGRES_URL_ENV).ok())
        .unwrap_or_else(|| super::server::DEFAULT_URL.to_owned())
}
