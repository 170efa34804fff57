//! The connections to one pooled database: opening its pool on the engine, ending what
//! a test left in its sessions, and the one-round-trip reset to the template's rows.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::{AssertSqlSafe, Connection};

use super::super::catalog;
use super::super::marks::POOL_APPLICATION_PREFIX;
use super::super::schema_check::{self, SchemaMemory};
use super::super::server::PgServer;
use super::super::template::Template;
use super::returned;
use super::rollback::RollbackSession;
use crate::pool_limit::{self, Holdings, TEST_POOL_CONNECTIONS};
use crate::retry::Pace;
use crate::{Backend, ServerCallError, engine, owner};

/// The connections opened before a test gets its pool, when the pool serves one test
/// per process (under nextest): with the lease, a test process keeps three connections.
/// sqlx pings a connection on its way back to the pool, and a query that finds none
/// idle opens one of its own, on the test's runtime; [`end_sessions`] closes it.
const CONNECTIONS_ONE_TEST: u32 = 2;

/// The same when the pool serves the process's next tests (under `cargo test`): with
/// two, the test's own queries opened a third in most tests (150 of the bench's 200, at
/// 4 threads, counted with `log_connections`), each a new server session, about 15 ms
/// of the server's CPU; with three, about one test in three. The pool then grows to
/// what its tests held at once ([`grow_to_the_tests_use`]). Every idle pool counts
/// towards the process's cap ([`kept::max_kept`](super::super::kept::max_kept)).
const CONNECTIONS_NEXT_TESTS: u32 = 3;

/// How many connections a claimed database's pool opens at once, and at most.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sessions {
    pub(crate) open: u32,
    pub(crate) limit: u32,
    /// Whether the sessions run nothing but testbed's resets (the broker's), never a
    /// test's queries: as a superuser they then start with `session_replication_role`
    /// already `replica`, so that the reset's own setting of it changes nothing. A change
    /// of that setting empties the session's plan cache, and with it the fingerprint
    /// check's plan, made again on every reset (about 0.45 ms of the server's time).
    pub(crate) resets_only: bool,
    /// Whether the resets get such a session of their own ([`Claimed::resets`]).
    pub(crate) reset_session: bool,
}

impl Sessions {
    /// A test's pool: [`CONNECTIONS_ONE_TEST`] or [`CONNECTIONS_NEXT_TESTS`] opened
    /// before the test starts, up to the test pool's limit; when it serves the process's
    /// next tests, with a reset session of its own.
    pub(crate) fn test() -> Self {
        Self {
            open: if crate::reached::under_nextest() {
                CONNECTIONS_ONE_TEST
            } else {
                CONNECTIONS_NEXT_TESTS
            },
            limit: TEST_POOL_CONNECTIONS,
            resets_only: false,
            reset_session: !crate::reached::under_nextest(),
        }
    }
    /// None opened: a `Rollback` test works on a pool of its own.
    pub(crate) const NONE: Self = Self {
        open: 0,
        limit: TEST_POOL_CONNECTIONS,
        resets_only: false,
        reset_session: false,
    };
    /// The broker's: one session, for its resets (tests reach the database through
    /// its session pool); sqlx would open more for back-to-back statements otherwise.
    /// Also a test pool's reset session under `cargo test` ([`Claimed::resets`]).
    pub(crate) const BROKER: Self = Self {
        open: 1,
        limit: 1,
        resets_only: true,
        reset_session: false,
    };
}

/// A pool on a pooled database this process holds, made on the engine.
pub(crate) struct Claimed {
    pub(crate) name: String,
    pub(crate) pool: PgPool,
    /// The server process ids of the connections the pool opened off the engine (a
    /// test's query that found none idle): such a connection dies with the test's
    /// runtime, so [`end_sessions`] closes it while that runtime still runs.
    pub(crate) opened_by_test: Arc<Mutex<HashSet<i32>>>,
    /// When it last went idle (a `kept::tick`): the least recent is closed first when
    /// the process keeps too many connections.
    pub(crate) idle_since: u64,
    /// What the test using it holds of its connections.
    pub(crate) holdings: Arc<Holdings>,
    /// The session a `Rollback` test here used, kept for the next one: None until one
    /// ran here, or when it could not be kept.
    pub(crate) rollback: Option<RollbackSession>,
    /// Under `cargo test`, the session the resets run on, which no test uses
    /// ([`Sessions::resets_only`]): the fingerprint check and the probe keep their plans
    /// from one reset to the next. On a test's session they were made again on every
    /// reset (about 1.5 ms of the server's time), as `end_sessions` discards its prepared
    /// statements and plans, and a superuser's reset changes `session_replication_role`.
    /// None under nextest, where the pool serves one test.
    pub(crate) resets: Option<PgPool>,
    /// What its resets remember of its schema, when it serves several tests of this
    /// process (see [`SchemaMemory`]).
    pub(crate) schema: SchemaMemory,
}

