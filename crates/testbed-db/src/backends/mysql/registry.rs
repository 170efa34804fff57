//! The registry of what testbed built on a MySQL server: the database `testbed_registry`,
//! one row per template or pooled database with its state, and when each template was
//! last used. Nothing outside it is ever dropped.

use sqlx::{AssertSqlSafe, MySqlConnection, MySqlPool};

use crate::{Backend, ServerCallError};

pub(crate) const REGISTRY: &str = "testbed_registry";

/// The state of a registered database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Being built, or left half-built by a crash.
    Building,
    /// Ready for a test.
    Clean,
    /// Used by a test and not reset yet.
    Dirty,
    /// A failing test's database kept for inspection.
    Kept,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Building => "building",
            State::Clean => "clean",
            State::Dirty => "dirty",
            State::Kept => "kept",
        }
    }

    pub(crate) fn parse(text: &str) -> State {
        match text {
            "clean" => State::Clean,
            "dirty" => State::Dirty,
            "kept" => State::Kept,
            _ => State::Building,
        }
    }
}

/// A row of the registry.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) state: String,
    pub(crate) fingerprint: Option<String>,
    pub(crate) seeded: Option<String>,
}

pub(crate) async fn ensure(pool: &MySqlPool) -> Result<(), ServerCallError> {
    let sql = format!(
        "create database if not exists {REGISTRY};
         create table if not exists {REGISTRY}.databases (
             name varchar(64) not null primary key,
             hash char(16) not null,
             kind varchar(16) not null,
             state varchar(16) not null,
             fingerprint char(64) null,
             seeded text null
         ) engine = InnoDB;
         create table if not exists {REGISTRY}.used (
             name varchar(64) not null primary key,
             last_used bigint not null
         ) engine = InnoDB;
         create table if not exists {REGISTRY}.sweeps (
             one int not null primary key,
             at bigint not null
         ) engine = InnoDB;
         insert ignore into {REGISTRY}.sweeps values (1, 0)"
    );
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| ServerCallError::statement(Backend::MySql, "create the registry", e))
}

type Tuple = (String, String, String, Option<String>, Option<String>);

fn row((name, kind, state, fingerprint, seeded): Tuple) -> Row {
    Row {
        name,
        kind,
        state,
        fingerprint,
        seeded,
    }
}

pub(crate) async fn get(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Option<Row>, ServerCallError> {
    sqlx::query_as::<_, Tuple>(AssertSqlSafe(format!(
        "select name, kind, state, fingerprint, seeded from {REGISTRY}.databases where name = ?"
    )))
    .bind(name.to_owned())
    .fetch_optional(conn)
    .await
    .map(|found| found.map(row))
    .map_err(|e| ServerCallError::statement(Backend::MySql, "read the registry", e))
}

pub(crate) async fn all(pool: &MySqlPool) -> Result<Vec<Row>, ServerCallError> {
    sqlx::query_as::<_, Tuple>(AssertSqlSafe(format!(
        "select name, kind, state, fingerprint, seeded from {REGISTRY}.databases order by name"
    )))
    .fetch_all(pool)
    .await
    .map(|rows| rows.into_iter().map(row).collect())
    .map_err(|e| ServerCallError::statement(Backend::MySql, "read the registry", e))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn put(
    conn: &mut MySqlConnection,
    name: &str,
    hash: &str,
    kind: &str,
    state: State,
    fingerprint: Option<&str>,
    seeded: Option<&str>,
) -> Result<(), ServerCallError> {
    sqlx::query(AssertSqlSafe(format!(
        "replace into {REGISTRY}.databases (name, hash, kind, state, fingerprint, seeded)
         values (?, ?, ?, ?, ?, ?)"
    )))
    .bind(name.to_owned())
    .bind(hash.to_owned())
    .bind(kind.to_owned())
    .bind(state.as_str())
    .bind(fingerprint.map(str::to_owned))
    .bind(seeded.map(str::to_owned))
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e))
}

pub(crate) async fn set_state(
    conn: &mut MySqlConnection,
    name: &str,
    state: State,
) -> Result<(), ServerCallError> {
    sqlx::query(AssertSqlSafe(format!(
        "update {REGISTRY}.databases set state = ? where name = ?"
    )))
    .bind(state.as_str())
    .bind(name.to_owned())
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e))
}

pub(crate) async fn remove(conn: &mut MySqlConnection, name: &str) -> Result<(), ServerCallError> {
    sqlx::query(AssertSqlSafe(format!(
        "delete from {REGISTRY}.databases where name = ?"
    )))
    .bind(name.to_owned())
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e))
}

/// Whether this process should sweep now: at most one process in `every_millis` does,
/// across every process sharing the server.
pub(crate) async fn sweep_due(conn: &mut MySqlConnection, now: u64, every_millis: u64) -> bool {
    sqlx::query(AssertSqlSafe(format!(
        "update {REGISTRY}.sweeps set at = ? where one = 1 and at < ?"
    )))
    .bind(now)
    .bind(now.saturating_sub(every_millis))
    .execute(conn)
    .await
    .is_ok_and(|done| done.rows_affected() == 1)
}

/// Records that template or pooled database `name` is used now (Unix milliseconds): a
/// template's last use decides when it is stale, a pooled database's last claim when
/// it is idle.
pub(crate) async fn touch(
    conn: &mut MySqlConnection,
    name: &str,
    now: u64,
) -> Result<(), ServerCallError> {
    sqlx::query(AssertSqlSafe(format!(
        "replace into {REGISTRY}.used (name, last_used) values (?, ?)"
    )))
    .bind(name.to_owned())
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e))
}

/// When each template was last used, and each pooled database last claimed (Unix
/// milliseconds), by name.
pub(crate) async fn last_used(pool: &MySqlPool) -> Result<Vec<(String, u64)>, ServerCallError> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select name, cast(last_used as unsigned) from {REGISTRY}.used"
    )))
    .fetch_all(pool)
    .await
    .map_err(|e| ServerCallError::statement(Backend::MySql, "read the registry", e))
}

/// Forgets when `name` was used (it is dropped).
pub(crate) async fn forget_use(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<(), ServerCallError> {
    sqlx::query(AssertSqlSafe(format!(
        "delete from {REGISTRY}.used where name = ?"
    )))
    .bind(name.to_owned())
    .execute(conn)
    .await
    .map(drop)
    .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e))
}

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default()
}
