//! The registry of what testbed built on a MySQL server: the database `testbed_registry`,
//! one row per template or pooled database with its state, when each was last used, and
//! what resetting a template's copies needs to know of its tables (read once per test
//! process, in one round trip). Nothing outside it is ever dropped.

use std::time::Duration;

use sqlx::mysql::{MySqlArguments, MySqlQueryResult};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Connection, MySql, MySqlConnection, MySqlPool};

use super::server::error_number;
use crate::retry::Pace;
use crate::{Backend, ServerCallError};

pub(crate) const REGISTRY: &str = "testbed_registry";

/// How long a registry write is tried again while InnoDB picks it as a deadlock's
/// victim: test processes starting together write rows side by side (`REPLACE INTO`
/// takes gap locks), and the server resolves a cycle by rolling one write back.
const DEADLOCK_PACE: Pace = Pace {
    first: Duration::from_millis(5),
    most: Duration::from_millis(100),
    within: Duration::from_secs(5),
};

/// Whether `error` is InnoDB's deadlock (1213), whose rolled-back statement the
/// server asks to be run again ("try restarting transaction").
fn is_deadlock(error: &sqlx::Error) -> bool {
    const DEADLOCK: u16 = 1213;
    error_number(error) == Some(DEADLOCK)
}

/// Whether a registry write that failed is to run again: while it is a deadlock's
/// victim (InnoDB rolled the victim's statement or transaction back whole, so running
/// it again is what it would have done), paced within [`DEADLOCK_PACE`].
struct Deadlocks(crate::retry::Pacer);

impl Deadlocks {
    fn new() -> Self {
        Self(DEADLOCK_PACE.start())
    }

    /// Whether to run again the write that gave `done`, after a pause.
    async fn again<T>(&mut self, done: &Result<T, sqlx::Error>) -> bool {
        matches!(done, Err(error) if is_deadlock(error)) && self.0.pause().await
    }
}

/// Runs the statement `query` makes, on its own (autocommit), again while it is a
/// deadlock's victim.
async fn write<'q>(
    conn: &mut MySqlConnection,
    query: impl Fn() -> Query<'q, MySql, MySqlArguments>,
) -> Result<MySqlQueryResult, sqlx::Error> {
    let mut deadlocks = Deadlocks::new();
    loop {
        let done = query().execute(&mut *conn).await;
        if !deadlocks.again(&done).await {
            return done;
        }
    }
}

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
}

/// What the registry records of one table of a template, when the template is built: a
/// template is never written afterwards, so this stays true for its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableRecord {
    pub(crate) name: String,
    /// Whether the template holds rows in it (seed rows, copied back on a reset).
    pub(crate) seeded: bool,
    /// Its next auto-increment value, if it has an auto-increment column.
    pub(crate) counter: Option<u64>,
    /// Whether truncating it and copying its seed rows back gives back `counter`.
    pub(crate) refillable: bool,
}

/// A template's registry row, when it was last used, and its tables (empty when the
/// template was built by a testbed that did not record them).
#[derive(Debug, Clone)]
pub(crate) struct TemplateRecord {
    pub(crate) state: State,
    pub(crate) fingerprint: Option<String>,
    pub(crate) seeded: Option<String>,
    /// When it was last recorded as used (Unix milliseconds).
    pub(crate) last_used: Option<u64>,
    pub(crate) tables: Vec<TableRecord>,
}

/// Creates the registry's database and tables where missing; every statement is
/// `if not exists`, so processes racing on a fresh server all succeed.
pub(crate) async fn ensure(conn: &mut MySqlConnection) -> Result<(), ServerCallError> {
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
         create table if not exists {REGISTRY}.template_tables (
             template varchar(64) not null,
             table_name varchar(64) not null,
             seeded bool not null,
             counter bigint unsigned null,
             refillable bool not null,
             primary key (template, table_name)
         ) engine = InnoDB;
         insert ignore into {REGISTRY}.sweeps values (1, 0)"
    );
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| ServerCallError::statement(Backend::MySql, "create the registry", e))
}

type Tuple = (String, String, String);

fn row((name, kind, state): Tuple) -> Row {
    Row { name, kind, state }
}