impl Claimed {
    /// The connections it keeps open.
    pub(crate) fn connections(&self) -> usize {
        let rollback = self
            .rollback
            .as_ref()
            .map_or(0, |session| session.pool.size());
        let resets = self.resets.as_ref().map_or(0, PgPool::size);
        (self.pool.size() + rollback + resets) as usize
    }

    /// Takes the test pool of `fresh`, opened on the same database in place of a pool
    /// a test still held (now closed), and keeps what belongs to the database: its
    /// `Rollback` session, its reset session and what its resets remember of its schema.
    pub(crate) fn replace_pool(&mut self, fresh: Claimed) {
        debug_assert_eq!(self.name, fresh.name);
        self.pool = fresh.pool;
        self.opened_by_test = fresh.opened_by_test;
        self.holdings = fresh.holdings;
        self.idle_since = fresh.idle_since;
    }

    /// Resets its database (see [`reset`]) on its reset session if it has one, else on
    /// its own pool, with what its earlier resets remember of its schema.
    pub(crate) async fn reset(
        &mut self,
        server: &PgServer,
        template: &Template,
    ) -> Result<bool, ServerCallError> {
        let pool = self.resets.as_ref().unwrap_or(&self.pool);
        reset(server, template, pool, &mut self.schema).await
    }

    /// Ends every session on its database but this process's own pools' and the
    /// `spared` ones (see [`end_other_sessions`]), asking on its reset session if it has
    /// one, else on its own pool (whose sessions the test may have left in a failed
    /// transaction: end those first, with [`end_sessions`]).
    pub(crate) async fn end_other_sessions(&self, spared: &[i32]) -> Result<(), ServerCallError> {
        let pool = self.resets.as_ref().unwrap_or(&self.pool);
        end_other_sessions(pool, &self.name, spared).await
    }

    /// Ends what a test left on its database, before the reset: the state of its pool's
    /// sessions ([`end_sessions`]), and the sessions it opened itself from the URL and
    /// kept ([`Claimed::end_other_sessions`]); side by side when a reset session asks
    /// for the latter. Returns how many sessions the test's queries opened.
    pub(crate) async fn end_test_sessions(&self) -> Result<u32, ServerCallError> {
        let own = async {
            end_sessions(self).await.map_err(|error| {
                ServerCallError::statement(
                    Backend::Postgres,
                    format!("end the test's sessions on `{}`", self.name),
                    error,
                )
            })
        };
        if self.resets.is_some() {
            let (opened, ()) =
                futures_util::future::try_join(own, self.end_other_sessions(&[])).await?;
            return Ok(opened);
        }
        let opened = own.await?;
        // Asked on a session of the pool once it is back: taking one sooner would open
        // another (see `returned::idle`).
        returned::idle(&self.pool).await;
        self.end_other_sessions(&[]).await?;
        Ok(opened)
    }

    /// Closes its pools: its own, its `Rollback` session's and its reset session's.
    pub(crate) async fn close(&self) {
        if let Some(session) = &self.rollback {
            session.pool.close().await;
        }
        if let Some(resets) = &self.resets {
            resets.close().await;
        }
        self.pool.close().await;
    }
}

/// Connect options for a test's pool on `name`, named `testbed-pool-<token>` so that
/// `pg_stat_activity` tells which process keeps them.
pub(super) fn pool_options(server: &PgServer, name: &str) -> sqlx::postgres::PgConnectOptions {
    server
        .options_for(name)
        .application_name(&format!("{POOL_APPLICATION_PREFIX}{}", owner::token()))
}

