//! Recycling (PostgreSQL's default isolation): a warm pool of clones per template.
//!
//! A clone from a template costs tens to hundreds of milliseconds on a disk-backed
//! server, so each test's database is reused: after the test, one round trip checks the
//! schema fingerprint and, if the test left the schema alone, deletes every row and
//! restores the template's rows and sequences (about a millisecond); a test that changed
//! the schema gets its database dropped. Pooled databases are named
//! `testbed_pool_<hash>_<n>` and shared by every process: a process claims one with an
//! advisory lock held by its lease connection, so a killed process's databases return
//! to the pool by themselves, to be reset by their next user. Clones are made in the
//! background so that a test rarely waits for one.
//!
//! A test gets a pool made on the engine's runtime with its connections already open,
//! so the test does not wait for one (several milliseconds here). The pool and its
//! connections outlive the test: the background reset ends each session
//! (`DISCARD ALL`) and the next user gets them, which spares every test the connects
//! and backend exits that otherwise cost more than the reset itself on two cores. A pool
//! that opened a connection during the test (on the test's runtime, which ends with it)
//! or still lends one out is closed instead, and the reset opens a new one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use testbed::{Outcome, Scope};

use super::server::{PgServer, server};
use super::template::{self, Template};
use super::{catalog, kept};
use crate::schema::Prepared;
use crate::{Backend, DbError, TestDb, engine, owner};

/// The comment of a pooled database.
pub(crate) const POOL_COMMENT: &str = "testbed pool";
/// The prefix of pooled databases' names.
pub(crate) const POOL_PREFIX: &str = "testbed_pool_";
/// The application name of recycled pools' connections, before the owner token.
pub(crate) const POOL_APPLICATION_PREFIX: &str = "testbed-pool-";
/// How many clean databases to keep ready beyond those in use.
const WARM: usize = 2;
/// The connections of each pooled database, all opened on the engine before a test
/// gets them and kept from test to test.
const CONNECTIONS: u32 = 3;

/// The advisory-lock key of pooled database `name`.
pub(crate) fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A clean database this process holds, with its pool made on the engine.
struct Claimed {
    name: String,
    pool: PgPool,
    /// Set when the pool opens a connection off the engine (a test's query that found
    /// none idle): that connection dies with the test's runtime, so the pool cannot
    /// outlive the test.
    foreign: Arc<AtomicBool>,
    /// When it last went idle (a [`kept::tick`]): the least recent is closed first when
    /// the process keeps too many connections.
    idle_since: u64,
}

/// The clean databases of one template this process holds.
struct Warm {
    server: Arc<PgServer>,
    template: Arc<Template>,
    free: Mutex<Vec<Claimed>>,
    /// Clones being made in the background.
    filling: AtomicUsize,
    /// Databases being reset in the background.
    resetting: AtomicUsize,
    /// Signalled each time a background reset ends.
    reset_done: tokio::sync::Notify,
}

