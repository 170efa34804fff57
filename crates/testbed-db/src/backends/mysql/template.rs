//! A schema's template database on MySQL: built once per schema hash under a named lock,
//! with what resetting its pooled copies needs (its tables, seed rows, counters and
//! fingerprint); and building a database from the schema.

use std::sync::Mutex;

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Connection, MySql, MySqlConnection, Row};

use super::fingerprint;
use super::inventory::{self, use_locks};
use super::registry::{self, State, TableRecord};
use super::server::{MySqlServer, fail};
use super::work::{WORK_WAIT_SECONDS, lock_work, unlock_work};
use crate::schema::{Prepared, build_mysql};
use crate::{Backend, DatabaseAcquireError, ServerCallError};

/// What a template tells the pool: its schema fingerprint and its tables, each with
/// whether it holds seed rows and its auto-increment counter (as the registry records
/// them).
#[derive(Debug, Clone)]
pub(super) struct TemplateInfo {
    pub(super) name: String,
    pub(super) fingerprint: String,
    /// Its tables but the migrations' bookkeeping, by name.
    pub(super) tables: Vec<TableRecord>,
}

/// The schema's template database, built once per hash under a named lock; read from
/// the registry once per process (one test at a time goes to the server, so a process
/// uses one admin connection for it). `admin` is this acquire's admin connection,
/// opened here when the template is not known yet and kept for the claim.
pub(super) async fn ensure_template(
    server: &MySqlServer,
    prepared: &Prepared,
    admin: &mut Option<PoolConnection<MySql>>,
) -> Result<TemplateInfo, DatabaseAcquireError> {
    static KNOWN: Mutex<Vec<(String, TemplateInfo)>> = Mutex::new(Vec::new());
    static ENSURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let name = prepared.template_name();
    let known = || {
        KNOWN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, info)| info.clone())
    };
    if let Some(info) = known() {
        return Ok(info);
    }
    let _ensuring = ENSURING.lock().await;
    if let Some(info) = known() {
        return Ok(info);
    }
    hold_use(server, &name).await?;
    let conn = admin_connection(server, admin).await?;
    // Read under the template's lock, which a sweep holds while it drops the template:
    // either the sweep saw this process's use lock, or the template is gone and rebuilt.
    let locked: Option<i64> = sqlx::query_scalar("select get_lock(?, 600)")
        .bind(name.clone())
        .fetch_one(&mut **conn)
        .await
        .map_err(fail("lock the template"))?;
    if locked != Some(1) {
        return Err(ServerCallError::failed(
            Backend::MySql,
            format!("lock template `{name}`"),
            "timed out after 600 s",
        )
        .into());
    }
    let mut built_here = false;
    let built = match template_info(conn, &name).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            built_here = true;
            build_template(server, conn, prepared, &name)
                .await
                .map(|info| (info, None))
        }
        Err(error) => Err(error.into()),
    };
    if built_here && built.is_err() {
        // Leave nothing behind: the next attempt starts from scratch anyway.
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("drop database if exists `{name}`")))
            .execute(&mut **conn)
            .await;
        let _ = registry::remove(conn, &name).await;
    }
    if let Ok((_, last_used)) = &built {
        // A template's last use only matters in days: recorded at most once an hour.
        // Best effort: a template whose use was not recorded is only swept earlier.
        let now = registry::now_millis();
        let every = crate::retention::TOUCH_TEMPLATE_EVERY.as_millis() as u64;
        if last_used.is_none_or(|last| last.saturating_add(every) < now) {
            let _ = registry::touch(conn, &name, now).await;
        }
    }
    let _ = sqlx::query("select release_lock(?)")
        .bind(name.clone())
        .execute(&mut **conn)
        .await;
    let (info, _) = built?;
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name.clone(), info.clone()));
    inventory::drop_idle_if_due(server, conn).await;
    if built_here {
        // Only when a template is built: that is when the old ones start to pile up.
        let _ = inventory::sweep_stale(server, Some(&name)).await;
    }
    Ok(info)
}