/// A pool for database `name`, made here on the engine so that it outlives tests, with
/// `open` connections open and idle, and its reset session if `sessions` asks for one.
/// No reaper, no minimum: nothing of it runs on its own.
pub(crate) async fn open_pool(
    server: &PgServer,
    name: &str,
    sessions: Sessions,
) -> Result<Claimed, ServerCallError> {
    let mut claimed = open_sessions(server, name, sessions).await?;
    if sessions.reset_session {
        match open_sessions(server, name, Sessions::BROKER).await {
            Ok(resets) => claimed.resets = Some(resets.pool),
            Err(error) => {
                claimed.pool.close().await;
                return Err(error);
            }
        }
    }
    Ok(claimed)
}

/// [`open_pool`] without the reset session.
async fn open_sessions(
    server: &PgServer,
    name: &str,
    sessions: Sessions,
) -> Result<Claimed, ServerCallError> {
    let opened_by_test: Arc<Mutex<HashSet<i32>>> = Arc::default();
    let holdings = Holdings::new(sessions.limit);
    let (on_connect, pids) = (holdings.clone(), opened_by_test.clone());
    let pool = pool_limit::test_pool_options::<sqlx::Postgres>(&holdings)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .after_connect(move |connection, _| {
            on_connect.took();
            let pids = pids.clone();
            Box::pin(async move {
                if !engine::is_current() {
                    // One round trip, only for a connection the test's query opened.
                    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
                        // Not kept: `end_sessions` discards the server's statements.
                        .persistent(false)
                        .fetch_one(&mut *connection)
                        .await?;
                    pids.lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
                }
                Ok(())
            })
        })
        .connect_lazy_with(if sessions.resets_only && server.superuser {
            pool_options(server, name).options([("session_replication_role", "replica")])
        } else {
            pool_options(server, name)
        });
    if let Err(error) = hold_at_once(&pool, sessions.open).await {
        pool.close().await;
        return Err(ServerCallError::statement(
            Backend::Postgres,
            format!("connect to `{name}`"),
            cause_of(error, server, name).await,
        ));
    }
    Ok(Claimed {
        name: name.to_owned(),
        pool,
        opened_by_test,
        idle_since: super::super::kept::tick(),
        holdings,
        rollback: None,
        resets: None,
        schema: if sessions.resets_only || sessions.reset_session {
            SchemaMemory::Unknown
        } else {
            SchemaMemory::Off
        },
    })
}

/// Holds `count` connections of `pool` at once, opening the ones it lacks in parallel
/// (each costs a backend start on the server), then gives them back and waits until
/// they are idle.
async fn hold_at_once(pool: &PgPool, count: u32) -> Result<(), sqlx::Error> {
    let opening: Vec<_> = (0..count)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire().await })
        })
        .collect();
    let mut connected = Vec::new();
    for task in opening {
        connected.push(
            task.await
                // A connecting task that panicked or was cancelled.
                .map_err(|_| sqlx::Error::WorkerCrashed)
                .and_then(|connection| connection),
        );
    }
    // Every task awaited first: a connection still held by one would make a `close`
    // wait for it forever.
    let connected = connected.into_iter().collect::<Result<Vec<_>, _>>();
    drop(connected?);
    returned::idle(pool).await;
    Ok(())
}

/// After a test whose queries opened `opened` sessions of their own (closed by
/// [`end_sessions`]), opens as many on the engine, where they outlive the test, when
/// `claimed` serves the process's next tests (under `cargo test`, where it has a reset
/// session; under nextest its process ends with the test): its pool then keeps as many
/// as its tests have held at once (up to the limit), and a next test like this one
/// opens none. A new session costs a backend start on the server (about 15 ms of its
/// time), a pool made larger only a connection that waits.
pub(crate) async fn grow_to_the_tests_use(claimed: &Claimed, opened: u32) {
    if claimed.resets.is_none() || opened == 0 {
        return;
    }
    let limit = claimed.pool.options().get_max_connections();
    let wanted = claimed.pool.size().saturating_add(opened).min(limit);
    // A failure here costs only the next test a session of its own.
    let _ = hold_at_once(&claimed.pool, wanted).await;
}

/// The real cause behind a pool's timeout: sqlx's pool retries a server that refuses
/// for too many connections (or is starting up) until its timeout and then reports only
/// the timeout. One direct connection tells what the server says.
async fn cause_of(error: sqlx::Error, server: &PgServer, name: &str) -> sqlx::Error {
    if !matches!(error, sqlx::Error::PoolTimedOut) {
        return error;
    }
    match sqlx::PgConnection::connect_with(&pool_options(server, name)).await {
        Ok(conn) => {
            let _ = conn.close().await;
            error
        }
        Err(cause) => cause,
    }
}

