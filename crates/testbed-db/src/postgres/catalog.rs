//! What recycling reads from a database's catalog: a fingerprint of its schema (to tell
//! whether a test changed it), its sequences, and the order to empty its tables in.

use sqlx::{AssertSqlSafe, PgConnection};

use crate::{Backend, DbError};

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

/// A hash of the schema: tables, columns, indexes, sequences, views, constraints.
pub(crate) async fn fingerprint(conn: &mut PgConnection) -> Result<String, DbError> {
    sqlx::query_scalar(AssertSqlSafe(fingerprint_sql()))
        .fetch_one(conn)
        .await
        .map_err(|e| DbError::server(Backend::Postgres, "fingerprint the schema", e))
}

/// A script that brings the database back to its present rows and sequences: deletes
/// every row (referencing tables first), inserts the present rows back (referenced
/// tables first) and rewinds every sequence. Run on a pristine template.
pub(crate) async fn reset_script(conn: &mut PgConnection) -> Result<String, DbError> {
    let fail = |e| DbError::server(Backend::Postgres, "snapshot the template's rows", e);
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
