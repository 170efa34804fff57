//! Making a used pooled MySQL database clean again: its rows emptied and the seed rows
//! copied back from the template, its moved auto-increment counters set back; or, when
//! the test changed its schema, rebuilt.

use sqlx::{AssertSqlSafe, MySqlConnection, Row};

use super::fingerprint;
use super::registry::{self, State, TableRecord};
use super::server::{MySqlServer, fail};
use super::template::{COUNTERS_SETUP, TemplateInfo, build_database, counters_select};
use super::work::{WORK_WAIT_SECONDS, lock_work, unlock_work};
use crate::schema::Prepared;
use crate::{DatabaseAcquireError, ServerCallError};

/// What resetting a used pooled database needs to know of it, read in one round trip.
#[derive(Debug)]
pub(super) struct Used {
    /// Its schema's fingerprint (see [`fingerprint`]).
    pub(super) fingerprint: String,
    /// How many sessions but the asking one are on it.
    pub(super) other_sessions: u64,
    /// The next auto-increment value of each table that has one, by name.
    pub(super) counters: Vec<(String, u64)>,
}

/// Reads [`Used`] of pooled database `name`: one round trip, one result (each row
/// tagged with what it says), where the fingerprint, the sessions and the counters took
/// one each.
pub(super) async fn inspect(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Used, ServerCallError> {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    let sql = format!(
        "{fingerprint_setup} {COUNTERS_SETUP}
         select 'fingerprint', {fingerprint}, cast(0 as unsigned)
         union all
         select 'sessions', '', cast(count(*) as unsigned) from information_schema.processlist
           where db = '{name}' and id <> connection_id()
         union all
         {counters}",
        fingerprint_setup = fingerprint::SETUP,
        fingerprint = fingerprint::expression(name),
        counters = counters_select(name, "'counter', "),
    );
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail(format!("inspect `{name}`")))?;
    let mut used = Used {
        fingerprint: String::new(),
        other_sessions: 0,
        counters: Vec::new(),
    };
    for row in rows {
        let read = || -> Result<(String, String, u64), sqlx::Error> {
            Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
        };
        match read().map_err(fail(format!("inspect `{name}`")))? {
            (tag, fingerprint, _) if tag == "fingerprint" => used.fingerprint = fingerprint,
            (tag, _, count) if tag == "sessions" => used.other_sessions = count,
            (_, table, next) => used.counters.push((table, next)),
        }
    }
    Ok(used)
}

pub(super) async fn reset_or_rebuild(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
    prepared: &Prepared,
    template: &TemplateInfo,
    name: &str,
) -> Result<(), DatabaseAcquireError> {
    let used = inspect(conn, name).await?;
    if used.fingerprint == template.fingerprint {
        Ok(reset(conn, template, name, &used.counters, false).await?)
    } else {
        registry::set_state(conn, name, State::Building).await?;
        build_database(server, conn, prepared, name).await
    }
}

/// Empties every table, copies the seed rows back from the template and sets back the
/// auto-increment counters the test moved (from `counters`, read by [`inspect`]), in
/// one round trip and one transaction for the rows.
///
/// Only moved counters are set, since that takes DDL, the cheapest first: a table whose
/// template counter is one past its largest id (or 1, without seed rows) is truncated
/// (about 15 ms on a disk-backed MariaDB, where `DELETE` and `ALTER TABLE ...
/// AUTO_INCREMENT` take about 30), any other gets the `ALTER` after its rows are
/// restored. Deleting rows never lowers a counter and the seed rows keep their ids, so
/// the counters read before the reset are those a `DELETE` leaves; InnoDB cannot set a
/// counter below the table's largest id, which after the reset is at most the template's.
///
/// With `record_clean`, the registry records the database clean in the same round trip:
/// inside the rows' transaction when no `ALTER` follows it (one commit for both), else
/// after the last `ALTER`.
pub(super) async fn reset(
    conn: &mut MySqlConnection,
    template: &TemplateInfo,
    name: &str,
    counters: &[(String, u64)],
    record_clean: bool,
) -> Result<(), ServerCallError> {
    let moved = |table: &TableRecord| -> Option<u64> {
        let fresh = table.counter?;
        let (_, now) = counters.iter().find(|(t, _)| *t == table.name)?;
        (*now != fresh).then_some(fresh)
    };
    // Truncating and altering are DDL, each committed on its own; the deletes and
    // inserts go in one transaction: one commit (one log flush on a durable server)
    // where each statement of a changed table made its own.
    let (mut truncates, mut rows, mut alters) = (String::new(), String::new(), String::new());
    for table in &template.tables {
        let table_name = &table.name;
        // What a truncated table's counter becomes with its seed rows back.
        let truncates_to = |next: u64| {
            if table.seeded {
                table.refillable
            } else {
                next == 1
            }
        };
        match moved(table) {
            Some(next) if truncates_to(next) => {
                truncates.push_str(&format!("truncate table `{name}`.`{table_name}`;"));
                continue;
            }
            Some(next) => alters.push_str(&format!(
                "alter table `{name}`.`{table_name}` auto_increment = {next};"
            )),
            None => {}
        }
        rows.push_str(&format!("delete from `{name}`.`{table_name}`;"));
    }
    for table in template.tables.iter().filter(|table| table.seeded) {
        rows.push_str(&format!(
            "insert into `{name}`.`{table}` select * from `{template}`.`{table}`;",
            table = table.name,
            template = template.name
        ));
    }
    let clean = if record_clean {
        registry::record_clean_statement(name)
    } else {
        String::new()
    };
    let (clean_in_transaction, clean_after) = if alters.is_empty() {
        (clean, String::new())
    } else {
        (String::new(), clean)
    };
    let sql = format!(
        "set foreign_key_checks = 0;{truncates}start transaction;{rows}{clean_in_transaction}\
         commit;{alters}{clean_after}set foreign_key_checks = 1"
    );
    lock_work(conn, name, WORK_WAIT_SECONDS).await?;
    let reset = sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .map(drop)
        .map_err(fail(format!("reset `{name}`")));
    if reset.is_err() {
        // A statement failed inside the transaction: nothing after it ran, and the
        // connection's next statements must not join it.
        let _ = sqlx::raw_sql("rollback").execute(&mut *conn).await;
    }
    unlock_work(conn, name).await;
    reset
}
