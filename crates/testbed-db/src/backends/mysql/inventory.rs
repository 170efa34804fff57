//! What testbed holds on a MySQL server, from its registry and the named locks of live
//! processes, and pruning it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection, MySqlConnection};

use super::registry::{self, State};
use super::server::{self, MySqlServer};
use crate::held::{Held, HeldKind, PruneOptions};
use crate::{Backend, ServerCallError, engine};

async fn list(server: &MySqlServer) -> Result<Vec<Held>, ServerCallError> {
    let exists: Option<String> = sqlx::query_scalar(
        "select cast(schema_name as char) from information_schema.schemata where schema_name = ?",
    )
    .bind(registry::REGISTRY)
    .fetch_optional(&server.pool)
    .await
    .map_err(|e| ServerCallError::statement(Backend::MySql, "look for the registry", e))?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut held = Vec::new();
    for row in registry::all(&server.pool).await? {
        let in_use: Option<i64> = sqlx::query_scalar("select is_used_lock(?)")
            .bind(row.name.clone())
            .fetch_one(&server.pool)
            .await
            .map_err(|e| ServerCallError::statement(Backend::MySql, "read the locks", e))?;
        let state = State::parse(&row.state);
        let kind = match (row.kind.as_str(), state, in_use.is_some()) {
            ("template", State::Clean, _) => HeldKind::Template,
            ("template", _, _) => HeldKind::Unfinished,
            (_, State::Kept, _) => HeldKind::Kept,
            (_, _, true) => HeldKind::InUse,
            // Free: clean, or reset or rebuilt by its next claimer (its test changed the
            // schema, or was killed): a member of the pool either way, as on PostgreSQL.
            (_, _, false) => HeldKind::Pooled,
        };
        held.push(Held {
            backend: Backend::MySql,
            name: row.name,
            kind,
            owner: None,
        });
    }
    Ok(held)
}

async fn drop_kinds(
    server: &MySqlServer,
    kinds: &[HeldKind],
) -> Result<Vec<Held>, ServerCallError> {
    let mut conn = MySqlConnection::connect_with(&server.admin)
        .await
        .map_err(|e| ServerCallError::statement(Backend::MySql, "connect", e))?;
    let mut dropped = Vec::new();
    for held in list(server).await? {
        if !kinds.contains(&held.kind) {
            continue;
        }
        // Hold the database's lock while dropping it, so no run claims it meanwhile.
        let locked: Option<i64> = sqlx::query_scalar("select get_lock(?, 0)")
            .bind(held.name.clone())
            .fetch_one(&mut conn)
            .await
            .map_err(|e| ServerCallError::statement(Backend::MySql, "lock", e))?;
        if locked != Some(1) {
            continue;
        }
        // A killed holder's last statement may still run on it: leave it for now.
        if !super::work::try_lock_work(&mut conn, &held.name, 0).await? {
            let _ = sqlx::query("select release_lock(?)")
                .bind(held.name.clone())
                .execute(&mut conn)
                .await;
            continue;
        }
        // A template's users hold one of its use locks: leave the template to them.
        if held.kind == HeldKind::Template && any_used(&mut conn, &held.name).await? {
            let _ = sqlx::query("select release_lock(?)")
                .bind(held.name.clone())
                .execute(&mut conn)
                .await;
            continue;
        }
        let result = drop_registered(&mut conn, &held.name).await;
        super::work::unlock_work(&mut conn, &held.name).await;
        let _ = sqlx::query("select release_lock(?)")
            .bind(held.name.clone())
            .execute(&mut conn)
            .await;
        result?;
        dropped.push(held);
    }
    let _ = conn.close().await;
    Ok(dropped)
}

/// How many processes can mark a template as in use at once (one named lock each).
pub(super) const USE_SLOTS: usize = 64;

/// The named locks that mark template `name` as in use: a process that uses it holds
/// one on its lease for its whole life (MySQL's named locks are exclusive, so each
/// process takes a slot of its own), and a sweep leaves a template alone while any is
/// held.
pub(crate) fn use_locks(name: &str) -> Vec<String> {
    let hash = name.rsplit('_').next().unwrap_or_default();
    (0..USE_SLOTS)
        .map(|slot| format!("testbed_use_{hash}_{slot}"))
        .collect()
}

/// Whether a live process holds one of template `name`'s use locks.
async fn any_used(conn: &mut MySqlConnection, name: &str) -> Result<bool, ServerCallError> {
    let locks = use_locks(name);
    let probes = vec!["(is_used_lock(?) is not null)"; locks.len()].join(" + ");
    let mut query =
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("select cast({probes} as signed)")));
    for lock in locks {
        query = query.bind(lock);
    }
    query
        .fetch_one(conn)
        .await
        .map(|held| held > 0)
        .map_err(|e| ServerCallError::statement(Backend::MySql, "read the locks", e))
}