/// The admin connection in `slot`, taken from the server's admin pool if there is none
/// yet. One connection serves a whole acquire: a pool connection given back is pinged
/// before it is idle again, so taking another right away opens a new one.
pub(super) async fn admin_connection<'a>(
    server: &MySqlServer,
    slot: &'a mut Option<PoolConnection<MySql>>,
) -> Result<&'a mut PoolConnection<MySql>, ServerCallError> {
    if slot.is_none() {
        let conn = crate::server_cache::acquire(server, &server.pool)
            .await
            .map_err(fail("connect"))?;
        *slot = Some(conn);
    }
    Ok(slot.as_mut().expect("just filled"))
}

/// Takes a free use slot of template `name` on the lease. With every slot taken the
/// template is still protected by the locks of the pooled databases its tests hold.
pub(super) async fn hold_use(server: &MySqlServer, name: &str) -> Result<(), ServerCallError> {
    let mut lease = server.lease.lock().await;
    for slot in use_locks(name) {
        let locked: Option<i64> = sqlx::query_scalar("select get_lock(?, 0)")
            .bind(slot)
            .fetch_one(&mut *lease)
            .await
            .map_err(fail("lock the template"))?;
        if locked == Some(1) {
            return Ok(());
        }
    }
    Ok(())
}

/// Template `name`'s info and when it was last used, if it is registered and complete.
/// Its tables come from the registry; a template built by a testbed that did not record
/// them is read from the server once, and recorded.
pub(super) async fn template_info(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Option<(TemplateInfo, Option<u64>)>, ServerCallError> {
    let Some(record) = registry::template_record(conn, name).await? else {
        return Ok(None);
    };
    if record.state != State::Clean {
        return Ok(None);
    }
    let mut fingerprint = record.fingerprint.unwrap_or_default();
    if !fingerprint::is_current(&fingerprint) {
        // Taken by an older testbed, another way; the template has not changed since.
        fingerprint = fingerprint::of(conn, name).await?;
        // Best effort: unrecorded, it is only taken again.
        let _ = registry::set_fingerprint(conn, name, &fingerprint).await;
    }
    if !record.tables.is_empty() {
        let info = TemplateInfo {
            name: name.to_owned(),
            fingerprint,
            tables: record.tables,
        };
        return Ok(Some((info, record.last_used)));
    }
    let seeded: Vec<String> = record
        .seeded
        .unwrap_or_default()
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let tables = tables_of(conn, name).await?;
    let info = read_info(conn, name, fingerprint, tables, &seeded).await?;
    // Best effort: unrecorded, it is only read from the server again.
    let _ = registry::put_template_tables(conn, name, &info.tables).await;
    Ok(Some((info, record.last_used)))
}

/// Reads the counters and refillable tables of template `name`, whose `tables` are
/// known and `seeded` ones hold seed rows, from the server.
async fn read_info(
    conn: &mut MySqlConnection,
    name: &str,
    fingerprint: String,
    tables: Vec<String>,
    seeded: &[String],
) -> Result<TemplateInfo, ServerCallError> {
    let counters = counters(conn, name).await?;
    let refillable = refillable(conn, name, seeded, &counters).await?;
    let tables = tables
        .into_iter()
        .map(|table| TableRecord {
            seeded: seeded.contains(&table),
            counter: counters
                .iter()
                .find(|(t, _)| *t == table)
                .map(|(_, next)| *next),
            refillable: refillable.contains(&table),
            name: table,
        })
        .collect();
    Ok(TemplateInfo {
        name: name.to_owned(),
        fingerprint,
        tables,
    })
}

pub(super) async fn build_template(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
    prepared: &Prepared,
    name: &str,
) -> Result<TemplateInfo, DatabaseAcquireError> {
    registry::put(
        conn,
        name,
        &prepared.hash,
        "template",
        State::Building,
        None,
        None,
    )
    .await?;
    build_database(server, conn, prepared, name).await?;
    let tables = tables_of(conn, name).await?;
    let mut seeded = Vec::new();
    for table in &tables {
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "select count(*) from `{name}`.`{table}`"
        )))
        .fetch_one(&mut *conn)
        .await
        .map_err(fail("count seed rows"))?;
        if rows > 0 {
            seeded.push(table.clone());
        }
    }
    let fingerprint = fingerprint::of(conn, name).await?;
    let info = read_info(conn, name, fingerprint, tables, &seeded).await?;
    registry::put_template_tables(conn, name, &info.tables).await?;
    // The seeded tables are also listed in its row, for a testbed that reads no records.
    registry::put(
        conn,
        name,
        &prepared.hash,
        "template",
        State::Clean,
        Some(&info.fingerprint),
        Some(&seeded.join(",")),
    )
    .await?;
    Ok(info)
}

