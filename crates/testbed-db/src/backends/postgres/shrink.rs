//! The pool's decaying high-water mark on PostgreSQL (the policy is `retention`'s): the
//! ledger's `claimed_at`, written by the claim, the in-process hand-over and the record
//! of a finished reset at no extra round trip, says when each pooled database was last
//! needed; the orphan sweep (one process a minute) and `cargo testbed db prune` drop
//! the idle ones beyond the floor. A database someone holds (its claim lock) or creates
//! or drops (its existence lock) is left alone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::PgConnection;

use super::marks::POOL_COMMENT;
use super::registry;
use super::sql;
use crate::{Backend, ServerCallError};

/// Drops the idle pooled databases beyond the floor, of every template this role owns;
/// returns their names.
pub(crate) async fn drop_idle(conn: &mut PgConnection) -> Result<Vec<String>, ServerCallError> {
    let rows: Vec<(String, Option<f64>)> = sqlx::query_as(
        "select d.datname::text, extract(epoch from p.claimed_at)::float8
           from pg_database d left join pooled p on p.datname = d.datname
          where starts_with(d.datname, $1)
            and shobj_description(d.oid, 'pg_database') = $2
            and pg_has_role(d.datdba, 'member')
          order by d.datname",
    )
    .bind(crate::owner::POOL_PREFIX)
    .bind(POOL_COMMENT)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| ServerCallError::statement(Backend::Postgres, "list the pooled databases", e))?;
    let template_of = |name: &str| name.rsplit_once('_').map(|(prefix, _)| prefix.to_owned());
    let mut dropped = Vec::new();
    // Per template, in the claim's order (by name).
    for pooled in rows.chunk_by(|a, b| template_of(&a.0) == template_of(&b.0)) {
        let pooled: crate::retention::PoolUse = pooled
            .iter()
            .map(|(name, claimed)| {
                let claimed =
                    claimed.map(|secs| UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0)));
                (name.clone(), claimed)
            })
            .collect();
        for name in crate::retention::idle_pooled(pooled, SystemTime::now()) {
            if drop_unless_held(conn, &name).await? {
                dropped.push(name);
            }
        }
    }
    Ok(dropped)
}

/// Drops pooled database `name` under its claim and existence locks, unless either is
/// held elsewhere; whether it did.
async fn drop_unless_held(conn: &mut PgConnection, name: &str) -> Result<bool, ServerCallError> {
    let keys = [registry::pool_key(name), registry::existence_key(name)];
    let locked: Vec<bool> =
        sqlx::query_scalar("select pg_try_advisory_lock(k) from unnest($1::bigint[]) k")
            .bind(&keys[..])
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| {
                ServerCallError::statement(Backend::Postgres, "lock a pooled database", e)
            })?;
    let all = locked.iter().all(|taken| *taken);
    let dropped = if all {
        let result = sql::drop_database(conn, name).await;
        if result.is_ok() {
            registry::forget(conn, name).await;
        }
        result.map(|()| true).map_err(|e| {
            ServerCallError::statement(Backend::Postgres, format!("drop the idle `{name}`"), e)
        })
    } else {
        Ok(false)
    };
    for (key, taken) in keys.iter().zip(&locked) {
        if *taken {
            let _ = sqlx::query("select pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await;
        }
    }
    dropped
}
