//! What testbed holds on a PostgreSQL server, and sweeping what killed runs left.
//!
//! A database is testbed's only if its name starts `testbed_` and its comment is one
//! testbed wrote. A test database names its owner's token; the owner is alive while its
//! lease connection (application name `testbed-owner-<token>`) is open, so a sweep never
//! races with a running process, whatever its age.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use sqlx::{Connection, PgConnection};

use super::marks::{
    self, ADMIN_PREFIX, KEPT_COMMENT, LEASE_PREFIX, OWNED_PREFIX, TEMPLATE_COMMENT, last_used,
    owned_comment,
};
use super::server::PgServer;
use super::shrink;
use super::sql;
use super::template;
use crate::held::{Held, HeldKind};
use crate::schema::Prepared;
use crate::{Backend, DatabaseAcquireError, ServerCallError, owner};

pub(crate) async fn list(server: &PgServer) -> Result<Vec<Held>, ServerCallError> {
    let fail = |e| ServerCallError::statement(Backend::Postgres, "list testbed's databases", e);
    let mut lease = server.lease.lock().await;
    let rows: Vec<(String, String, bool, bool, bool)> = sqlx::query_as(
        r"select datname, coalesce(shobj_description(oid, 'pg_database'), ''),
                 datistemplate, datallowconn, datconnlimit = -2
          from pg_database where datname like 'testbed\_%' and pg_has_role(datdba, 'member')
          order by datname",
    )
    .fetch_all(&mut *lease)
    .await
    .map_err(fail)?;
    let connections = super::intent::owner_sessions(&mut lease)
        .await
        .map_err(fail)?;
    let alive: HashSet<&str> = connections
        .iter()
        .filter_map(|name| name.strip_prefix(LEASE_PREFIX))
        .collect();
    // An intent's owner also lives while a `CREATE DATABASE` of its admin connections
    // runs (see `intent::sweep`, which judges the same way).
    let creating: HashSet<&str> = connections
        .iter()
        .filter_map(|name| name.strip_prefix(ADMIN_PREFIX))
        .chain(alive.iter().copied())
        .collect();
    let locked: Vec<i64> = sqlx::query_scalar(
        "select (classid::bigint << 32) | objid::bigint from pg_locks
         where locktype = 'advisory' and objsubid = 1 and granted",
    )
    .fetch_all(&mut *lease)
    .await
    .map_err(fail)?;
    let intents: Vec<(String, String)> = sqlx::query_as("select datname, owner from intents")
        .fetch_all(&mut *lease)
        .await
        .map_err(fail)?;
    let intended: Vec<String> = intents.iter().map(|(name, _)| name.clone()).collect();
    // An unmarked database with an intent is testbed's: being made while its owner
    // lives, an orphan once it is gone (what the sweep and `prune` drop).
    let intended_kind = |name: &str| {
        let mut owners = intents
            .iter()
            .filter(|(intended, _)| intended == name)
            .map(|(_, owner)| owner.as_str());
        let first = owners.next()?;
        let live = std::iter::once(first)
            .chain(owners)
            .find(|owner| creating.contains(owner));
        Some(match live {
            Some(owner) => (HeldKind::InUse, owner.to_owned()),
            None => (HeldKind::Orphaned, first.to_owned()),
        })
    };
    drop(lease);
    let mut held = Vec::new();
    for (name, comment, is_template, allows_connections, invalid) in rows {
        let (kind, owner) = if invalid && is_marked(&comment) {
            // Left invalid by a `DROP DATABASE` cut off: it can only be dropped.
            (
                HeldKind::Orphaned,
                owner::owner_of(&name).map(str::to_owned),
            )
        } else if name.starts_with(crate::owner::TEMPLATE_PREFIX) {
            if name
                .strip_prefix(crate::owner::TEMPLATE_PREFIX)
                .is_none_or(|hash| hash.len() != 16)
            {
                continue;
            }
            let complete =
                is_template && !allows_connections && comment.starts_with(TEMPLATE_COMMENT);
            // Unfinished only if a builder recorded its intent or builds it now: a
            // name is no proof.
            let building = intended.contains(&name) || locked.contains(&sql::lock_key(&name));
            let kind = if complete {
                HeldKind::Template
            } else if building {
                HeldKind::Unfinished
            } else {
                continue; // not made by testbed: not ours to judge
            };
            (kind, None)
        } else if let Some((kind, owner)) =
            comment.is_empty().then(|| intended_kind(&name)).flatten()
        {
            (kind, Some(owner))
        } else if name.starts_with(crate::owner::POOL_PREFIX) {
            let kind = if comment == KEPT_COMMENT {
                HeldKind::Kept
            } else if comment != marks::POOL_COMMENT && comment != marks::LEGACY_POOL_COMMENT {
                continue; // not a comment testbed wrote: not ours to judge
            } else if locked.contains(&super::registry::pool_key(&name)) {
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

/// Whether `comment` is one testbed writes on its databases.
fn is_marked(comment: &str) -> bool {
    comment.starts_with(TEMPLATE_COMMENT)
        || comment.starts_with(OWNED_PREFIX)
        || [
            marks::POOL_COMMENT,
            marks::LEGACY_POOL_COMMENT,
            KEPT_COMMENT,
        ]
        .contains(&comment)
}

/// Drops the databases of `kinds` (orphans always; templates and kept ones on request).
/// Returns what was dropped.
pub(crate) async fn drop_kinds(
    server: &PgServer,
    kinds: &[HeldKind],
) -> Result<Vec<Held>, ServerCallError> {
    let mut dropped = Vec::new();
    let mut conn = PgConnection::connect_with(&server.admin)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Postgres, "connect", e))?;
    if kinds.contains(&HeldKind::Orphaned) {
        // Cut off between `CREATE DATABASE` and its mark: orphans too, proven by intents.
        for name in super::intent::sweep(&mut conn).await? {
            dropped.push(Held {
                backend: Backend::Postgres,
                owner: owner::owner_of(&name).map(str::to_owned),
                name,
                kind: HeldKind::Orphaned,
            });
        }
        // Pooled databases beyond what recent runs needed.
        for name in shrink::drop_idle(&mut conn).await? {
            dropped.push(held(name, HeldKind::Pooled));
        }
    }
    for held in list(server).await? {
        if !kinds.contains(&held.kind) {
            continue;
        }
        // Whoever builds a template or uses a pooled database holds its lock: leave
        // those alone, and hold the lock while dropping so nobody claims it meanwhile.
        let key = if held.name.starts_with(crate::owner::TEMPLATE_PREFIX) {
            Some(sql::lock_key(&held.name))
        } else if held.name.starts_with(crate::owner::POOL_PREFIX) {
            Some(super::registry::pool_key(&held.name))
        } else {
            None
        };
        // A template's users hold its use lock shared: leave the template to them.
        let use_key = held
            .name
            .starts_with(crate::owner::TEMPLATE_PREFIX)
            .then(|| sql::use_key(&held.name));
        let keys: Vec<i64> = key.into_iter().chain(use_key).collect();
        if !try_lock_all(&mut conn, &keys).await? {
            continue;
        }
        let result = sql::drop_database(&mut conn, &held.name).await;
        unlock_all(&mut conn, &keys).await;
        result.map_err(|e| {
            ServerCallError::statement(Backend::Postgres, format!("drop `{}`", held.name), e)
        })?;
        dropped.push(held);
    }
    // The ledger forgets what is gone (dropped here, by hand, or by an older testbed).
    let _ =
        sqlx::query("delete from pooled where datname not in (select datname from pg_database)")
            .execute(&mut conn)
            .await;
    let _ = conn.close().await;
    Ok(dropped)
}

/// Takes every advisory lock of `keys` on `conn`, or none: `false` if one is held
/// elsewhere.
async fn try_lock_all(conn: &mut PgConnection, keys: &[i64]) -> Result<bool, ServerCallError> {
    for (taken, key) in keys.iter().enumerate() {
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| ServerCallError::statement(Backend::Postgres, "lock a database", e))?;
        if !locked {
            unlock_all(conn, &keys[..taken]).await;
            return Ok(false);
        }
    }
    Ok(true)
}

async fn unlock_all(conn: &mut PgConnection, keys: &[i64]) {
    for key in keys {
        let _ = sqlx::query("select pg_advisory_unlock($1)")
            .bind(key)
            .execute(&mut *conn)
            .await;
    }
}

/// Drops stale templates and their pools; returns what was dropped.
///
/// Stale: a complete template testbed built (named `testbed_tpl_<hash>`, marked by its
/// comment) other than `current` (the one being ensured), that no live process uses,
/// and that was last used more than [`MAX_TEMPLATE_AGE`](crate::admin::MAX_TEMPLATE_AGE) ago or is not among the
/// [`KEEP_TEMPLATES`](crate::admin::KEEP_TEMPLATES) most recently used (`current` counting as one; `None`, from
/// `cargo testbed db prune`, keeps that many others). The policy of testbed's
/// `Persistent` sweep.
///
/// In use: a process holds the template's use lock (every process that ensured it,
/// for its whole life), its build lock, the lock of one of its pooled databases, or a
/// clone of it whose owner's lease is open. Such a template is kept whatever its age.
/// The pooled databases (those marked as pooled by testbed) go first, then the
/// template; databases testbed did not mark are never touched.
pub(crate) async fn sweep_stale(
    server: &PgServer,
    current: Option<&str>,
) -> Result<Vec<Held>, ServerCallError> {
    let fail = |e| ServerCallError::statement(Backend::Postgres, "list testbed's templates", e);
    let rows: Vec<(String, Option<Vec<String>>)> = sqlx::query_as(
        r"select d.datname, s.setconfig
          from pg_database d
          left join pg_db_role_setting s on s.setdatabase = d.oid and s.setrole = 0
          where d.datname like 'testbed\_tpl\_%' and d.datistemplate and not d.datallowconn
            and pg_has_role(d.datdba, 'member')
            and starts_with(coalesce(shobj_description(d.oid, 'pg_database'), ''), $1)",
    )
    .bind(TEMPLATE_COMMENT)
    .fetch_all(&server.pool)
    .await
    .map_err(fail)?;
    let now = SystemTime::now();
    let templates: Vec<(SystemTime, String)> = rows
        .into_iter()
        .filter(|(name, _)| is_template_name(name) && Some(name.as_str()) != current)
        .map(|(name, settings)| (last_used(settings.as_deref()), name))
        .collect();
    let stale = crate::retention::TEMPLATE_RETENTION.stale(templates, current.is_some(), now);
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = PgConnection::connect_with(&server.admin)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Postgres, "connect", e))?;
    let mut dropped = Vec::new();
    for name in stale {
        match drop_unused_template(&mut conn, &name).await {
            Ok(gone) => dropped.extend(gone),
            Err(error) => {
                let _ = conn.close().await;
                return Err(error);
            }
        }
    }
    let _ = conn.close().await;
    Ok(dropped)
}