impl Warm {
    fn pop(&self) -> Option<Claimed> {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Keeps `claimed` idle for the next test, then closes the least recently used idle
    /// pools of the process past [`kept::max_kept`] connections.
    fn push(&self, mut claimed: Claimed) {
        claimed.idle_since = kept::tick();
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(claimed);
        limit_kept();
    }

    fn free_count(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The warm pool of each template this process uses.
static WARM_POOLS: Mutex<Option<HashMap<String, Arc<Warm>>>> = Mutex::new(None);

/// Closes the least recently used idle pools while this process keeps more than
/// [`kept::max_kept`] connections in idle pools. Their databases are reset already: they
/// are let go to the shared pool, where the next user (this process or another) claims
/// them. A pool a test uses is never in a free list, so never closed here.
fn limit_kept() {
    let cap = kept::max_kept();
    let mut evicted = Vec::new();
    {
        // The map first, then every free list: only this function holds several free
        // locks at once, and it holds the map's lock while it does.
        let pools = WARM_POOLS.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pools) = pools.as_ref() else { return };
        let mut lists: Vec<_> = pools
            .values()
            .map(|warm| (warm, warm.free.lock().unwrap_or_else(|e| e.into_inner())))
            .collect();
        let mut total: usize = lists
            .iter()
            .flat_map(|(_, free)| free.iter())
            .map(|claimed| claimed.pool.size() as usize)
            .sum();
        while total > cap {
            let oldest = lists
                .iter()
                .enumerate()
                .flat_map(|(list, (_, free))| {
                    free.iter()
                        .enumerate()
                        .map(move |(at, claimed)| (claimed.idle_since, list, at))
                })
                .min();
            let Some((_, list, at)) = oldest else { break };
            let (warm, free) = &mut lists[list];
            let claimed = free.remove(at);
            total -= claimed.pool.size() as usize;
            evicted.push((warm.server.clone(), claimed));
        }
    }
    for (server, claimed) in evicted {
        engine::handle().spawn(async move {
            claimed.pool.close().await;
            unclaim(&server, &claimed.name).await;
        });
    }
}

fn warm_for(server: &Arc<PgServer>, template: &Arc<Template>) -> Arc<Warm> {
    let mut pools = WARM_POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let pools = pools.get_or_insert_default();
    match pools.get(&template.name) {
        // A rebuilt template (pruned meanwhile) starts a new pool.
        Some(warm) if Arc::ptr_eq(&warm.template, template) => warm.clone(),
        _ => {
            let warm = Arc::new(Warm {
                server: server.clone(),
                template: template.clone(),
                free: Mutex::new(Vec::new()),
                filling: AtomicUsize::new(0),
                resetting: AtomicUsize::new(0),
                reset_done: tokio::sync::Notify::new(),
            });
            pools.insert(template.name.clone(), warm.clone());
            warm
        }
    }
}

/// The names this process holds, so it never claims one twice (advisory locks are
/// re-entrant within a session).
fn held() -> std::sync::MutexGuard<'static, Option<std::collections::HashSet<String>>> {
    static HELD: Mutex<Option<std::collections::HashSet<String>>> = Mutex::new(None);
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Gives `scope`'s test a clean pooled database of `prepared`'s template.
///
/// With `rollback`, the test's pool has one connection that runs inside a transaction
/// opened when it connects and rolled back after the test: nothing the test writes is
/// ever committed, so there is nothing to reset.
pub(crate) async fn acquire(
    prepared: Arc<Prepared>,
    rollback: bool,
    scope: &Scope,
) -> Result<TestDb<sqlx::Postgres>, DbError> {
    let (server, warm, claimed) = match take_here(&prepared.hash) {
        Some(hot) => hot,
        None => {
            let work_prepared = prepared.clone();
            let taken = engine::run(async move {
                let server = server().await?;
                engine::boxed(super::inventory::sweep_once(&server)).await;
                let template = engine::boxed(template::ensure(&server, &work_prepared)).await?;
                let warm = warm_for(&server, &template);
                let claimed = match engine::boxed(take(&warm)).await {
                    Some(claimed) => claimed,
                    None => engine::boxed(claim_ready(&server, &warm)).await?,
                };
                fill_in_background(&server, &warm);
                Ok::<_, DbError>((server, warm, claimed))
            })
            .await?;
            remember(&prepared.hash, &taken.0, &taken.1);
            taken
        }
    };
    let name = claimed.name.clone();
    let url = server.url_of(&name);
    let pool = if rollback {
        in_transaction(&server, &name)
    } else {
        claimed.pool.clone()
    };
    let (cleanup_pool, details) = (pool.clone(), scope.details());
    let cleanup_url = url.clone();
    scope.add_async_cleanup(move |outcome: Outcome| {
        release(
            server,
            warm,
            claimed,
            rollback.then_some(cleanup_pool),
            (cleanup_url, details),
            outcome,
        )
    });
    Ok(TestDb {
        pool,
        url: Some(url),
        name,
        backend: Backend::Postgres,
    })
}

/// A pool of one connection that opens a transaction as it connects. The transaction is
/// left open with sqlx counting it, so that the test's own `begin()` becomes a savepoint
/// and its `commit()` a savepoint release: nothing reaches the database for good.
fn in_transaction(server: &PgServer, name: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                let transaction = conn.begin().await?;
                // Forgetting the guard keeps the transaction open (its drop would roll
                // back) and sqlx's depth at one; the cleanup rolls back by hand.
                std::mem::forget(transaction);
                Ok(())
            })
        })
        .connect_lazy_with(pool_options(server, name))
}