/// Ends what the last test left in each session of `claimed`'s pool, so that the reset
/// runs as testbed wrote it and the next test finds the sessions as new ones: a
/// transaction still open (or failed) is rolled back, then `DISCARD ALL` drops temporary
/// tables, prepared statements, cursors, listeners, advisory locks and session settings
/// (the role and search path too, which the reset's statements depend on), and sqlx's
/// statement cache is emptied to match. The sessions the test's queries opened on its
/// runtime are closed instead (they die with it); the pool's own stay, so the next test
/// starts no new ones. Two round trips per session (`DISCARD ALL`, then closing the
/// statements sqlx cached, when it cached any), one more after a test that opened
/// sessions, all sessions side by side. Runs on the engine, before the reset, while the
/// test's runtime still runs. Returns how many sessions the test's queries had opened
/// (see [`grow_to_the_tests_use`]).
async fn end_sessions(claimed: &Claimed) -> Result<u32, sqlx::Error> {
    let mut sessions = Vec::new();
    for _ in 0..claimed.pool.size() {
        sessions.push(claimed.pool.acquire().await?);
    }
    let opened_by_test = std::mem::take(
        &mut *claimed
            .opened_by_test
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    );
    let ended = sessions
        .into_iter()
        .map(|session| returned::end_session(session, &opened_by_test));
    futures_util::future::try_join_all(ended).await?;
    Ok(u32::try_from(opened_by_test.len()).unwrap_or(u32::MAX))
}

/// Resets the database behind `pool` to the template's rows; `false` if its schema
/// changed in a way [`undo_additions`] cannot undo.
///
/// As a superuser, the reset runs with `session_replication_role = replica` (for its
/// own transaction only): no trigger fires, neither the foreign-key checks, which the
/// template's own rows need not pass again (a third less time on a new session), nor
/// a user's triggers, which would otherwise write rows of their own while the reset
/// deletes and restores.
///
/// `schema` is what the database's earlier resets remember of its schema, updated here.
async fn reset(
    server: &PgServer,
    template: &Template,
    pool: &PgPool,
    schema: &mut SchemaMemory,
) -> Result<bool, ServerCallError> {
    if reset_rows(server, template, pool, schema).await? {
        return Ok(true);
    }
    if !undo_additions(template, pool).await? {
        return Ok(false);
    }
    reset_rows(server, template, pool, schema).await
}

/// The reset itself, after the fingerprint check: `false` if the schema is not the
/// template's. Three round trips at most: the fingerprint (or, when `schema` remembers a
/// mark, the cheaper check that nothing changed since, and the fingerprint only if
/// something did), the probe of what the test changed (see the `rows` module), and a
/// script that resets only that, skipped when the test changed nothing.
///
/// The check and the probe are prepared statements: on a session that lives on (the
/// broker's, whose setting of `session_replication_role` never changes: see
/// [`Sessions::resets_only`]) their plans are made once, where a guard inside the
/// reset's script (a `DO` block) was compiled and planned again for every reset, about
/// 1 ms of the server's time. Nothing else touches the database between them: the
/// caller holds it, and its test's sessions are gone.
async fn reset_rows(
    server: &PgServer,
    template: &Template,
    pool: &PgPool,
    schema: &mut SchemaMemory,
) -> Result<bool, ServerCallError> {
    let mut conn = pool.acquire().await.map_err(|e| {
        ServerCallError::statement(Backend::Postgres, "reach a pooled database to reset it", e)
    })?;
    let (unchanged, mark) =
        schema_check::unchanged_since(&mut conn, server.version, *schema).await?;
    let matched = unchanged || {
        let step = crate::trace::step("schema fingerprint");
        let fingerprint = catalog::fingerprint(&mut conn).await?;
        step.end();
        fingerprint == template.fingerprint
    };
    schema.record(matched, mark);
    if !matched {
        return Ok(false);
    }
    let script = changes_undone(template, &mut conn, false, !server.superuser).await?;
    if script.is_empty() {
        return Ok(true);
    }
    let quiet = if server.superuser {
        "select set_config('session_replication_role', 'replica', true);\n"
    } else {
        ""
    };
    sqlx::raw_sql(AssertSqlSafe(format!("{quiet}{script}")))
        .execute(&mut *conn)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Postgres, "reset a pooled database", e))?;
    Ok(true)
}

