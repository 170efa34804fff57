//! What recycling reads from a database's catalog: a fingerprint of its schema (to tell
//! whether a test changed it), the objects behind it (to undo what a test added), its
//! sequences, and the order to empty its tables in.

use sqlx::{AssertSqlSafe, PgConnection};

use crate::{Backend, ServerCallError};

/// User schemas: everything but the system's and temporary ones.
const USER_NAMESPACES: &str = "select oid from pg_namespace where nspname not in ('pg_catalog', 'information_schema') and nspname not like 'pg\\_toast%' and nspname not like 'pg\\_temp%'";

pub(crate) fn fingerprint_sql() -> String {
    format!(
        "select md5(coalesce(string_agg(part, ';' order by part), '')) from (
           select format('%s %s %s', relnamespace::regnamespace, relname, relkind) as part
             from pg_class where relnamespace in ({USER_NAMESPACES})
           union all
           select format('%s %s %s %s', attrelid::regclass, attname,
                         format_type(atttypid, atttypmod), attnotnull)
             from pg_attribute a join pg_class c on c.oid = a.attrelid
             where c.relnamespace in ({USER_NAMESPACES}) and attnum > 0 and not attisdropped
           union all
           select format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
             from pg_constraint where connamespace in ({USER_NAMESPACES})
         ) parts"
    )
}

/// Each object the fingerprint covers, as the fingerprint spells it, beside the statement
/// that drops it; and each user schema (`schema <name>`), which the fingerprint leaves
/// out. Domain constraints cannot be dropped from a table: theirs is null. Ordered for
/// dropping: schemas, then tables and views (their columns, indexes and constraints go
/// with them), then columns and constraints added to the template's tables (an index
/// behind a constraint goes only with it), then indexes, sequences and types left.
fn objects_sql() -> String {
    format!(
        "select part, ddl from (
           select 0 as phase, 'schema ' || nspname as part,
                  format('drop schema if exists %I cascade', nspname) as ddl
             from pg_namespace where oid in ({USER_NAMESPACES})
           union all
           select case when relkind in ('i', 'I', 'S', 'c') then 3 else 1 end,
                  format('%s %s %s', relnamespace::regnamespace, relname, relkind),
                  format('drop %s if exists %I.%I cascade',
                         case relkind when 'v' then 'view' when 'm' then 'materialized view'
                                      when 'S' then 'sequence' when 'i' then 'index'
                                      when 'I' then 'index' when 'f' then 'foreign table'
                                      when 'c' then 'type' else 'table' end,
                         relnamespace::regnamespace::text, relname)
             from pg_class where relnamespace in ({USER_NAMESPACES})
           union all
           select 2, format('%s %s %s %s', attrelid::regclass, attname,
                            format_type(atttypid, atttypmod), attnotnull),
                  format('alter table if exists %s drop column if exists %I cascade',
                         attrelid::regclass, attname)
             from pg_attribute a join pg_class c on c.oid = a.attrelid
             where c.relnamespace in ({USER_NAMESPACES}) and attnum > 0 and not attisdropped
               and c.relkind in ('r', 'p')
           union all
           select 2, format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)),
                  case when conrelid <> 0 then
                    format('alter table if exists %s drop constraint if exists %I cascade',
                           conrelid::regclass, conname) end
             from pg_constraint where connamespace in ({USER_NAMESPACES})
         ) objects order by phase"
    )
}

/// What a pristine database holds (see [`undo_additions`]), recorded with its template.
pub(crate) async fn objects(conn: &mut PgConnection) -> Result<Vec<String>, ServerCallError> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(AssertSqlSafe(objects_sql()))
        .fetch_all(conn)
        .await
        .map_err(|e| {
            ServerCallError::statement(Backend::Postgres, "list the schema's objects", e)
        })?;
    let mut parts: Vec<String> = rows.into_iter().map(|(part, _)| part).collect();
    parts.sort();
    Ok(parts)
}

/// The statements that bring a database whose test added to its schema (a table, a
/// column, an index, a constraint, a schema) back to `template_objects`, by dropping
/// the additions; `None` when the test also changed or removed something of the
/// template's, which only a new clone undoes. The caller checks the fingerprint again
/// after running them.
pub(crate) async fn undo_additions(
    conn: &mut PgConnection,
    template_objects: &[String],
) -> Result<Option<String>, sqlx::Error> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(AssertSqlSafe(objects_sql()))
        .fetch_all(conn)
        .await?;
    let template: std::collections::HashSet<&str> =
        template_objects.iter().map(String::as_str).collect();
    let present: std::collections::HashSet<&str> =
        rows.iter().map(|(part, _)| part.as_str()).collect();
    if template.iter().any(|part| !present.contains(part)) {
        return Ok(None);
    }
    let mut script = String::new();
    for (part, ddl) in &rows {
        if template.contains(part.as_str()) {
            continue;
        }
        match ddl {
            Some(ddl) => {
                script.push_str(ddl);
                script.push_str(";\n");
            }
            None => return Ok(None),
        }
    }
    Ok(Some(script))
}