fn is_template_name(name: &str) -> bool {
    name.strip_prefix(crate::owner::TEMPLATE_PREFIX)
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The template of `prepared` (see [`template::ensure`]); when this call built it, the
/// stale templates are swept too, since a new template is when old ones pile up.
pub(crate) async fn ensure_template(
    server: &PgServer,
    prepared: &Prepared,
) -> Result<Arc<template::Template>, DatabaseAcquireError> {
    let (template, built) = template::ensure(server, prepared).await?;
    if built {
        let _ = sweep_stale(server, Some(&template.name)).await;
    }
    Ok(template)
}

/// Drops template `name` and its pool unless something uses them; returns what it
/// dropped (nothing when in use).
async fn drop_unused_template(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Vec<Held>, ServerCallError> {
    let fail = |action: &str| {
        let action = format!("{action} of template `{name}`");
        move |e| ServerCallError::statement(Backend::Postgres, action, e)
    };
    let hash = name
        .strip_prefix(crate::owner::TEMPLATE_PREFIX)
        .unwrap_or_default();
    // Held until the template is gone: a process starting to use it meanwhile waits,
    // then rebuilds it.
    let keys = [sql::use_key(name), sql::lock_key(name)];
    if !try_lock_all(conn, &keys).await? {
        return Ok(Vec::new());
    }
    let result = async {
        let clones: Vec<String> = sqlx::query_scalar(
            "select datname from pg_database
             where shobj_description(oid, 'pg_database') = $1",
        )
        .bind(owned_comment(name))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("list the clones"))?;
        let leases: Vec<String> = sqlx::query_scalar(
            "select application_name from pg_stat_activity where application_name like $1",
        )
        .bind(format!("{LEASE_PREFIX}%"))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("list the leases"))?;
        let live_clone = clones.iter().any(|clone| {
            owner::owner_of(clone).is_some_and(|token| {
                leases
                    .iter()
                    .any(|lease| lease.strip_prefix(LEASE_PREFIX) == Some(token))
            })
        });
        if live_clone {
            return Ok(Vec::new());
        }
        let prefix = format!("{}{hash}_", crate::owner::POOL_PREFIX);
        let pooled: Vec<String> = sqlx::query_scalar(
            "select datname from pg_database
             where starts_with(datname, $1)
               and shobj_description(oid, 'pg_database') in ($2, $3)
             order by datname",
        )
        .bind(prefix.clone())
        .bind(marks::POOL_COMMENT)
        .bind(marks::LEGACY_POOL_COMMENT)
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("list the pool"))?;
        let pooled: Vec<String> = pooled
            .into_iter()
            .filter(|pool| {
                pool.strip_prefix(&prefix)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        let pool_keys: Vec<i64> = pooled
            .iter()
            .map(|pool| super::registry::pool_key(pool))
            .collect();
        if !try_lock_all(conn, &pool_keys).await? {
            return Ok(Vec::new()); // a test is using one
        }
        let mut dropped = Vec::new();
        let mut result = Ok(());
        for pool in pooled {
            if let Err(error) = sql::drop_database(conn, &pool).await {
                result = Err(ServerCallError::statement(
                    Backend::Postgres,
                    format!("drop `{pool}`"),
                    error,
                ));
                break;
            }
            dropped.push(held(pool, HeldKind::Pooled));
        }
        if result.is_ok() {
            result = sql::drop_database(conn, name).await.map_err(|e| {
                ServerCallError::statement(Backend::Postgres, format!("drop `{name}`"), e)
            });
            if result.is_ok() {
                template::forget(name);
                dropped.push(held(name.to_owned(), HeldKind::Template));
            }
        }
        unlock_all(conn, &pool_keys).await;
        result.map(|()| dropped)
    }
    .await;
    unlock_all(conn, &keys).await;
    result
}

fn held(name: String, kind: HeldKind) -> Held {
    Held {
        backend: Backend::Postgres,
        name,
        kind,
        owner: None,
    }
}

/// How often, at most, some process sweeps the orphans of killed runs.
const SWEEP_EVERY_SECONDS: u32 = 60;

/// Sweeps the orphans of killed runs, at most once per process and once a minute across
/// every process sharing the server (the registry records the last sweep): a test
/// process of a process-per-test runner does not pay for a sweep each time. The sweep
/// runs before the test gets its database, not in the background, so that it finishes
/// even in a process that exits right after its test.
pub(crate) async fn sweep_if_due(server: &Arc<PgServer>) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let due =
        super::registry::sweep_due(&mut *server.lease.lock().await, SWEEP_EVERY_SECONDS).await;
    if due {
        let _ = drop_kinds(server, &[HeldKind::Orphaned]).await;
    }
}

