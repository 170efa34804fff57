//! Making a used pooled MySQL database clean again: the tables whose rows its test
//! changed emptied and their seed rows copied back from the template, its moved
//! auto-increment counters set back; or, when the test changed its schema, that undone
//! table by table (see `repair`) or the database rebuilt.

use sqlx::{AssertSqlSafe, MySqlConnection, Row};

use super::fingerprint;
use super::grants;
use super::registry::{self, State, TableRecord};
use super::repair::undo_schema_changes;
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
    /// How many grants on it, its tables and its columns there are (see [`grants`]).
    pub(super) grants: u64,
    /// The next auto-increment value of each table that has one, by name.
    pub(super) counters: Vec<(String, u64)>,
    /// The template's tables whose rows differ from the template's here (their
    /// `CHECKSUM TABLE` differs), by name; `None` when not compared (another session
    /// was on the database), which a reset takes as every table.
    pub(super) changed: Option<Vec<String>>,
}

/// Reads [`Used`] of pooled database `name`, a copy of `template`: one round trip, two
/// results. The first has each row tagged with what it says, where the fingerprint, the
/// sessions and the counters took a round trip each; the second, when no other
/// session is on the database, is the checksum of each of the template's tables, in
/// the template and here.
pub(super) async fn inspect(
    conn: &mut MySqlConnection,
    template: &TemplateInfo,
    name: &str,
) -> Result<Used, ServerCallError> {
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    let checksums = checksums_statements(template, name);
    let sql = format!(
        "{fingerprint_setup} {COUNTERS_SETUP}
         select 'fingerprint', {fingerprint}, cast(0 as unsigned)
         union all
         select 'sessions', '', cast(count(*) as unsigned) from information_schema.processlist
           where db = '{name}' and id <> connection_id()
         union all
         {grants}
         union all
         {counters}{checksums}",
        fingerprint_setup = fingerprint::SETUP,
        fingerprint = fingerprint::expression(
            name,
            fingerprint::Extent::of_template(&template.fingerprint),
        ),
        grants = grants::count_select(name),
        counters = counters_select(name, "'counter', "),
    );
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail(format!("inspect `{name}`")))?;
    let mut used = Used {
        fingerprint: String::new(),
        other_sessions: 0,
        grants: 0,
        counters: Vec::new(),
        changed: None,
    };
    // Each table's checksum in the template, then here (`None`: no such table).
    let mut in_template = std::collections::HashMap::new();
    for row in rows {
        let failed = fail(format!("inspect `{name}`"));
        if row.columns().len() == 2 {
            let (schema_table, sum) = read_checksum(&row).map_err(failed)?;
            let Some((schema, table)) = schema_table.split_once('.') else {
                continue;
            };
            if schema == template.name {
                in_template.insert(table.to_owned(), sum);
            } else {
                let changed = used.changed.get_or_insert_default();
                if in_template.get(table) != Some(&sum) {
                    changed.push(table.to_owned());
                }
            }
            continue;
        }
        let read = || -> Result<(String, String, u64), sqlx::Error> {
            Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
        };
        match read().map_err(failed)? {
            (tag, fingerprint, _) if tag == "fingerprint" => used.fingerprint = fingerprint,
            (tag, _, count) if tag == "sessions" => used.other_sessions = count,
            (tag, _, count) if tag == "grants" => used.grants = count,
            (_, table, next) => used.counters.push((table, next)),
        }
    }
    Ok(used)
}

/// The statements, each after a `;`, that return the `CHECKSUM TABLE` of each of
/// `template`'s tables, in the template and in pooled database `name`, template first;
/// nothing when another session is on `name`: one could hold a table locked (`LOCK
/// TABLES ... WRITE`), which `CHECKSUM TABLE` would wait on for as long as it lives.
/// The server decides, so this takes no round trip of its own.
fn checksums_statements(template: &TemplateInfo, name: &str) -> String {
    if template.tables.is_empty() {
        return String::new();
    }
    let tables: Vec<String> = template
        .tables
        .iter()
        .flat_map(|table| {
            let table = table.name.replace('`', "``");
            [&template.name, name].map(|schema| format!("`{schema}`.`{table}`"))
        })
        .collect();
    let checksum = format!("checksum table {}", tables.join(", "))
        .replace('\\', "\\\\")
        .replace('\'', "''");
    format!(
        "; set @testbed_checksum = if((select count(*) from information_schema.processlist
            where db = '{name}' and id <> connection_id()) = 0, '{checksum}', 'do 0');
         prepare testbed_checksum from @testbed_checksum;
         execute testbed_checksum;
         deallocate prepare testbed_checksum"
    )
}

