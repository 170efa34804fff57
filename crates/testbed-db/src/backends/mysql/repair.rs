//! Undoing a test's schema changes on a pooled MySQL database, table by table: what the
//! test added (a table, a view, a sequence) is dropped, and each of the template's
//! tables that it changed or dropped is made again from the template's own definition
//! (`SHOW CREATE TABLE`). A test that ran DDL then hands its database on after a few
//! statements, where rebuilding the whole schema (every migration and the seed rows)
//! took 300-500 ms on a disk-backed server. The caller reads the fingerprint again
//! afterwards, and a database that still does not match the template's is rebuilt as
//! before: nothing short of the template's schema is ever handed on.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, MySqlConnection, Row};

use super::fingerprint;
use super::server::fail;
use super::template::TemplateInfo;
use super::work::{WORK_WAIT_SECONDS, lock_work, unlock_work};
use crate::ServerCallError;

/// The table type `information_schema.tables` gives a plain table.
const BASE_TABLE: &str = "BASE TABLE";

/// One table, view or sequence of a database, as the fingerprint sees it: its kind, and
/// hashes of its columns and of its indexes, read as the fingerprint reads them
/// ([`fingerprint::COLUMNS`], [`fingerprint::INDEX_COLUMNS`]).
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    kind: String,
    columns: String,
    indexes: String,
}

/// The shapes of the objects of `template` and of `name`, by name: one round trip.
async fn shapes(
    conn: &mut MySqlConnection,
    template: &str,
    name: &str,
) -> Result<[BTreeMap<String, Shape>; 2], ServerCallError> {
    debug_assert!(template.starts_with(crate::NAME_PREFIX));
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    let schemas = format!("'{template}', '{name}'");
    let sql = format!(
        "{setup}
         select 'kind', cast(table_schema as char), cast(table_name as char),
                cast(table_type as char)
           from information_schema.tables where table_schema in ({schemas})
         union all
         select 'columns', cast(table_schema as char), cast(table_name as char),
                sha2(group_concat({column} order by {column_order} separator ','), 256)
           from information_schema.columns where table_schema in ({schemas})
          group by table_schema, table_name
         union all
         select 'indexes', cast(table_schema as char), cast(table_name as char),
                sha2(group_concat({index} order by {index_order} separator ','), 256)
           from information_schema.statistics where table_schema in ({schemas})
          group by table_schema, table_name",
        setup = fingerprint::SETUP,
        column = fingerprint::COLUMNS.each,
        column_order = fingerprint::COLUMNS.order,
        index = fingerprint::INDEX_COLUMNS.each,
        index_order = fingerprint::INDEX_COLUMNS.order,
    );
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail(format!(
            "compare `{name}`'s tables with the template's"
        )))?;
    let mut shapes: [BTreeMap<String, Shape>; 2] = Default::default();
    for row in rows {
        let read = || -> Result<(String, String, String, String), sqlx::Error> {
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
            ))
        };
        let (part, schema, table, value) = read().map_err(fail(format!(
            "compare `{name}`'s tables with the template's"
        )))?;
        let shape = shapes[usize::from(schema == name)]
            .entry(table)
            .or_default();
        match part.as_str() {
            "kind" => shape.kind = value,
            "columns" => shape.columns = value,
            _ => shape.indexes = value,
        }
    }
    Ok(shapes)
}

/// `identifier` quoted for MySQL.
fn quoted(identifier: &str) -> String {
    format!("`{}`", identifier.replace('`', "``"))
}

/// Brings pooled database `name`'s schema back to `template`'s where its test changed
/// it; whether it ran the statements that do, all of which succeeded. `false` when it
/// found nothing it can undo this way: a view or a sequence of the template's changed,
/// or no object differs (the whole fingerprint then differs in a way this cannot see).
/// The caller holds `name` and has ended every other session on it.
pub(super) async fn undo_schema_changes(
    conn: &mut MySqlConnection,
    template: &TemplateInfo,
    name: &str,
) -> Result<bool, ServerCallError> {
    let [of_template, of_database] = shapes(conn, &template.name, name).await?;
    let mut drops = String::new();
    for (table, shape) in &of_database {
        if of_template.contains_key(table) {
            continue;
        }
        let kind = match shape.kind.as_str() {
            "VIEW" => "view",
            "SEQUENCE" => "sequence",
            _ => "table",
        };
        drops.push_str(&format!(
            "drop {kind} if exists `{name}`.{};",
            quoted(table)
        ));
    }
    let mut remade = Vec::new();
    for (table, shape) in &of_template {
        if of_database.get(table) == Some(shape) {
            continue;
        }
        if shape.kind != BASE_TABLE {
            return Ok(false);
        }
        remade.push(table.as_str());
    }
    if drops.is_empty() && remade.is_empty() {
        return Ok(false);
    }
    // The template's definitions, in one round trip. A table's foreign keys name the
    // tables they reference without a database, which MySQL resolves in the database of
    // the table made: this one.
    let mut creates = String::new();
    if !remade.is_empty() {
        let show: String = remade
            .iter()
            .map(|table| format!("show create table `{}`.{};", template.name, quoted(table)))
            .collect();
        let rows = sqlx::raw_sql(AssertSqlSafe(show))
            .fetch_all(&mut *conn)
            .await
            .map_err(fail(format!("read template `{}`'s tables", template.name)))?;
        if rows.len() != remade.len() {
            return Ok(false);
        }
        for (table, row) in remade.iter().zip(&rows) {
            let definition: String = row
                .try_get(1)
                .map_err(fail(format!("read template `{}`'s tables", template.name)))?;
            let prefix = format!("CREATE TABLE {} ", quoted(table));
            let Some(body) = definition.strip_prefix(&prefix) else {
                return Ok(false);
            };
            drops.push_str(&format!("drop table if exists `{name}`.{};", quoted(table)));
            creates.push_str(&format!("create table `{name}`.{} {body};", quoted(table)));
        }
    }
    let sql = format!("set foreign_key_checks = 0;{drops}{creates}set foreign_key_checks = 1");
    lock_work(conn, name, WORK_WAIT_SECONDS).await?;
    let step = crate::trace::step("mysql undo schema changes");
    let undone = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await;
    step.end();
    if undone.is_err() {
        // Statements after the failed one did not run: the checks may still be off.
        let _ = sqlx::raw_sql("set foreign_key_checks = 1")
            .execute(&mut *conn)
            .await;
    }
    unlock_work(conn, name).await;
    Ok(undone.is_ok())
}