/// Lists what testbed holds on the PostgreSQL server at `url` (the admin URL; `None`:
/// `TESTBED_POSTGRES_URL` or the local default).
pub async fn status(url: Option<&str>) -> Result<Vec<Held>, ServerCallError> {
    let url = admin_url(url);
    crate::engine::run(async move { list(&*super::server::connect(&url).await?).await }).await
}

/// Drops the orphans and the stale templates with their pools (see [`sweep_stale`]) on
/// the PostgreSQL server at `url`, and every unused template and pool when `templates`,
/// kept databases when `kept`; returns what was dropped. Safe while other runs are
/// active: their databases and templates are in use, and templates being built are
/// locked.
pub async fn prune(
    url: Option<&str>,
    templates: bool,
    kept: bool,
) -> Result<Vec<Held>, ServerCallError> {
    let url = admin_url(url);
    let mut kinds = vec![HeldKind::Orphaned];
    if templates {
        kinds.extend([HeldKind::Template, HeldKind::Unfinished, HeldKind::Pooled]);
    }
    if kept {
        kinds.push(HeldKind::Kept);
    }
    let dropped = crate::engine::run(async move {
        let server = super::server::connect(&url).await?;
        let mut dropped = drop_kinds(&server, &kinds).await?;
        if !templates {
            dropped.extend(sweep_stale(&server, None).await?);
        }
        Ok(dropped)
    })
    .await;
    // The sweep's part in the throwaway cluster's life: stop it if nobody uses it.
    super::cluster::stop_if_unused();
    dropped
}

/// Drops the stale templates and their pools (see [`sweep_stale`]) on the PostgreSQL
/// server at `url`, and nothing else.
pub async fn sweep_templates(url: Option<&str>) -> Result<Vec<Held>, ServerCallError> {
    let url = admin_url(url);
    crate::engine::run(
        async move { sweep_stale(&*super::server::connect(&url).await?, None).await },
    )
    .await
}

fn admin_url(url: Option<&str>) -> String {
    url.map(str::to_owned)
        .or_else(|| std::env::var(super::POSTGRES_URL_ENV).ok())
        .unwrap_or_else(|| super::server::DEFAULT_URL.to_owned())
}
