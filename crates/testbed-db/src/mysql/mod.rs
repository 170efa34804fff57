//! MySQL/MariaDB: no templates there, and `CREATE TABLE` is slow, so each schema gets a
//! pool of pre-built databases shared by every process and later runs. A test claims
//! one with a named lock held by its process's lease connection; after the test its rows
//! are deleted and the seed rows copied back from the schema's template database, one
//! round trip. The auto-increment counters a test moved are set back to the template's
//! in the same round trip (a `TRUNCATE` or an `ALTER TABLE` each, see [`reset`]), so
//! every test gets the ids a fresh copy of the template would give. A test that changed the schema gets its database
//! rebuilt.
//!
//! Limits: views, triggers and routines are rebuilt with the schema, never reset.

mod inventory;
mod registry;
mod server;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, Row};
use testbed::{Outcome, Scope};
use tokio::sync::OnceCell;

pub(crate) use inventory::{prune, status, sweep_templates};
use registry::State;
pub use server::MYSQL_URL_ENV;
pub(crate) use server::MySqlServer;

use crate::pool_limit::{self, Holdings, TEST_POOL_CONNECTIONS};
use crate::retry::Pace;
use crate::schema::{Prepared, build_mysql};
use crate::{Backend, DatabaseAcquireError, Isolation, ServerCallError, TestDb, engine, owner};

/// What a template tells the pool: its schema fingerprint, its tables, and the next
/// auto-increment value of each table that has one.
#[derive(Debug, Clone)]
struct TemplateInfo {
    name: String,
    fingerprint: String,
    tables: Vec<String>,
    seeded: Vec<String>,
    counters: Vec<(String, u64)>,
    /// The seeded tables whose counter is one past their largest id: truncating them and
    /// restoring their seed rows gives them back the template's counter.
    refillable: Vec<String>,
}

/// The databases this process holds (MySQL's named locks are re-entrant within a
/// session, so the lock alone cannot stop this process from claiming one twice).
fn held() -> &'static Mutex<HashSet<String>> {
    static HELD: Mutex<Option<&'static Mutex<HashSet<String>>>> = Mutex::new(None);
    let mut slot = HELD.lock().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| Box::leak(Box::default()))
}

fn hold(name: &str) -> bool {
    held()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_owned())
}

fn unhold(name: &str) {
    held()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(name);
}

/// Gives `scope`'s test a clean pooled database with `prepared`'s schema.
pub(crate) async fn acquire(
    prepared: Arc<Prepared>,
    _isolation: Isolation,
    scope: &Scope,
) -> Result<TestDb<sqlx::MySql>, DatabaseAcquireError> {
    let (server, template, name) = server::watched(engine::run(async move {
        let server = server::server().await?;
        let template = engine::boxed(ensure_template(&server, &prepared)).await?;
        let name = engine::boxed(claim(&server, &prepared, &template)).await?;
        Ok::<_, DatabaseAcquireError>((server, template, name))
    }))
    .await?;
    let url = server.url_of(&name);
    let holdings = Holdings::new(TEST_POOL_CONNECTIONS);
    let pool = pool_limit::test_pool_options::<sqlx::MySql>(&holdings)
        .connect_with(server.options_for(&name))
        .await;
    let pool = match pool {
        Ok(pool) => pool,
        Err(error) => {
            release(server, template, name.clone(), Outcome::Passed).await?;
            return Err(ServerCallError::statement(
                Backend::MySql,
                format!("connect to `{name}`"),
                error,
            )
            .into());
        }
    };
    let (cleanup_pool, cleanup_name, cleanup_url, details) =
        (pool.clone(), name.clone(), url.clone(), scope.details());
    scope.add_async_cleanup(move |outcome: Outcome| async move {
        cleanup_pool.close().await;
        let keep = outcome.is_failure() && owner::keep_failed();
        server::watched(release(server, template, cleanup_name, outcome)).await?;
        if keep {
            crate::handle::announce_kept(&details, Backend::MySql, &cleanup_url);
        }
        Ok::<(), ServerCallError>(())
    });
    pool_limit::explain_on_failure(scope, holdings, Backend::MySql, &name, "");
    Ok(TestDb {
        pool,
        url: Some(url),
        name,
        backend: Backend::MySql,
    })
}