type RecordTuple = (
    String,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<String>,
    Option<bool>,
    Option<u64>,
    Option<bool>,
);

/// Template `name`'s registry row, last use and tables, in one round trip; `None` if
/// it is not registered. The registry is created first if it is missing (or lacks a
/// table an older testbed did not create), so this is a process's first registry call.
pub(crate) async fn template_record(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Option<TemplateRecord>, ServerCallError> {
    let rows = match read_template(conn, name).await {
        Err(error) if is_missing(&error) => {
            ensure(conn).await?;
            read_template(conn, name).await
        }
        read => read,
    }
    .map_err(|e| ServerCallError::statement(Backend::MySql, "read the registry", e))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut record = TemplateRecord {
        state: State::parse(&first.0),
        fingerprint: first.1.clone(),
        seeded: first.2.clone(),
        last_used: first.3,
        tables: Vec::new(),
    };
    for (.., table, seeded, counter, refillable) in rows {
        if let Some(name) = table {
            record.tables.push(TableRecord {
                name,
                seeded: seeded.unwrap_or_default(),
                counter,
                refillable: refillable.unwrap_or_default(),
            });
        }
    }
    Ok(Some(record))
}

async fn read_template(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Vec<RecordTuple>, sqlx::Error> {
    sqlx::query_as::<_, RecordTuple>(AssertSqlSafe(format!(
        "select d.state, d.fingerprint, d.seeded, cast(u.last_used as unsigned),
                t.table_name, t.seeded, t.counter, t.refillable
         from {REGISTRY}.databases d
         left join {REGISTRY}.used u on u.name = d.name
         left join {REGISTRY}.template_tables t on t.template = d.name
         where d.name = ?
         order by t.table_name"
    )))
    .bind(name.to_owned())
    .fetch_all(conn)
    .await
}

/// Whether `error` says the registry's database or one of its tables does not exist.
fn is_missing(error: &sqlx::Error) -> bool {
    const NO_SUCH_TABLE: u16 = 1146;
    const NO_SUCH_DATABASE: u16 = 1049;
    matches!(error_number(error), Some(NO_SUCH_TABLE | NO_SUCH_DATABASE))
}

/// Records template `name`'s tables, replacing what was recorded of a template of the
/// same name before, in one transaction.
pub(crate) async fn put_template_tables(
    conn: &mut MySqlConnection,
    name: &str,
    tables: &[TableRecord],
) -> Result<(), ServerCallError> {
    let mut deadlocks = Deadlocks::new();
    loop {
        let done = replace_template_tables(conn, name, tables).await;
        if !deadlocks.again(&done).await {
            return done
                .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e));
        }
    }
}