/// A row of `CHECKSUM TABLE`: `<schema>.<table>` and its checksum (`None` when there is
/// no such table).
fn read_checksum(row: &sqlx::mysql::MySqlRow) -> Result<(String, Option<u64>), sqlx::Error> {
    let table = row.try_get(0)?;
    let sum = match row.try_get::<Option<u64>, _>(1) {
        Ok(sum) => sum,
        Err(_) => row.try_get::<Option<i64>, _>(1)?.map(|sum| sum as u64),
    };
    Ok((table, sum))
}

/// `used` (what [`inspect`] read of pooled database `name`) with what its test changed
/// besides rows undone: the grants it made on the database revoked (see [`grants`]),
/// and, when it changed the schema and [`undo_schema_changes`] could undo that, what
/// `inspect` reads after. Its fingerprint is the template's unless the schema change
/// could not be undone that way. The caller holds `name` and has ended every other
/// session on it.
pub(super) async fn with_changes_undone(
    conn: &mut MySqlConnection,
    template: &TemplateInfo,
    name: &str,
    mut used: Used,
) -> Result<Used, ServerCallError> {
    if used.grants > 0 {
        grants::revoke_all(conn, name).await?;
        used.grants = 0;
    }
    if used.fingerprint == template.fingerprint
        || !undo_schema_changes(conn, template, name).await?
    {
        return Ok(used);
    }
    inspect(conn, template, name).await
}

/// Makes pooled database `name`, left dirty, clean: reset, or rebuilt when its schema
/// is not the template's and cannot be brought back table by table.
pub(super) async fn reset_or_rebuild(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
    prepared: &Prepared,
    template: &TemplateInfo,
    name: &str,
) -> Result<(), DatabaseAcquireError> {
    let used = inspect(conn, template, name).await?;
    let used = with_changes_undone(conn, template, name, used).await?;
    if used.fingerprint == template.fingerprint {
        Ok(reset(conn, template, name, &used, false).await?)
    } else {
        registry::set_state(conn, name, State::Building).await?;
        build_database(server, conn, prepared, name).await
    }
}

/// Empties each table the test changed (its rows or its counter, as [`inspect`] read
/// into `used`), copies its seed rows back from the template and sets back the
/// auto-increment counters the test moved, in one round trip and one transaction for
/// the rows; a table the test left alone is not touched, and a test that changed
/// nothing costs no statement but the record of the database clean.
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
    used: &Used,
    record_clean: bool,
) -> Result<(), ServerCallError> {
    let moved = |table: &TableRecord| -> Option<u64> {
        let fresh = table.counter?;
        let (_, now) = used.counters.iter().find(|(t, _)| *t == table.name)?;
        (*now != fresh).then_some(fresh)
    };
    // Truncating and altering are DDL, each committed on its own; the deletes and
    // inserts go in one transaction: one commit (one log flush on a durable server)
    // where each statement of a changed table made its own.
    let (mut truncates, mut rows, mut alters) = (String::new(), String::new(), String::new());
    let mut seeds = String::new();
    for table in &template.tables {
        let table_name = &table.name;
        let moved = moved(table);
        let changed = used
            .changed
            .as_ref()
            .is_none_or(|changed| changed.contains(table_name));
        if moved.is_none() && !changed {
            continue;
        }
        if table.seeded {
            seeds.push_str(&format!(
                "insert into `{name}`.`{table_name}` select * from `{template}`.`{table_name}`;",
                template = template.name
            ));
        }
        // What a truncated table's counter becomes with its seed rows back.
        let truncates_to = |next: u64| {
            if table.seeded {
                table.refillable
            } else {
                next == 1
            }
        };
        match moved {
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
    rows.push_str(&seeds);
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
    let sql = if truncates.is_empty() && rows.is_empty() && alters.is_empty() {
        // Nothing to reset: the record alone, if asked for.
        clean_in_transaction
    } else {
        format!(
            "set foreign_key_checks = 0;{truncates}start transaction;{rows}\
             {clean_in_transaction}commit;{alters}{clean_after}set foreign_key_checks = 1"
        )
    };
    if sql.is_empty() {
        return Ok(());
    }
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