/// Drops stale templates and their pools; returns what was dropped.
///
/// Stale: a complete template in the registry other than `current` (the one being
/// ensured), that no live process uses, and that was last used more than
/// [`MAX_TEMPLATE_AGE`](crate::admin::MAX_TEMPLATE_AGE) ago or is not among the
/// [`KEEP_TEMPLATES`](crate::admin::KEEP_TEMPLATES) most recently used (`current`
/// counting as one). In use: a process holds one of its use locks (every process that
/// ensured it, for its whole life), its own lock (a builder or another sweep), or the
/// lock of one of its pooled databases (a test). The pooled databases go first (but
/// those kept for a failing test), then the template; only registered databases are
/// ever dropped.
pub(crate) async fn sweep_stale(
    server: &MySqlServer,
    current: Option<&str>,
) -> Result<Vec<Held>, ServerCallError> {
    let rows = registry::all(&server.pool).await?;
    let used = registry::last_used(&server.pool).await?;
    let templates: Vec<(SystemTime, String)> = rows
        .iter()
        .filter(|row| row.kind == "template" && State::parse(&row.state) == State::Clean)
        .filter(|row| Some(row.name.as_str()) != current)
        .map(|row| {
            let millis = used
                .iter()
                .find(|(name, _)| *name == row.name)
                .map(|(_, millis)| *millis)
                .unwrap_or_default();
            (UNIX_EPOCH + Duration::from_millis(millis), row.name.clone())
        })
        .collect();
    let stale =
        crate::retention::TEMPLATE_RETENTION.stale(templates, current.is_some(), SystemTime::now());
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = MySqlConnection::connect_with(&server.admin)
        .await
        .map_err(|e| ServerCallError::statement(Backend::MySql, "connect", e))?;
    let mut dropped = Vec::new();
    for name in stale {
        let hash = name.rsplit('_').next().unwrap_or_default();
        let prefix = format!("{}{hash}_", crate::owner::POOL_PREFIX);
        let pooled: Vec<String> = rows
            .iter()
            .filter(|row| row.kind != "template" && State::parse(&row.state) != State::Kept)
            .filter(|row| row.name.strip_prefix(&prefix).is_some_and(is_serial))
            .map(|row| row.name.clone())
            .collect();
        match drop_unused_template(&mut conn, &name, &pooled).await {
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

fn is_serial(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Drops template `name` and its `pooled` databases unless something uses them.
async fn drop_unused_template(
    conn: &mut MySqlConnection,
    name: &str,
    pooled: &[String],
) -> Result<Vec<Held>, ServerCallError> {
    let mut locked = Vec::new();
    let result = async {
        // The template's lock first: a process starting to use it waits for it. Then
        // each pooled database's claim lock, and its work lock: a killed holder's last
        // statement may still run on it.
        let locks = std::iter::once(name.to_owned())
            .chain(pooled.iter().cloned())
            .chain(pooled.iter().map(|pool| super::work::work_lock(pool)))
            .collect();
        if !try_lock_all(conn, locks, &mut locked).await? {
            return Ok(Vec::new());
        }
        if any_used(conn, name).await? {
            return Ok(Vec::new());
        }
        let mut dropped = Vec::new();
        for (database, kind) in pooled
            .iter()
            .map(|pool| (pool.as_str(), HeldKind::Pooled))
            .chain([(name, HeldKind::Template)])
        {
            drop_registered(conn, database).await?;
            dropped.push(Held {
                backend: Backend::MySql,
                name: database.to_owned(),
                kind,
                owner: None,
            });
        }
        Ok(dropped)
    }
    .await;
    release_all(conn, locked).await;
    result
}

/// Drops registered database `name` (its caller holds its locks) and its registry rows.
/// It is marked `building` first: a process killed after the drop leaves a row that
/// says the database must be built again, never one that calls a dropped database clean.
async fn drop_registered(conn: &mut MySqlConnection, name: &str) -> Result<(), ServerCallError> {
    registry::set_state(conn, name, State::Building).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("drop database if exists `{name}`")))
        .execute(&mut *conn)
        .await
        .map_err(|e| ServerCallError::statement(Backend::MySql, format!("drop `{name}`"), e))?;
    registry::remove(conn, name).await?;
    registry::forget_use(conn, name).await
}

/// How often, at most, some process drops the idle pooled databases.
const SWEEP_EVERY_MILLIS: u64 = 60_000;

/// Drops the idle pooled databases (see [`drop_idle`]), at most once per process and
/// once a minute across every process sharing the server. Best effort.
pub(crate) async fn drop_idle_if_due(server: &MySqlServer, conn: &mut MySqlConnection) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    // On the admin connection the process has open already: the check is one statement.
    if registry::sweep_due(conn, registry::now_millis(), SWEEP_EVERY_MILLIS).await {
        let _ = drop_idle(server, conn).await;
    }
}

/// Drops every template's pooled databases that no test claimed for
/// [`POOL_IDLE_LIMIT`](crate::retention::POOL_IDLE_LIMIT) beyond the floor (see
/// `retention::idle_pooled`), each under its claim and work locks, unless held.
async fn drop_idle(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
) -> Result<Vec<Held>, ServerCallError> {
    let rows = registry::all(&server.pool).await?;
    let used = registry::last_used(&server.pool).await?;
    let claimed_at = |name: &str| {
        used.iter()
            .find(|(used, _)| used == name)
            .map(|(_, millis)| UNIX_EPOCH + Duration::from_millis(*millis))
    };
    // Per template, in the claim's order (by serial).
    let mut pooled: Vec<(String, u64, String)> = rows
        .iter()
        .filter(|row| row.kind == "pooled" && State::parse(&row.state) != State::Kept)
        .filter_map(|row| {
            let (template, serial) = row.name.rsplit_once('_')?;
            Some((template.to_owned(), serial.parse().ok()?, row.name.clone()))
        })
        .collect();
    pooled.sort();
    let mut dropped = Vec::new();
    for group in pooled.chunk_by(|a, b| a.0 == b.0) {
        let group: crate::retention::PoolUse = group
            .iter()
            .map(|(_, _, name)| (name.clone(), claimed_at(name)))
            .collect();
        for name in crate::retention::idle_pooled(group, SystemTime::now()) {
            if drop_unless_held(conn, &name).await? {
                dropped.push(Held {
                    backend: Backend::MySql,
                    name,
                    kind: HeldKind::Pooled,
                    owner: None,
                });
            }
        }
    }
    Ok(dropped)
}

/// Takes each named lock of `locks` on `conn` without waiting, recording in `taken`
/// those it got; `false` as soon as one is held elsewhere.
async fn try_lock_all(
    conn: &mut MySqlConnection,
    locks: Vec<String>,
    taken: &mut Vec<String>,
) -> Result<bool, ServerCallError> {
    for lock in locks {
        let got: Option<i64> = sqlx::query_scalar("select get_lock(?, 0)")
            .bind(lock.clone())
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| ServerCallError::statement(Backend::MySql, "lock", e))?;
        if got != Some(1) {
            return Ok(false);
        }
        taken.push(lock);
    }
    Ok(true)
}