async fn registry_ready(server: &MySqlServer) -> Result<(), ServerCallError> {
    static READY: OnceCell<()> = OnceCell::const_new();
    READY
        .get_or_try_init(|| registry::ensure(&server.pool))
        .await
        .map(drop)
}

fn fail(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> ServerCallError {
    let action = action.into();
    move |e| ServerCallError::statement(Backend::MySql, action, e)
}

/// The schema's template database, built once per hash under a named lock.
async fn ensure_template(
    server: &MySqlServer,
    prepared: &Prepared,
) -> Result<TemplateInfo, DatabaseAcquireError> {
    static KNOWN: Mutex<Vec<(String, TemplateInfo)>> = Mutex::new(Vec::new());
    let name = prepared.template_name();
    if let Some((_, info)) = KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(n, _)| *n == name)
    {
        return Ok(info.clone());
    }
    registry_ready(server).await?;
    inventory::drop_idle_if_due(server).await;
    hold_use(server, &name).await?;
    let mut conn = MySqlConnection::connect_with(&server.admin)
        .await
        .map_err(fail("connect"))?;
    // Read under the template's lock, which a sweep holds while it drops the template:
    // either the sweep saw this process's use lock, or the template is gone and rebuilt.
    let locked: Option<i64> = sqlx::query_scalar("select get_lock(?, 600)")
        .bind(name.clone())
        .fetch_one(&mut conn)
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
    let built = match template_info(&mut conn, &name).await {
        Ok(Some(info)) => Ok(info),
        Ok(None) => {
            built_here = true;
            build_template(server, &mut conn, prepared, &name).await
        }
        Err(error) => Err(error.into()),
    };
    if built_here && built.is_err() {
        // Leave nothing behind: the next attempt starts from scratch anyway.
        let _ = sqlx::raw_sql(AssertSqlSafe(format!("drop database if exists `{name}`")))
            .execute(&mut conn)
            .await;
        let _ = registry::remove(&mut conn, &name).await;
    }
    if built.is_ok() {
        // Best effort: a template whose use was not recorded is only swept earlier.
        let _ = registry::touch(&mut conn, &name, now_millis()).await;
    }
    let _ = sqlx::query("select release_lock(?)")
        .bind(name.clone())
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    let info = built?;
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name.clone(), info.clone()));
    if built_here {
        // Only when a template is built: that is when the old ones start to pile up.
        let _ = inventory::sweep_stale(server, Some(&name)).await;
    }
    Ok(info)
}

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default()
}

/// How many processes can mark a template as in use at once (one named lock each).
const USE_SLOTS: usize = 64;

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