/// Connect options for a test's pool on `name`, named `testbed-pool-<token>` so that the
/// server's `pg_stat_activity` tells which process keeps them.
fn pool_options(server: &PgServer, name: &str) -> sqlx::postgres::PgConnectOptions {
    server
        .options_for(name)
        .application_name(&format!("{POOL_APPLICATION_PREFIX}{}", owner::token()))
}

/// Rolls back the test's transaction: `true` if it was still open, so that nothing the
/// test did was committed.
async fn roll_back(pool: &PgPool) -> Result<bool, DbError> {
    let fail = |e| DbError::server(Backend::Postgres, "roll back the test's transaction", e);
    let mut conn = pool.acquire().await.map_err(fail)?;
    // A savepoint is refused outside a transaction block (25P01), and a transaction
    // aborted by an error refuses everything but a rollback (25P02): both tell.
    let open = match sqlx::raw_sql("savepoint testbed_check")
        .execute(&mut *conn)
        .await
    {
        Ok(_) => true,
        Err(error) => match error
            .as_database_error()
            .and_then(|db| db.code())
            .as_deref()
        {
            Some("25P01") => false,
            Some("25P02") => true,
            _ => return Err(fail(error)),
        },
    };
    sqlx::raw_sql("rollback")
        .execute(&mut *conn)
        .await
        .map_err(fail)?;
    Ok(open)
}

/// Commits the test's transaction, so a failing test's rows are there to inspect.
async fn commit(pool: &PgPool) -> Result<(), DbError> {
    let fail = |e| DbError::server(Backend::Postgres, "commit the failing test's work", e);
    let mut conn = pool.acquire().await.map_err(fail)?;
    sqlx::raw_sql("commit")
        .execute(&mut *conn)
        .await
        .map_err(fail)?;
    Ok(())
}

/// After the test: reset and return the database to the warm pool, or drop it if the
/// test changed its schema, or keep it for inspection. `rollback` is the test's own
/// pool in rollback mode.
async fn release(
    server: Arc<PgServer>,
    warm: Arc<Warm>,
    claimed: Claimed,
    rollback: Option<PgPool>,
    (url, details): (String, testbed::Details),
    outcome: Outcome,
) -> Result<(), DbError> {
    if outcome.is_failure() && owner::keep_failed() {
        let Claimed { name, pool, .. } = claimed;
        if let Some(rollback) = &rollback {
            let _ = commit(rollback).await;
            rollback.close().await;
        }
        pool.close().await;
        keep(server, name).await?;
        crate::handle::announce_kept(&details, Backend::Postgres, &url);
        return Ok(());
    }
    if let Some(rollback) = rollback {
        let clean = roll_back(&rollback).await.unwrap_or(false);
        rollback.close().await;
        if clean {
            // Still in its transaction: the rollback undid everything.
            warm.push(claimed);
            warm.reset_done.notify_one();
            return Ok(());
        }
        claimed.pool.close().await;
        reset_in_background(server, warm, claimed.name, None);
        return Ok(());
    }
    // The test's connections go back to the pool through tasks on the test's runtime:
    // wait for them here (the engine only watches), before that runtime ends.
    let (pool, foreign) = (claimed.pool.clone(), claimed.foreign.clone());
    if engine::run(async move { reusable(&pool, &foreign).await }).await {
        let name = claimed.name.clone();
        reset_in_background(server, warm, name, Some(claimed));
        return Ok(());
    }
    let Claimed { name, pool, .. } = claimed;
    // Closing waits for the test's connections to end, so none holds a lock the reset
    // would wait for.
    pool.close().await;
    reset_in_background(server, warm, name, None);
    Ok(())
}

