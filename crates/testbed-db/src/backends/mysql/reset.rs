//! Making a used pooled MySQL database clean again: its rows emptied and the seed rows
//! copied back from the template, its moved auto-increment counters set back; or, when
//! the test changed its schema, rebuilt.

use sqlx::{AssertSqlSafe, MySqlConnection};

use super::fingerprint;
use super::registry::{self, State};
use super::server::{MySqlServer, fail};
use super::template::{TemplateInfo, build_database, counters};
use super::work::{WORK_WAIT_SECONDS, lock_work, unlock_work};
use crate::schema::Prepared;
use crate::{DatabaseAcquireError, ServerCallError};

pub(super) async fn reset_or_rebuild(
    server: &MySqlServer,
    conn: &mut MySqlConnection,
    prepared: &Prepared,
    template: &TemplateInfo,
    name: &str,
) -> Result<(), DatabaseAcquireError> {
    if fingerprint::of(conn, name).await? == template.fingerprint {
        Ok(reset(conn, template, name, false).await?)
    } else {
        registry::set_state(conn, name, State::Building).await?;
        build_database(server, conn, prepared, name).await
    }
}

/// Empties every table, copies the seed rows back from the template and sets back the
/// auto-increment counters the test moved, in one round trip (after reading the counters)
/// and one transaction for the rows.
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
    record_clean: bool,
) -> Result<(), ServerCallError> {
    let counters = counters(conn, name).await?;
    let moved = |table: &str| -> Option<u64> {
        let now = counters.iter().find(|(t, _)| t == table)?;
        let fresh = template.counters.iter().find(|(t, _)| t == table)?;
        (now.1 != fresh.1).then_some(fresh.1)
    };
    // Truncating and altering are DDL, each committed on its own; the deletes and
    // inserts go in one transaction: one commit (one log flush on a durable server)
    // where each statement of a changed table made its own.
    let (mut truncates, mut rows, mut alters) = (String::new(), String::new(), String::new());
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
                truncates.push_str(&format!("truncate table `{name}`.`{table}`;"));
                continue;
            }
            Some(next) => alters.push_str(&format!(
                "alter table `{name}`.`{table}` auto_increment = {next};"
            )),
            None => {}
        }
        rows.push_str(&format!("delete from `{name}`.`{table}`;"));
    }
    for table in &template.seeded {
        rows.push_str(&format!(
            "insert into `{name}`.`{table}` select * from `{}`.`{table}`;",
            template.name
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