/// Drops and recreates database `name` with the schema and seeds.
pub(super) async fn build_database(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
    prepared: &Prepared,
    name: &str,
) -> Result<(), DatabaseAcquireError> {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    lock_work(conn, name, WORK_WAIT_SECONDS).await?;
    let created = sqlx::raw_sql(AssertSqlSafe(format!(
        "drop database if exists `{name}`; create database `{name}`"
    )))
    .execute(&mut *conn)
    .await
    .map_err(fail(format!("create `{name}`")));
    unlock_work(conn, name).await;
    created?;
    let mut target = MySqlConnection::connect_with(&server.options_for(name))
        .await
        .map_err(fail(format!("connect to `{name}`")))?;
    let built = build_mysql(prepared, &mut target).await;
    let _ = target.close().await;
    built
}

/// The tables of `database`, but the migrations' own bookkeeping.
pub(super) async fn tables_of(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<Vec<String>, ServerCallError> {
    sqlx::query_scalar(
        "select cast(table_name as char) from information_schema.tables
         where table_schema = ? and table_type = 'BASE TABLE' and table_name <> '_sqlx_migrations'
         order by table_name",
    )
    .bind(database.to_owned())
    .fetch_all(conn)
    .await
    .map_err(fail("list tables"))
}

/// The next auto-increment value of each table of `database` that has one, by name.
pub(super) async fn counters(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<Vec<(String, u64)>, ServerCallError> {
    let sql = format!(
        "{COUNTERS_SETUP} {} order by table_name",
        counters_select(database, "")
    );
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .map_err(fail("read the auto-increment counters"))?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(fail("read the auto-increment counters"))
}

/// MySQL 8 caches the counters `information_schema.tables` shows for a day by default
/// (`information_schema_stats_expiry`): this turns the session's cache off. Run it in
/// the same round trip as [`counters_select`]. MariaDB has no such cache (nor the
/// variable), and skips the version-gated comment.
pub(super) const COUNTERS_SETUP: &str =
    "set /*!80000 session information_schema_stats_expiry = 0, */ @testbed_counters = 1;";

/// A `SELECT` of `[tag,] table, next auto-increment value` for each table of `database`
/// (one of testbed's) that has a counter; `tag` is a leading column's SQL, or empty.
pub(super) fn counters_select(database: &str, tag: &str) -> String {
    debug_assert!(database.starts_with(crate::NAME_PREFIX));
    format!(
        "select {tag}cast(table_name as char), cast(auto_increment as unsigned)
         from information_schema.tables
         where table_schema = '{database}' and table_type = 'BASE TABLE'
           and auto_increment is not null and table_name <> '_sqlx_migrations'"
    )
}

/// The tables of `seeded` whose auto-increment counter in template `database` is one past
/// their largest id (InnoDB's counter after `TRUNCATE` and inserting the seed rows).
pub(super) async fn refillable(
    conn: &mut MySqlConnection,
    database: &str,
    seeded: &[String],
    counters: &[(String, u64)],
) -> Result<Vec<String>, ServerCallError> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "select cast(table_name as char), cast(column_name as char)
         from information_schema.columns
         where table_schema = ? and extra like '%auto_increment%'",
    )
    .bind(database.to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(fail("read the auto-increment columns"))?;
    let columns: Vec<(String, String)> = columns
        .into_iter()
        .filter(|(table, _)| seeded.contains(table))
        .collect();
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let sql = columns
        .iter()
        .map(|(table, column)| {
            format!(
                "select cast('{table}' as char), cast(coalesce(max(`{column}`), 0) + 1 as unsigned) \
                 from `{database}`.`{table}`"
            )
        })
        .collect::<Vec<_>>()
        .join(" union all ");
    let next: Vec<(String, u64)> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("read the seed rows' largest ids"))?;
    Ok(next
        .into_iter()
        .filter(|counter| counters.contains(counter))
        .map(|(table, _)| table)
        .collect())
}