/// The server and warm pool of each schema hash this process has used.
type Hot = HashMap<String, (Arc<PgServer>, Arc<Warm>)>;

fn hot() -> std::sync::MutexGuard<'static, Option<Hot>> {
    static HOT: Mutex<Option<Hot>> = Mutex::new(None);
    HOT.lock().unwrap_or_else(|e| e.into_inner())
}

fn remember(hash: &str, server: &Arc<PgServer>, warm: &Arc<Warm>) {
    hot()
        .get_or_insert_default()
        .insert(hash.to_owned(), (server.clone(), warm.clone()));
}

/// A clean database taken on the test's own thread: the common case needs no trip to
/// the engine, whose thread may be busy with background resets.
fn take_here(hash: &str) -> Option<(Arc<PgServer>, Arc<Warm>, Claimed)> {
    let (server, warm) = hot().as_ref()?.get(hash)?.clone();
    let claimed = warm.pop()?;
    fill_in_background(&server, &warm);
    Some((server, warm, claimed))
}

/// A clean database of the warm pool, waiting for background resets to finish when
/// every one is being reset: a reset takes milliseconds, a new clone far more.
async fn take(warm: &Warm) -> Option<Claimed> {
    loop {
        let done = warm.reset_done.notified();
        if let Some(claimed) = warm.pop() {
            return Some(claimed);
        }
        if warm.resetting.load(Ordering::SeqCst) == 0 {
            return None;
        }
        // A missed signal costs this timeout at worst, never a hang.
        let _ = tokio::time::timeout(Duration::from_millis(200), done).await;
    }
}

/// Resets `name` on the engine, off the test's clock, through the test's pool when it
/// was `kept` (its sessions ended first) or a new pool, which the next user then gets;
/// or drops it if the test changed its schema. A failure here has no
/// test to report to: the database is dropped and the pool makes another.
fn reset_in_background(
    server: Arc<PgServer>,
    warm: Arc<Warm>,
    name: String,
    kept: Option<Claimed>,
) {
    warm.resetting.fetch_add(1, Ordering::SeqCst);
    engine::handle().spawn(async move {
        let opened = match kept {
            Some(claimed) => match engine::boxed(end_sessions(&claimed.pool)).await {
                Ok(()) => Ok(claimed),
                Err(_) => {
                    claimed.pool.close().await;
                    engine::boxed(open_pool(&server, &name)).await
                }
            },
            None => engine::boxed(open_pool(&server, &name)).await,
        };
        let outcome = match opened {
            Ok(claimed) => match engine::boxed(reset(&warm.template, &claimed.pool)).await {
                Ok(true) => {
                    idle(&claimed.pool).await;
                    Some(claimed)
                }
                _ => {
                    claimed.pool.close().await;
                    None
                }
            },
            Err(_) => None,
        };
        match outcome {
            Some(claimed) => warm.push(claimed),
            None => {
                let _ = discard(server, name).await;
            }
        }
        warm.resetting.fetch_sub(1, Ordering::SeqCst);
        warm.reset_done.notify_one();
    });
}