/// Asks what the test changed of the template's rows (only its sequences, if
/// `sequences_only`) and returns the script that undoes it; empty if nothing changed.
/// `checked`: the script will run with foreign-key checks (not as a superuser): see
/// [`Rows::script`].
///
/// [`Rows::script`]: super::super::rows::Rows::script
async fn changes_undone(
    template: &Template,
    conn: &mut sqlx::PgConnection,
    sequences_only: bool,
    checked: bool,
) -> Result<String, ServerCallError> {
    let rows = &template.rows;
    let Some(probe) = rows.probe(sequences_only) else {
        return Ok(String::new());
    };
    let answer: Vec<bool> = sqlx::query_scalar(AssertSqlSafe(probe))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| {
            ServerCallError::statement(Backend::Postgres, "find what the test changed", e)
        })?;
    let changed = rows.changed(answer, sequences_only);
    Ok(rows.script(&changed, checked))
}

/// Drops what a test added to the template's schema (tables, columns, indexes,
/// constraints, schemas: DDL tests mostly add), in one transaction, so the database can
/// be reset instead of dropped and cloned again (a clone costs 100-200 ms on a disk,
/// a drop as much again). `false` when there is nothing it can undo this way: the test
/// changed or removed something of the template's, or a statement failed. The
/// fingerprint is checked again by the reset that follows, so nothing short of the
/// template's schema is ever handed on.
async fn undo_additions(template: &Template, pool: &PgPool) -> Result<bool, ServerCallError> {
    let fail = |e| ServerCallError::statement(Backend::Postgres, "undo a test's schema changes", e);
    let mut conn = pool.acquire().await.map_err(fail)?;
    let Some(script) = catalog::undo_additions(&mut conn, &template.objects)
        .await
        .map_err(fail)?
    else {
        return Ok(false);
    };
    let step = crate::trace::step("undo schema additions");
    let undone = sqlx::raw_sql(AssertSqlSafe(format!("begin;\n{script}commit;")))
        .execute(&mut *conn)
        .await;
    step.end();
    if undone.is_err() {
        // The failed transaction is rolled back by the pool's next user, or here.
        let _ = sqlx::raw_sql("rollback").execute(&mut *conn).await;
        return Ok(false);
    }
    Ok(true)
}

/// Sets the sequences of the database behind `pool` that moved back to the template's
/// values, so that a database whose test rolled back is as the template left it. One
/// round trip, two if a sequence moved.
pub(crate) async fn rewind_sequences(
    template: &Template,
    pool: &PgPool,
) -> Result<(), ServerCallError> {
    let mut conn = pool.acquire().await.map_err(|e| {
        ServerCallError::statement(Backend::Postgres, "reach a pooled database to rewind it", e)
    })?;
    let rewind = changes_undone(template, &mut conn, true, false).await?;
    if rewind.is_empty() {
        return Ok(());
    }
    sqlx::raw_sql(AssertSqlSafe(rewind))
        .execute(&mut *conn)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Postgres, "rewind the sequences", e))?;
    Ok(())
}

/// Ends every session on the pool's database but this process's own pools' (named
/// `testbed-pool-<token>`) and the `spared` ones, and waits until they are gone. Before
/// a reset, whoever resets: the broker, after a client (which closes its connections
/// before it lets go, but one killed mid-statement leaves its statement running); and
/// a process resetting its own test's database, after a test that opened a session of
/// its own from the database's URL and kept it (its transaction, committed later,
/// would land after the reset).
async fn end_other_sessions(
    pool: &PgPool,
    name: &str,
    spared: &[i32],
) -> Result<(), ServerCallError> {
    let action = || format!("end the sessions on `{name}`");
    let fail = |e| ServerCallError::statement(Backend::Postgres, action(), e);
    let ours = format!("{POOL_APPLICATION_PREFIX}{}", owner::token());
    let mut conn = pool.acquire().await.map_err(fail)?;
    let mut pacer = Pace::every(Duration::from_millis(1), Duration::from_secs(5)).start();
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity
             where datname = current_database() and pid <> pg_backend_pid()
               and application_name <> $1 and pid <> all($2)",
        )
        .bind(&ours)
        .bind(spared)
        .fetch_one(&mut *conn)
        .await
        .map_err(fail)?;
        if left == 0 {
            return Ok(());
        }
        if !pacer.pause().await {
            break;
        }
    }
    Err(ServerCallError::failed(
        Backend::Postgres,
        action(),
        "a session did not end within 5 s",
    ))
}
