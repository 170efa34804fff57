//! What testbed holds on a MySQL server, from its registry and the named locks of live
//! processes, and pruning it.

use sqlx::{AssertSqlSafe, Connection, MySqlConnection};

use super::registry::{self, State};
use super::server::{self, MySqlServer};
use crate::admin::{Held, HeldKind, PruneOptions};
use crate::{Backend, DbError, engine};

async fn list(server: &MySqlServer) -> Result<Vec<Held>, DbError> {
    let exists: Option<String> = sqlx::query_scalar(
        "select cast(schema_name as char) from information_schema.schemata where schema_name = ?",
    )
    .bind(registry::REGISTRY)
    .fetch_optional(&server.pool)
    .await
    .map_err(|e| DbError::server(Backend::MySql, "look for the registry", e))?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut held = Vec::new();
    for row in registry::all(&server.pool).await? {
        let in_use: Option<i64> = sqlx::query_scalar("select is_used_lock(?)")
            .bind(row.name.clone())
            .fetch_one(&server.pool)
            .await
            .map_err(|e| DbError::server(Backend::MySql, "read the locks", e))?;
        let state = State::parse(&row.state);
        let kind = match (row.kind.as_str(), state, in_use.is_some()) {
            ("template", State::Clean, _) => HeldKind::Template,
            ("template", _, _) => HeldKind::Unfinished,
            (_, State::Kept, _) => HeldKind::Kept,
            (_, _, true) => HeldKind::InUse,
            (_, State::Clean, false) => HeldKind::Pooled,
            // Dirty or half-built with nobody holding it: its owner died mid-test.
            (_, _, false) => HeldKind::Orphaned,
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

async fn drop_kinds(server: &MySqlServer, kinds: &[HeldKind]) -> Result<Vec<Held>, DbError> {
    let mut conn = MySqlConnection::connect_with(&server.admin)
        .await
        .map_err(|e| DbError::server(Backend::MySql, "connect", e))?;
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
            .map_err(|e| DbError::server(Backend::MySql, "lock", e))?;
        if locked != Some(1) {
            continue;
        }
        let result = sqlx::raw_sql(AssertSqlSafe(format!(
            "drop database if exists `{}`",
            held.name
        )))
        .execute(&mut conn)
        .await
        .map_err(|e| DbError::server(Backend::MySql, format!("drop `{}`", held.name), e));
        if result.is_ok() {
            registry::remove(&mut conn, &held.name).await?;
        }
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

/// Lists what testbed holds on the MySQL server at `url`.
pub(crate) async fn status(url: Option<&str>) -> Result<Vec<Held>, DbError> {
    let url = server::admin_url(url);
    engine::run(
        async move { engine::boxed(async { list(&*server::connect(&url).await?).await }).await },
    )
    .await
}

/// Drops orphans (and the pool and templates, kept databases, on request).
pub(crate) async fn prune(url: Option<&str>, options: PruneOptions) -> Result<Vec<Held>, DbError> {
    let url = server::admin_url(url);
    let mut kinds = vec![HeldKind::Orphaned];
    if options.templates {
        kinds.extend([HeldKind::Template, HeldKind::Unfinished, HeldKind::Pooled]);
    }
    if options.kept {
        kinds.push(HeldKind::Kept);
    }
    engine::run(async move {
        engine::boxed(async { drop_kinds(&*server::connect(&url).await?, &kinds).await }).await
    })
    .await
}