/// Waits (on the engine, off the tests' clock) until the pool's connection is back in
/// it: a connection is returned by a task after a ping, and a test that found none idle
/// would open a connection of its own.
async fn idle(pool: &PgPool) {
    // A ping takes a round trip, far less than the timer's millisecond: yield first.
    let spin = std::time::Instant::now();
    while spin.elapsed() < Duration::from_millis(1) {
        if pool.num_idle() as u32 == pool.size() {
            return;
        }
        tokio::task::yield_now().await;
    }
    for _ in 0..200 {
        if pool.num_idle() as u32 == pool.size() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Whether the test's pool can serve the next test: every connection back in it and
/// each one opened on the engine. Otherwise (a connection the test still holds, or one
/// opened on the test's runtime, which dies with it) the pool is closed and a new one
/// opened. Runs on the engine.
async fn reusable(pool: &PgPool, foreign: &AtomicBool) -> bool {
    idle(pool).await;
    !pool.is_closed()
        && pool.size() > 0
        && pool.num_idle() as u32 == pool.size()
        && !foreign.load(Ordering::SeqCst)
}

/// Ends what the last test left in each session of `pool`, so that the next test finds
/// them as new ones: a transaction still open (or failed) is rolled back, then
/// `DISCARD ALL` drops temporary tables, prepared statements, cursors, listeners,
/// advisory locks and session settings (the role too), and sqlx's statement cache is
/// emptied to match. Reusing the connections spares each test two connects and two
/// backend exits, the bulk of a reset's cost. Runs on the engine.
async fn end_sessions(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut sessions = Vec::new();
    for _ in 0..pool.size() {
        sessions.push(pool.acquire().await?);
    }
    for session in &mut sessions {
        // Refused inside a transaction block, open or failed: roll it back first.
        if sqlx::raw_sql("discard all")
            .execute(&mut **session)
            .await
            .is_err()
        {
            sqlx::raw_sql("rollback").execute(&mut **session).await?;
            sqlx::raw_sql("discard all").execute(&mut **session).await?;
        }
        session.clear_cached_statements().await?;
    }
    Ok(())
}

/// A pool for database `name`, made here on the engine so that it outlives tests, with
/// all its [`CONNECTIONS`] open and idle. No reaper, no minimum: nothing of it runs on its
/// own.
async fn open_pool(server: &PgServer, name: &str) -> Result<Claimed, DbError> {
    let foreign = Arc::new(AtomicBool::new(false));
    let flag = foreign.clone();
    let pool = crate::handle::test_pool_options::<sqlx::Postgres>()
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        // Fresh connections for one test: a ping before each use would only cost a
        // round trip.
        .test_before_acquire(false)
        .after_connect(move |_, _| {
            if !engine::is_current() {
                flag.store(true, Ordering::SeqCst);
            }
            Box::pin(async { Ok(()) })
        })
        .connect_with(pool_options(server, name))
        .await
        .map_err(|e| DbError::server(Backend::Postgres, format!("connect to `{name}`"), e))?;
    // Every connection, opened at once: sqlx pings a connection on its way back to the
    // pool, and a query that finds none idle opens one (milliseconds, and on the test's
    // runtime, which would make the pool die with the test) rather than wait. Idle
    // connections are handed out in turn, so each has several queries' time to return.
    let opening: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire().await })
        })
        .collect();
    let mut connected = Vec::new();
    for task in opening {
        connected.push(
            task.await
                .map_err(|e| sqlx::Error::Protocol(format!("connecting task failed: {e}")))
                .and_then(|connection| connection),
        );
    }
    // Every task awaited first: a connection still held by one would make `close` wait
    // for it forever.
    if let Err(error) = connected.into_iter().collect::<Result<Vec<_>, _>>() {
        pool.close().await;
        return Err(DbError::server(
            Backend::Postgres,
            format!("connect to `{name}`"),
            error,
        ));
    }
    idle(&pool).await;
    Ok(Claimed {
        name: name.to_owned(),
        pool,
        foreign,
        idle_since: kept::tick(),
    })
}