/// Releases the named locks `taken` on `conn`.
async fn release_all(conn: &mut MySqlConnection, taken: Vec<String>) {
    for lock in taken {
        let _ = sqlx::query("select release_lock(?)")
            .bind(lock)
            .execute(&mut *conn)
            .await;
    }
}

/// Drops pooled database `name` under its claim and work locks, unless either is held
/// elsewhere; whether it did.
async fn drop_unless_held(conn: &mut MySqlConnection, name: &str) -> Result<bool, ServerCallError> {
    let mut locked = Vec::new();
    let result = async {
        let locks = vec![name.to_owned(), super::work::work_lock(name)];
        if !try_lock_all(conn, locks, &mut locked).await? {
            return Ok(false);
        }
        drop_registered(conn, name).await?;
        Ok(true)
    }
    .await;
    release_all(conn, locked).await;
    result
}

/// Drops the stale templates and their pools (see [`sweep_stale`]) on the MySQL server
/// at `url`, and nothing else.
pub(crate) async fn sweep_templates(url: Option<&str>) -> Result<Vec<Held>, ServerCallError> {
    let url = server::admin_url(url);
    engine::run(async move {
        engine::boxed(async { sweep_stale(&*server::connect(&url).await?, None).await }).await
    })
    .await
}

/// Lists what testbed holds on the MySQL server at `url`.
pub(crate) async fn status(url: Option<&str>) -> Result<Vec<Held>, ServerCallError> {
    let url = server::admin_url(url);
    engine::run(
        async move { engine::boxed(async { list(&*server::connect(&url).await?).await }).await },
    )
    .await
}

/// Drops orphans and stale templates with their pools (see [`sweep_stale`]); every
/// unused template and pool, and kept databases, on request.
pub(crate) async fn prune(
    url: Option<&str>,
    options: PruneOptions,
) -> Result<Vec<Held>, ServerCallError> {
    let url = server::admin_url(url);
    let mut kinds = vec![HeldKind::Orphaned];
    if options.templates {
        kinds.extend([HeldKind::Template, HeldKind::Unfinished, HeldKind::Pooled]);
    }
    if options.kept {
        kinds.push(HeldKind::Kept);
    }
    engine::run(async move {
        engine::boxed(async {
            let server = server::connect(&url).await?;
            let mut dropped = drop_kinds(&server, &kinds).await?;
            let mut conn = MySqlConnection::connect_with(&server.admin)
                .await
                .map_err(|e| ServerCallError::statement(Backend::MySql, "connect", e))?;
            let idle = drop_idle(&server, &mut conn).await;
            let _ = conn.close().await;
            dropped.extend(idle?);
            if !options.templates {
                dropped.extend(sweep_stale(&server, None).await?);
            }
            Ok(dropped)
        })
        .await
    })
    .await
}