/// [`put_template_tables`]'s transaction, tried once.
async fn replace_template_tables(
    conn: &mut MySqlConnection,
    name: &str,
    tables: &[TableRecord],
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query(AssertSqlSafe(format!(
        "delete from {REGISTRY}.template_tables where template = ?"
    )))
    .bind(name.to_owned())
    .execute(&mut *tx)
    .await?;
    for table in tables {
        sqlx::query(AssertSqlSafe(format!(
            "insert into {REGISTRY}.template_tables
             (template, table_name, seeded, counter, refillable) values (?, ?, ?, ?, ?)"
        )))
        .bind(name.to_owned())
        .bind(table.name.clone())
        .bind(table.seeded)
        .bind(table.counter)
        .bind(table.refillable)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

pub(crate) async fn all(pool: &MySqlPool) -> Result<Vec<Row>, ServerCallError> {
    sqlx::query_as::<_, Tuple>(AssertSqlSafe(format!(
        "select name, kind, state from {REGISTRY}.databases order by name"
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
    let sql = format!(
        "replace into {REGISTRY}.databases (name, hash, kind, state, fingerprint, seeded)
         values (?, ?, ?, ?, ?, ?)"
    );
    write(conn, || {
        sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(name.to_owned())
            .bind(hash.to_owned())
            .bind(kind.to_owned())
            .bind(state.as_str())
            .bind(fingerprint.map(str::to_owned))
            .bind(seeded.map(str::to_owned))
    })
    .await
    .map(drop)
    .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e))
}

/// Records `fingerprint` as template `name`'s.
pub(crate) async fn set_fingerprint(
    conn: &mut MySqlConnection,
    name: &str,
    fingerprint: &str,
) -> Result<(), ServerCallError> {
    set_column(conn, name, "fingerprint", fingerprint).await
}

/// Claims pooled database `name` (one of testbed's, whose claim lock the caller holds)
/// in the registry, in one round trip and one commit: returns its state as it was,
/// records its claim time `now` (see [`touch`]), and, when it was clean, records it
/// dirty, so that a crash mid-test leaves it marked for a reset. Any other state is
/// left for the caller to deal with.
pub(crate) async fn claim_if_clean(
    conn: &mut MySqlConnection,
    name: &str,
    now: u64,
) -> Result<Option<State>, ServerCallError> {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    let (clean, dirty) = (State::Clean.as_str(), State::Dirty.as_str());
    let sql = format!(
        "start transaction;
         select cast(state as char) from {REGISTRY}.databases where name = '{name}';
         update {REGISTRY}.databases set state = '{dirty}'
          where name = '{name}' and state = '{clean}';
         replace into {REGISTRY}.used (name, last_used) values ('{name}', {now});
         commit"
    );
    let fail = |e| ServerCallError::statement(Backend::MySql, "claim in the registry", e);
    let mut deadlocks = Deadlocks::new();
    let rows = loop {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql.clone()))
            .fetch_all(&mut *conn)
            .await;
        if rows.is_err() {
            // The connection's next statements must not join the failed transaction.
            let _ = sqlx::raw_sql("rollback").execute(&mut *conn).await;
        }
        if !deadlocks.again(&rows).await {
            break rows.map_err(fail)?;
        }
    };
    rows.first()
        .map(|row| sqlx::Row::try_get::<String, _>(row, 0).map(|state| State::parse(&state)))
        .transpose()
        .map_err(fail)
}

/// The statement that records pooled database `name` (one of testbed's) clean, for a
/// reset to run in its own round trip.
pub(crate) fn record_clean_statement(name: &str) -> String {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    format!(
        "update {REGISTRY}.databases set state = '{}' where name = '{name}';",
        State::Clean.as_str()
    )
}

pub(crate) async fn set_state(
    conn: &mut MySqlConnection,
    name: &str,
    state: State,
) -> Result<(), ServerCallError> {
    set_column(conn, name, "state", state.as_str()).await
}

/// Sets `column` (one of the `databases` table's, written here) of `name`'s row.
async fn set_column(
    conn: &mut MySqlConnection,
    name: &str,
    column: &'static str,
    value: &str,
) -> Result<(), ServerCallError> {
    let sql = format!("update {REGISTRY}.databases set {column} = ? where name = ?");
    write(conn, || {
        sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(value.to_owned())
            .bind(name.to_owned())
    })
    .await
    .map(drop)
    .map_err(|e| ServerCallError::statement(Backend::MySql, "write the registry", e))
}

/// Removes `name`'s row, and what was recorded of its tables if it is a template.
pub(crate) async fn remove(conn: &mut MySqlConnection, name: &str) -> Result<(), ServerCallError> {
    let fail = |e| ServerCallError::statement(Backend::MySql, "write the registry", e);
    let databases = format!("delete from {REGISTRY}.databases where name = ?");
    write(conn, || {
        sqlx::query(AssertSqlSafe(databases.clone())).bind(name.to_owned())
    })
    .await
    .map_err(fail)?;
    let tables = format!("delete from {REGISTRY}.template_tables where template = ?");
    let records = write(conn, || {
        sqlx::query(AssertSqlSafe(tables.clone())).bind(name.to_owned())
    })
    .await;
    match records {
        // A registry an older testbed made records no tables.
        Err(error) if is_missing(&error) => Ok(()),
        removed => removed.map(drop).map_err(fail),
    }
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
    let sql = format!("replace into {REGISTRY}.used (name, last_used) values (?, ?)");
    write(conn, || {
        sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(name.to_owned())
            .bind(now)
    })
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
    let sql = format!("delete from {REGISTRY}.used where name = ?");
    write(conn, || {
        sqlx::query(AssertSqlSafe(sql.clone())).bind(name.to_owned())
    })
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