/// Claims a free pooled database or makes a clone, and readies it: its pool open, and
/// reset if another process left it. Loops past databases whose schema was changed.
async fn claim_ready(server: &PgServer, warm: &Warm) -> Result<Claimed, DbError> {
    for _attempt in 0..5 {
        let (name, needs_reset) = claim_or_clone(server, &warm.template).await?;
        let claimed = match open_pool(server, &name).await {
            Ok(claimed) => claimed,
            Err(error) => {
                unclaim(server, &name).await;
                return Err(error);
            }
        };
        if !needs_reset {
            return Ok(claimed);
        }
        let pool = &claimed.pool;
        // Left by a process that is gone: maybe mid-test, maybe with its schema changed.
        match reset(&warm.template, pool).await {
            Ok(true) => return Ok(claimed),
            Ok(false) => {
                pool.close().await;
                drop_claimed(server, &name).await?;
            }
            Err(error) => {
                pool.close().await;
                drop_claimed(server, &name).await?;
                return Err(error);
            }
        }
    }
    Err(DbError::server(
        Backend::Postgres,
        "find a usable pooled database",
        sqlx::Error::Protocol("every pooled database had a changed schema".into()),
    ))
}

/// Resets the database behind `pool` to the template's rows in one round trip, unless
/// its schema changed (`false`).
async fn reset(template: &Template, pool: &PgPool) -> Result<bool, DbError> {
    let fingerprint = template.fingerprint.replace('\'', "''");
    let guard = format!(
        "do $testbed_guard$ begin
           if ({}) <> '{fingerprint}' then
             raise exception 'testbed: schema changed' using errcode = 'TBSCH';
           end if;
         end $testbed_guard$;\n",
        catalog::fingerprint_sql()
    );
    let script = format!("{guard}{}", template.reset);
    match sqlx::raw_sql(AssertSqlSafe(script)).execute(pool).await {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_database_error()
                .is_some_and(|db| db.code().as_deref() == Some("TBSCH")) =>
        {
            Ok(false)
        }
        Err(error) => Err(DbError::server(
            Backend::Postgres,
            "reset a pooled database",
            error,
        )),
    }
}

/// Claims a pooled database left free by another process (or a run before), or makes a
/// new clone of `template`.
async fn claim_or_clone(server: &PgServer, template: &Template) -> Result<(String, bool), DbError> {
    let fail = |action: &'static str| move |e| DbError::server(Backend::Postgres, action, e);
    let prefix = pool_prefix(template);
    let names: Vec<String> = sqlx::query_scalar(
        "select datname from pg_database
         where starts_with(datname, $1) and shobj_description(oid, 'pg_database') = $2
         order by datname",
    )
    .bind(prefix.clone())
    .bind(POOL_COMMENT)
    .fetch_all(&server.pool)
    .await
    .map_err(fail("list pooled databases"))?;
    for name in &names {
        if try_claim(server, name).await? {
            return Ok((name.clone(), true));
        }
    }
    let mut serial = names.len() + 1;
    loop {
        let name = format!("{prefix}{serial}");
        serial += 1;
        if !try_claim(server, &name).await? {
            continue;
        }
        match clone_into(server, template, &name).await {
            Ok(true) => return Ok((name, false)),
            // It exists (made by another process, or one with another comment).
            Ok(false) => unclaim(server, &name).await,
            Err(error) => {
                unclaim(server, &name).await;
                return Err(error);
            }
        }
    }
}

fn pool_prefix(template: &Template) -> String {
    let hash = template.name.rsplit('_').next().unwrap_or_default();
    format!("{POOL_PREFIX}{hash}_")
}

/// Takes the advisory lock of `name` on the lease: `true` if this process now holds it.
async fn try_claim(server: &PgServer, name: &str) -> Result<bool, DbError> {
    if !held().get_or_insert_default().insert(name.to_owned()) {
        return Ok(false);
    }
    let locked: Result<bool, _> = {
        let mut lease = server.lease.lock().await;
        sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(lock_key(name))
            .fetch_one(&mut *lease)
            .await
    };
    match locked {
        Ok(true) => Ok(true),
        Ok(false) => {
            held().get_or_insert_default().remove(name);
            Ok(false)
        }
        Err(error) => {
            held().get_or_insert_default().remove(name);
            Err(DbError::server(
                Backend::Postgres,
                "lock a pooled database",
                error,
            ))
        }
    }
}

