//! The pool's decaying high-water mark: pooled databases beyond what recent runs needed
//! are dropped.
//!
//! Concurrent runs grow a template's pool to their combined peak, and nothing else
//! would ever bring it down. Claims take the first free database in name order, so the
//! last ones are reached only at a peak: a pooled database no test got for
//! [`IDLE_FOR_SECONDS`] (the ledger's `claimed_at`, written by the claim and by the
//! in-process hand-over at no extra round trip) lies beyond every recent run's need.
//! The orphan sweep (one process a minute) and `cargo testbed db prune` drop those,
//! keeping at least as many per template as this machine runs tests at once, so the
//! next single run still finds its databases ready. A database someone holds (its
//! claim lock) or creates or drops (its existence lock) is left alone.

use sqlx::PgConnection;

use super::super::registry;
use super::super::template;
use crate::{Backend, DbError};

/// How long a pooled database may go unclaimed before it counts as beyond the need.
pub(crate) const IDLE_FOR_SECONDS: u32 = 60 * 60;

/// Drops the idle pooled databases beyond the floor, of every template this role owns;
/// returns their names.
pub(crate) async fn drop_idle(conn: &mut PgConnection) -> Result<Vec<String>, DbError> {
    let fail = |action: &'static str| move |e| DbError::server(Backend::Postgres, action, e);
    let mut rows: Vec<(String, bool)> = sqlx::query_as(
        "select d.datname::text,
                coalesce(p.claimed_at, 'epoch') < now() - make_interval(secs => $3::double precision)
           from pg_database d left join pooled p on p.datname = d.datname
          where starts_with(d.datname, $1)
            and shobj_description(d.oid, 'pg_database') = $2
            and pg_has_role(d.datdba, 'member')",
    )
    .bind(crate::owner::POOL_PREFIX)
    .bind(super::POOL_COMMENT)
    .bind(f64::from(IDLE_FOR_SECONDS))
    .fetch_all(&mut *conn)
    .await
    .map_err(fail("list the pooled databases"))?;
    // The claim's order: by name, per template.
    rows.sort();
    let floor = std::thread::available_parallelism().map_or(1, usize::from);
    let mut dropped = Vec::new();
    let mut rank = 0;
    let mut template_of_last = "";
    for (name, idle) in &rows {
        let template = name.rsplit_once('_').map_or("", |(prefix, _)| prefix);
        if template != template_of_last {
            (rank, template_of_last) = (0, template);
        }
        rank += 1;
        if rank <= floor || !idle {
            continue;
        }
        if drop_unless_held(conn, name).await? {
            dropped.push(name.clone());
        }
    }
    Ok(dropped)
}

/// Drops pooled database `name` under its claim and existence locks, unless either is
/// held elsewhere; whether it did.
async fn drop_unless_held(conn: &mut PgConnection, name: &str) -> Result<bool, DbError> {
    let keys = [registry::pool_key(name), registry::existence_key(name)];
    let locked: Vec<bool> =
        sqlx::query_scalar("select pg_try_advisory_lock(k) from unnest($1::bigint[]) k")
            .bind(&keys[..])
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| DbError::server(Backend::Postgres, "lock a pooled database", e))?;
    let all = locked.iter().all(|taken| *taken);
    let dropped = if all {
        let result = template::drop_database(conn, name).await;
        if result.is_ok() {
            registry::forget(conn, name).await;
        }
        result
            .map(|()| true)
            .map_err(|e| DbError::server(Backend::Postgres, format!("drop the idle `{name}`"), e))
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
