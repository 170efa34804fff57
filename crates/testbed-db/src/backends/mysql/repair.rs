//! Undoing a test's schema changes on a pooled MySQL database, object by object: what
//! the test added (a table, a view, a sequence, a trigger, a routine, an event) is
//! dropped, and each of the template's tables that it changed or dropped is made again
//! from the template's own definition (`SHOW CREATE TABLE`). A test that ran DDL then
//! hands its database on after a few statements, where rebuilding the whole schema
//! (every migration and the seed rows) took 300-500 ms on a disk-backed server. The
//! caller reads the fingerprint again afterwards, and a database that still does not
//! match the template's is rebuilt as before: nothing short of the template's schema is
//! ever handed on.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, MySqlConnection, Row};

use super::fingerprint::{self, PARTS, SCHEMA_ONLY};
use super::server::fail;
use super::template::TemplateInfo;
use super::work::{WORK_WAIT_SECONDS, lock_work, unlock_work};
use crate::ServerCallError;

/// The table type `information_schema.tables` gives a plain table.
const BASE_TABLE: &str = "BASE TABLE";

/// An object of a database: its namespace ([`fingerprint::Part::class`]) and its name.
type Object = (String, String);

/// One object as the fingerprint sees it: a hash of the rows of each of its parts, by
/// [`fingerprint::Part::tag`], read as the fingerprint reads them; and, for a table, a
/// view or a sequence, its kind (`kind`), and for a trigger, its table (`on`).
type Shape = BTreeMap<String, String>;

/// The shapes of the objects of `template` and of `name`: one round trip.
async fn shapes(
    conn: &mut MySqlConnection,
    template: &str,
    name: &str,
) -> Result<[BTreeMap<Object, Shape>; 2], ServerCallError> {
    debug_assert!(template.starts_with(crate::NAME_PREFIX));
    debug_assert!(name.starts_with(crate::NAME_PREFIX));
    let schemas = format!("'{template}', '{name}'");
    let mut selects = vec![
        format!(
            "select 'table', 'kind', cast(table_schema as char), cast(table_name as char),
                    cast(table_type as char)
               from information_schema.tables where table_schema in ({schemas})"
        ),
        format!(
            "select 'trigger', 'on', cast(event_object_schema as char),
                    cast(trigger_name as char), cast(event_object_table as char)
               from information_schema.triggers where event_object_schema in ({schemas})"
        ),
    ];
    for part in PARTS.iter().filter(|part| part.class != SCHEMA_ONLY) {
        selects.push(format!(
            "select '{class}', '{tag}', cast({schema} as char), cast({object} as char),
                    sha2(group_concat({each} order by {order} separator ','), 256)
               from information_schema.{from} where {schema} in ({schemas})
              group by {schema}, {object}",
            class = part.class,
            tag = part.tag,
            schema = part.schema,
            object = part.object,
            each = part.each,
            order = part.order,
            from = part.from,
        ));
    }
    let sql = format!("{} {}", fingerprint::SETUP, selects.join(" union all "));
    let failed = || fail(format!("compare `{name}`'s schema with the template's"));
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(failed())?;
    let mut shapes: [BTreeMap<Object, Shape>; 2] = Default::default();
    for row in rows {
        let read = || -> Result<[String; 5], sqlx::Error> {
            Ok([
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            ])
        };
        let [class, tag, schema, object, value] = read().map_err(failed())?;
        shapes[usize::from(schema == name)]
            .entry((class, object))
            .or_default()
            .insert(tag, value);
    }
    Ok(shapes)
}

/// The statement that drops `object`, which a test added to database `name`; `None`
/// for a kind this cannot drop (a routine of Oracle mode's packages).
fn drop_statement(name: &str, (class, object): &Object, shape: &Shape) -> Option<String> {
    let (kind, object) = match class.as_str() {
        "table" => match shape.get("kind").map(String::as_str) {
            Some("VIEW") => ("view", object.as_str()),
            Some("SEQUENCE") => ("sequence", object.as_str()),
            _ => ("table", object.as_str()),
        },
        "routine" => match object.split_once(':')? {
            ("PROCEDURE", routine) => ("procedure", routine),
            ("FUNCTION", routine) => ("function", routine),
            _ => return None,
        },
        "trigger" => ("trigger", object.as_str()),
        "event" => ("event", object.as_str()),
        _ => return None,
    };
    Some(format!(
        "drop {kind} if exists `{name}`.{};",
        quoted(object)
    ))
}

/// `identifier` quoted for MySQL.
fn quoted(identifier: &str) -> String {
    format!("`{}`", identifier.replace('`', "``"))
}

/// Brings pooled database `name`'s schema back to `template`'s where its test changed
/// it; whether it ran the statements that do, all of which succeeded. `false` when it
/// found nothing it can undo this way: a view, a sequence, a trigger, a routine or an
/// event of the template's changed, a table of the template's that has a trigger
/// changed (making it again would lose the trigger), or no object differs (the whole
/// fingerprint then differs in a way this cannot see). The caller holds `name` and has
/// ended every other session on it.
pub(super) async fn undo_schema_changes(
    conn: &mut MySqlConnection,
    template: &TemplateInfo,
    name: &str,
) -> Result<bool, ServerCallError> {
    let [of_template, of_database] = shapes(conn, &template.name, name).await?;
    let mut drops = String::new();
    for (object, shape) in &of_database {
        if of_template.contains_key(object) {
            continue;
        }
        match drop_statement(name, object, shape) {
            Some(statement) => drops.push_str(&statement),
            None => return Ok(false),
        }
    }
    let mut remade = Vec::new();
    for ((class, object), shape) in &of_template {
        if of_database.get(&(class.clone(), object.clone())) == Some(shape) {
            continue;
        }
        if class != "table" || shape.get("kind").map(String::as_str) != Some(BASE_TABLE) {
            return Ok(false);
        }
        remade.push(object.as_str());
    }
    let loses_a_trigger = of_template.iter().any(|((class, _), shape)| {
        class == "trigger"
            && shape
                .get("on")
                .is_some_and(|on| remade.contains(&on.as_str()))
    });
    if loses_a_trigger || (drops.is_empty() && remade.is_empty()) {
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