async fn unclaim(server: &PgServer, name: &str) {
    let mut lease = server.lease.lock().await;
    let _ = sqlx::query("select pg_advisory_unlock($1)")
        .bind(lock_key(name))
        .execute(&mut *lease)
        .await;
    drop(lease);
    held().get_or_insert_default().remove(name);
}

/// Clones `template` into `name`; `false` if `name` already exists.
async fn clone_into(server: &PgServer, template: &Template, name: &str) -> Result<bool, DbError> {
    if !super::intent::record(server, name).await? {
        return Ok(false);
    }
    let mut conn = server
        .pool
        .acquire()
        .await
        .map_err(|e| DbError::server(Backend::Postgres, "connect", e))?;
    match super::create_clone(&mut conn, server, &template.name, name).await {
        Ok(()) => {}
        Err(error)
            if error
                .as_database_error()
                .is_some_and(|db| db.code().as_deref() == Some("42P04")) =>
        {
            super::intent::clear(server, name).await?;
            return Ok(false);
        }
        Err(error) => {
            // Nothing was made: the intent has nothing left to prove.
            let _ = super::intent::clear(server, name).await;
            return Err(DbError::server(
                Backend::Postgres,
                format!(
                    "clone template `{}` (hint: disconnect any session from it)",
                    template.name
                ),
                error,
            ));
        }
    }
    // A failed mark keeps the intent: once this process is gone, the sweep drops the
    // database.
    template::run(&mut conn, super::mark(name, POOL_COMMENT))
        .await
        .map_err(|e| DbError::server(Backend::Postgres, format!("mark `{name}`"), e))?;
    drop(conn);
    super::intent::clear(server, name).await?;
    Ok(true)
}

/// Keeps up to [`WARM`] clean databases ready, cloning in the background.
fn fill_in_background(server: &Arc<PgServer>, warm: &Arc<Warm>) {
    let ready = warm.free_count() + warm.filling.load(Ordering::SeqCst);
    if ready >= WARM {
        return;
    }
    warm.filling.fetch_add(1, Ordering::SeqCst);
    let (server, warm) = (server.clone(), warm.clone());
    engine::handle().spawn(async move {
        let made = engine::boxed(claim_ready(&server, &warm)).await;
        if let Ok(claimed) = made {
            warm.push(claimed);
            warm.reset_done.notify_one();
        }
        warm.filling.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Drops a pooled database whose schema a test changed, then lets it go.
async fn discard(server: Arc<PgServer>, name: String) -> Result<(), DbError> {
    engine::run(async move { engine::boxed(drop_claimed(&server, &name)).await }).await
}

/// Drops claimed database `name` and releases its lock. Runs on the engine.
async fn drop_claimed(server: &PgServer, name: &str) -> Result<(), DbError> {
    let result = async {
        let mut conn = PgConnection::connect_with(&server.admin)
            .await
            .map_err(|e| DbError::server(Backend::Postgres, "connect", e))?;
        let dropped = template::drop_database(&mut conn, name).await;
        let _ = conn.close().await;
        dropped.map_err(|e| DbError::server(Backend::Postgres, format!("drop `{name}`"), e))
    }
    .await;
    unclaim(server, name).await;
    result
}

/// Marks a failing test's pooled database as kept, out of the pool, and lets it go.
async fn keep(server: Arc<PgServer>, name: String) -> Result<(), DbError> {
    engine::run(async move {
        let comment = super::inventory::KEPT_COMMENT;
        let result = engine::boxed(async {
            let mut conn = server
                .pool
                .acquire()
                .await
                .map_err(|e| DbError::server(Backend::Postgres, "connect", e))?;
            template::run(
                &mut conn,
                format!(r#"comment on database "{name}" is '{comment}'"#),
            )
            .await
            .map_err(|e| DbError::server(Backend::Postgres, format!("keep `{name}`"), e))
        })
        .await;
        unclaim(&server, &name).await;
        result
    })
    .await
}