/// A hash of the schema: tables, columns, indexes, sequences, views, constraints.
pub(crate) async fn fingerprint(conn: &mut PgConnection) -> Result<String, ServerCallError> {
    sqlx::query_scalar(AssertSqlSafe(fingerprint_sql()))
        .fetch_one(conn)
        .await
        .map_err(|e| ServerCallError::statement(Backend::Postgres, "fingerprint the schema", e))
}

/// A script that brings the database back to its present rows and sequences: deletes
/// every row (referencing tables first), inserts the present rows back (referenced
/// tables first) and rewinds every sequence. Run on a pristine template.
pub(crate) async fn reset_script(conn: &mut PgConnection) -> Result<String, ServerCallError> {
    let fail = |e| ServerCallError::statement(Backend::Postgres, "snapshot the template's rows", e);
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(AssertSqlSafe(format!(
        "select c.oid::regclass::text,
                coalesce(array_agg(distinct f.confrelid::regclass::text)
                         filter (where f.confrelid is not null and f.confrelid <> c.oid), '{{}}')
         from pg_class c
         left join pg_constraint f on f.conrelid = c.oid and f.contype = 'f'
         where c.relkind in ('r', 'p') and not c.relispartition
           and c.relnamespace in ({USER_NAMESPACES}) and c.relname <> '_sqlx_migrations'
         group by c.oid order by 1"
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let tables = children_first(rows);
    let mut script = String::new();
    for table in &tables {
        script.push_str(&format!("delete from {table};\n"));
    }
    for table in tables.iter().rev() {
        // Generated columns cannot be inserted; identity ones are, with OVERRIDING.
        let (columns, json): (Option<String>, Option<String>) =
            sqlx::query_as(AssertSqlSafe(format!(
                "select (select string_agg(quote_ident(attname), ', ' order by attnum)
                         from pg_attribute where attrelid = '{table}'::regclass and attnum > 0
                           and not attisdropped and attgenerated = ''),
                        (select json_agg(t)::text from {table} t)"
            )))
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
        let (Some(columns), Some(json)) = (columns, json) else {
            continue; // no rows
        };
        let tag = dollar_tag(&json);
        script.push_str(&format!(
            "insert into {table} ({columns}) overriding system value select {columns} \
             from json_populate_recordset(null::{table}, {tag}{json}{tag});\n"
        ));
    }
    let sequences: Vec<(String, i64, bool)> = sqlx::query_as(
        "select format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value),
                last_value is not null
         from pg_sequences order by 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    for (name, value, is_called) in sequences {
        let name = name.replace('\'', "''");
        script.push_str(&format!("select setval('{name}', {value}, {is_called});\n"));
    }
    Ok(script)
}

/// A dollar-quote tag that does not occur in `text`.
fn dollar_tag(text: &str) -> String {
    let mut tag = String::from("$rows$");
    let mut serial = 0;
    while text.contains(&tag) {
        serial += 1;
        tag = format!("$rows{serial}$");
    }
    tag
}

/// Orders tables so that every table comes before those it references.
fn children_first(mut rows: Vec<(String, Vec<String>)>) -> Vec<String> {
    let mut ordered = Vec::with_capacity(rows.len());
    while !rows.is_empty() {
        // A table nobody left references can go now.
        let free = rows
            .iter()
            .position(|(table, _)| !rows.iter().any(|(_, refs)| refs.contains(table)));
        match free {
            Some(index) => ordered.push(rows.remove(index).0),
            None => {
                ordered.extend(rows.drain(..).map(|(table, _)| table));
            }
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::children_first;

    #[test]
    fn referencing_tables_come_first() {
        let rows = vec![
            ("users".to_owned(), vec![]),
            ("orders".to_owned(), vec!["users".to_owned()]),
            (
                "items".to_owned(),
                vec!["orders".to_owned(), "users".to_owned()],
            ),
        ];
        assert_eq!(children_first(rows), ["items", "orders", "users"]);
    }
}