/// Takes a free use slot of template `name` on the lease. With every slot taken the
/// template is still protected by the locks of the pooled databases its tests hold.
async fn hold_use(server: &MySqlServer, name: &str) -> Result<(), ServerCallError> {
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

async fn template_info(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Option<TemplateInfo>, ServerCallError> {
    let Some(row) = registry::get(conn, name).await? else {
        return Ok(None);
    };
    if State::parse(&row.state) != State::Clean {
        return Ok(None);
    }
    let tables = tables_of(conn, name).await?;
    let split = |list: Option<String>| -> Vec<String> {
        list.unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    // Read from the template itself, which nothing writes once it is built.
    let seeded = split(row.seeded);
    let counters = counters(conn, name).await?;
    let refillable = refillable(conn, name, &seeded, &counters).await?;
    Ok(Some(TemplateInfo {
        name: name.to_owned(),
        fingerprint: row.fingerprint.unwrap_or_default(),
        tables,
        seeded,
        counters,
        refillable,
    }))
}

async fn build_template(
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
    let fingerprint = fingerprint(conn, name).await?;
    let counters = counters(conn, name).await?;
    let refillable = refillable(conn, name, &seeded, &counters).await?;
    let seeded_list = seeded.join(",");
    registry::put(
        conn,
        name,
        &prepared.hash,
        "template",
        State::Clean,
        Some(&fingerprint),
        Some(&seeded_list),
    )
    .await?;
    Ok(TemplateInfo {
        name: name.to_owned(),
        fingerprint,
        tables,
        seeded,
        counters,
        refillable,
    })
}

/// Drops and recreates database `name` with the schema and seeds.
async fn build_database(
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
async fn tables_of(
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
///
/// MySQL 8 caches these statistics for a day by default
/// (`information_schema_stats_expiry`): the session's cache is turned off first, in the
/// same round trip. MariaDB has no such cache (nor the variable), and skips the
/// version-gated comment.
async fn counters(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<Vec<(String, u64)>, ServerCallError> {
    debug_assert!(database.starts_with(crate::NAME_PREFIX));
    let sql = format!(
        "set /*!80000 session information_schema_stats_expiry = 0, */ @testbed_counters = 1;
         select cast(table_name as char), cast(auto_increment as unsigned)
         from information_schema.tables
         where table_schema = '{database}' and table_type = 'BASE TABLE'
           and auto_increment is not null and table_name <> '_sqlx_migrations'
         order by table_name"
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

/// The tables of `seeded` whose auto-increment counter in template `database` is one past
/// their largest id (InnoDB's counter after `TRUNCATE` and inserting the seed rows).
async fn refillable(
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

/// A hash of the schema of `database` (tables, columns, indexes), to tell whether a test
/// changed it.
async fn fingerprint(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<String, ServerCallError> {
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "select cast(table_name as char), cast(column_name as char), cast(column_type as char),
                cast(is_nullable as char)
         from information_schema.columns where table_schema = ?
         order by table_name, ordinal_position",
    )
    .bind(database.to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(fail("read the schema"))?;
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "select cast(table_name as char), cast(index_name as char), cast(column_name as char)
         from information_schema.statistics where table_schema = ?
         order by table_name, index_name, seq_in_index",
    )
    .bind(database.to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(fail("read the schema"))?;
    let mut hasher = Sha256::new();
    for row in columns {
        hasher.update(format!("{row:?}"));
    }
    for row in indexes {
        hasher.update(format!("{row:?}"));
    }
    Ok(owner::hex(&hasher.finalize()))
}

/// Claims a free database of the pool (building one when all are taken).
async fn claim(
    server: &MySqlServer,
    prepared: &Prepared,
    template: &TemplateInfo,
) -> Result<String, DatabaseAcquireError> {
    for serial in 1.. {
        let name = format!("{}{}_{serial}", crate::owner::POOL_PREFIX, prepared.hash);
        if !hold(&name) {
            continue;
        }
        let locked: Option<i64> = {
            let mut lease = server.lease.lock().await;
            sqlx::query_scalar("select get_lock(?, 0)")
                .bind(name.clone())
                .fetch_one(&mut *lease)
                .await
                .map_err(fail("lock a pooled database"))?
        };
        if locked != Some(1) {
            unhold(&name);
            continue;
        }
        match prepare_claimed(server, prepared, template, &name).await {
            Ok(true) => return Ok(name),
            Ok(false) => {
                release_lock(server, &name).await;
            }
            Err(error) => {
                release_lock(server, &name).await;
                return Err(error);
            }
        }
    }
    unreachable!("the pool is unbounded")
}

/// Makes a just-claimed database clean; `false` if it is kept for inspection.
async fn prepare_claimed(
    server: &MySqlServer,
    prepared: &Prepared,
    template: &TemplateInfo,
    name: &str,
) -> Result<bool, DatabaseAcquireError> {
    let mut conn = crate::server_cache::acquire(server, &server.pool)
        .await
        .map_err(fail("connect"))?;
    let state = registry::get(&mut conn, name)
        .await?
        .map(|row| State::parse(&row.state));
    if !matches!(state, Some(State::Clean | State::Kept)) {
        // A holder died with it (mid-test, mid-reset or mid-build): what it still had
        // running goes first, or it would land after the reset.
        end_sessions_on(&mut conn, name).await?;
    }
    match state {
        Some(State::Kept) => return Ok(false),
        Some(State::Clean) => {}
        // Left dirty by a test whose process died.
        Some(State::Dirty) => reset_or_rebuild(server, &mut conn, prepared, template, name).await?,
        Some(State::Building) | None => {
            registry::put(
                &mut conn,
                name,
                &prepared.hash,
                "pooled",
                State::Building,
                None,
                None,
            )
            .await?;
            build_database(server, &mut conn, prepared, name).await?;
        }
    }
    // Dirty from now on, so a crash mid-test leaves it marked for a reset.
    registry::put(
        &mut conn,
        name,
        &prepared.hash,
        "pooled",
        State::Dirty,
        None,
        None,
    )
    .await?;
    // When it was last needed: pooled databases idle for long are dropped (see
    // `admin::idle_pooled`).
    registry::touch(&mut conn, name, now_millis()).await?;
    Ok(true)
}

async fn reset_or_rebuild(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
    prepared: &Prepared,
    template: &TemplateInfo,
    name: &str,
) -> Result<(), DatabaseAcquireError> {
    if fingerprint(conn, name).await? == template.fingerprint {
        Ok(reset(conn, template, name).await?)
    } else {
        registry::set_state(conn, name, State::Building).await?;
        build_database(server, conn, prepared, name).await
    }
}

/// Empties every table, copies the seed rows back from the template and sets back the
/// auto-increment counters the test moved, in one round trip (after reading the counters).
///
/// Only moved counters are set, since that takes DDL, the cheapest first: a table whose
/// template counter is one past its largest id (or 1, without seed rows) is truncated
/// (about 15 ms on a disk-backed MariaDB, where `DELETE` and `ALTER TABLE ...
/// AUTO_INCREMENT` take about 30), any other gets the `ALTER` after its rows are
/// restored. Deleting rows never lowers a counter and the seed rows keep their ids, so
/// the counters read before the reset are those a `DELETE` leaves; InnoDB cannot set a
/// counter below the table's largest id, which after the reset is at most the template's.
async fn reset(
    conn: &mut MySqlConnection,
    template: &TemplateInfo,
    name: &str,
) -> Result<(), ServerCallError> {
    let counters = counters(conn, name).await?;
    let moved = |table: &str| -> Option<u64> {
        let now = counters.iter().find(|(t, _)| t == table)?;
        let fresh = template.counters.iter().find(|(t, _)| t == table)?;
        (now.1 != fresh.1).then_some(fresh.1)
    };
    let mut sql = String::from("set foreign_key_checks = 0;");
    let mut alter = String::new();
    for table in &template.tables {
        // What a truncated table's counter becomes with its seed rows back.
        let truncates_to = |next: u64| {
            if template.seeded.contains(table) {
                template.refillable.contains(table)
            } else {
                next == 1
            }
        };
        match moved(table) {
            Some(next) if truncates_to(next) => {
                sql.push_str(&format!("truncate table `{name}`.`{table}`;"));
                continue;
            }
            Some(next) => alter.push_str(&format!(
                "alter table `{name}`.`{table}` auto_increment = {next};"
            )),
            None => {}
        }
        sql.push_str(&format!("delete from `{name}`.`{table}`;"));
    }
    for table in &template.seeded {
        sql.push_str(&format!(
            "insert into `{name}`.`{table}` select * from `{}`.`{table}`;",
            template.name
        ));
    }
    sql.push_str(&alter);
    sql.push_str("set foreign_key_checks = 1");
    lock_work(conn, name, WORK_WAIT_SECONDS).await?;
    let reset = sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .map(drop)
        .map_err(fail(format!("reset `{name}`")));
    unlock_work(conn, name).await;
    reset
}

/// Ends every other session on database `name` and waits (up to
/// [`WORK_WAIT_SECONDS`]) until they are gone. Only a dead holder's sessions can be
/// there: a live one closes its test's pool before it releases its claim. MySQL runs a
/// statement of a client that died to its end (an autocommitted `INSERT` lands after
/// its process is gone), so the next holder ends them before it resets.
async fn end_sessions_on(conn: &mut MySqlConnection, name: &str) -> Result<(), ServerCallError> {
    let mut pacer = Pace::every(
        Duration::from_millis(20),
        Duration::from_secs(WORK_WAIT_SECONDS.into()),
    )
    .start();
    loop {
        let sessions: Vec<i64> = sqlx::query_scalar(
            "select cast(id as signed) from information_schema.processlist
             where db = ? and id <> connection_id()",
        )
        .bind(name.to_owned())
        .fetch_all(&mut *conn)
        .await
        .map_err(fail(format!("list the sessions on `{name}`")))?;
        if sessions.is_empty() {
            return Ok(());
        }
        for id in sessions {
            // Gone meanwhile is as good as ended.
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("kill {id}")))
                .execute(&mut *conn)
                .await;
        }
        if !pacer.pause().await {
            break;
        }
    }
    Err(ServerCallError::StillChanging {
        backend: Backend::MySql,
        database: name.to_owned(),
        waited_seconds: WORK_WAIT_SECONDS,
    })
}

/// How long a builder or resetter waits for a dead holder's statement to end.
const WORK_WAIT_SECONDS: u32 = 120;

/// The named lock held, on the connection that runs them, around the statements that
/// change pooled database `name` as a whole (creating, resetting, dropping it). MySQL
/// runs a statement to its end after its client is gone, and frees the session's locks
/// only then; so the claim lock (on the lease, which dies with its process) says who may
/// change `name`, and this one says that nobody still does: whoever changes it next
/// waits for a killed holder's last statement instead of racing it (a second `CREATE
/// DATABASE`, a reset over a reset).
pub(crate) fn work_lock(name: &str) -> String {
    format!("testbed_work_{name}")
}

/// Takes `name`'s work lock on `conn`, waiting up to `seconds`: `false` if it did not
/// come in time.
pub(crate) async fn try_lock_work(
    conn: &mut MySqlConnection,
    name: &str,
    seconds: u32,
) -> Result<bool, ServerCallError> {
    let taken: Option<i64> = sqlx::query_scalar("select get_lock(?, ?)")
        .bind(work_lock(name))
        .bind(seconds)
        .fetch_one(conn)
        .await
        .map_err(fail(format!("lock `{name}` for work")))?;
    Ok(taken == Some(1))
}

async fn lock_work(
    conn: &mut MySqlConnection,
    name: &str,
    seconds: u32,
) -> Result<(), ServerCallError> {
    if try_lock_work(conn, name, seconds).await? {
        return Ok(());
    }
    Err(ServerCallError::StillChanging {
        backend: Backend::MySql,
        database: name.to_owned(),
        waited_seconds: seconds,
    })
}

/// Releases `name`'s work lock on `conn` (closing the connection would too).
pub(crate) async fn unlock_work(conn: &mut MySqlConnection, name: &str) {
    let _ = sqlx::query("select release_lock(?)")
        .bind(work_lock(name))
        .execute(conn)
        .await;
}

async fn release_lock(server: &MySqlServer, name: &str) {
    let mut lease = server.lease.lock().await;
    let _ = sqlx::query("select release_lock(?)")
        .bind(name.to_owned())
        .execute(&mut *lease)
        .await;
    drop(lease);
    unhold(name);
}

/// Returns a test's database to the pool: reset (or rebuilt if the test changed its
/// schema), or kept when the test failed and `TESTBED_KEEP_FAILED` asks.
async fn release(
    server: Arc<MySqlServer>,
    template: TemplateInfo,
    name: String,
    outcome: Outcome,
) -> Result<(), ServerCallError> {
    let keep = outcome.is_failure() && owner::keep_failed();
    engine::run(async move {
        let result = engine::boxed(async {
            let mut conn = crate::server_cache::acquire(&*server, &server.pool)
                .await
                .map_err(fail("connect"))?;
            if keep {
                return registry::set_state(&mut conn, &name, State::Kept).await;
            }
            let prepared_hash = name
                .trim_start_matches(crate::owner::POOL_PREFIX)
                .split('_')
                .next()
                .unwrap_or_default()
                .to_owned();
            if fingerprint(&mut conn, &name).await? == template.fingerprint {
                reset(&mut conn, &template, &name).await?;
                registry::set_state(&mut conn, &name, State::Clean).await
            } else {
                // Rebuilt by whoever claims it next, off this test's clock.
                registry::put(
                    &mut conn,
                    &name,
                    &prepared_hash,
                    "pooled",
                    State::Building,
                    None,
                    None,
                )
                .await
            }
        })
        .await;
        release_lock(&server, &name).await;
        result
    })
    .await
}
