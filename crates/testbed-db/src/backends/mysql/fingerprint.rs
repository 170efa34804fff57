//! The schema fingerprint of a MySQL database: a hash of its tables' columns (name,
//! type, nullability, default, collation, `extra`: auto-increment, generated), indexes and constraints (name and kind), its views' queries, and
//! its triggers, routines and events, each with its definition; it tells whether a test
//! changed the schema of its
//! pooled database. The server computes it, in one round trip that returns one short
//! row: reading the rows behind it into the test process cost about 5 ms there per test.

use sqlx::{AssertSqlSafe, MySqlConnection, Row};

use super::server::fail;
use crate::ServerCallError;

/// What every fingerprint taken this way starts with: `v3-`, a short hash of what it
/// reads ([`PARTS`]), and `:`. One taken another way (by another testbed, recorded
/// with its template) is taken again, so a change to [`PARTS`] needs no version bumped
/// by hand: a template's fingerprint recorded by a build that read other parts would
/// otherwise never match, and every pooled database be rebuilt after every test.
fn format() -> &'static str {
    static FORMAT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FORMAT.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in &PARTS {
            for text in [part.from, part.schema, part.object, part.each, part.order] {
                hasher.update(text.as_bytes());
                hasher.update([0]);
            }
        }
        format!("v3-{}:", crate::owner::hex(&hasher.finalize()[..3]))
    })
}

/// Whether `fingerprint` was taken the way [`of`] takes it.
pub(super) fn is_current(fingerprint: &str) -> bool {
    fingerprint.starts_with(format())
}

/// The statement that lets `GROUP_CONCAT` hold a whole schema's rows: it cuts its text
/// at `group_concat_max_len`, 1024 bytes on MySQL by default. Run it in the same round
/// trip as [`expression`].
pub(super) const SETUP: &str = "set session group_concat_max_len = 4294967295;";

/// One kind of row the fingerprint reads, from one `information_schema` table; shared
/// with the object-by-object comparison in `repair`, so the two see the same schema.
pub(super) struct Part {
    /// What the comparison calls this part of an object.
    pub(super) tag: &'static str,
    /// The namespace of the objects the rows belong to: `table` (tables, views and
    /// sequences share their names), `trigger`, `routine` or `event`.
    pub(super) class: &'static str,
    /// The `information_schema` table.
    pub(super) from: &'static str,
    /// Its column that names the database.
    pub(super) schema: &'static str,
    /// The name of the object a row belongs to (a column's table, say).
    pub(super) object: &'static str,
    /// The row, as a JSON array, so no two schemas give the same text.
    pub(super) each: &'static str,
    /// The `order by` of the rows.
    pub(super) order: &'static str,
}

/// Every part of the fingerprint, in its order. Each is looked up by the column that
/// lets MariaDB read only the one database's files (its `EXPLAIN` says `Scanned 1
/// database`): a trigger or a constraint by its table's database (`event_object_schema`,
/// `table_schema`, always its own), where a lookup by its own schema column opens every
/// table of the server (on the bench's schema, 0.9 ms against 0.25 ms for triggers, 5.7
/// ms against 0.2 ms for constraints). A view's query is read without the
/// database's name, which the server writes in front of each table it names; a
/// routine's name is `<type>:<name>`, a procedure and a function being named apart.
pub(super) const PARTS: [Part; 8] = [
    Part {
        tag: "columns",
        class: "table",
        from: "columns",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, column_name, column_type, is_nullable, \
               column_default, extra, collation_name)",
        order: "table_name, ordinal_position",
    },
    Part {
        tag: "indexes",
        class: "table",
        from: "statistics",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, index_name, column_name)",
        order: "table_name, index_name, seq_in_index",
    },
    Part {
        tag: "constraints",
        class: "table",
        from: "table_constraints",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, constraint_name, constraint_type)",
        order: "table_name, constraint_name",
    },
    Part {
        tag: "query",
        class: "table",
        from: "views",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, \
               replace(view_definition, concat('`', table_schema, '`.'), ''))",
        order: "table_name",
    },
    Part {
        tag: "trigger",
        class: "trigger",
        from: "triggers",
        schema: "event_object_schema",
        object: "trigger_name",
        each: "json_array(trigger_name, event_object_table, action_timing, \
               event_manipulation, action_order, action_statement)",
        order: "trigger_name",
    },
    Part {
        tag: "routine",
        class: "routine",
        from: "routines",
        schema: "routine_schema",
        object: "concat(routine_type, ':', routine_name)",
        each: "json_array(routine_type, routine_name, routine_definition, dtd_identifier, \
               is_deterministic, sql_data_access, security_type)",
        order: "routine_type, routine_name",
    },
    Part {
        tag: "parameters",
        class: "routine",
        from: "parameters",
        schema: "specific_schema",
        object: "concat(routine_type, ':', specific_name)",
        each: "json_array(routine_type, specific_name, ordinal_position, parameter_mode, \
               parameter_name, dtd_identifier)",
        order: "routine_type, specific_name, ordinal_position",
    },
    Part {
        tag: "event",
        class: "event",
        from: "events",
        schema: "event_schema",
        object: "event_name",
        each: "json_array(event_name, event_definition, event_type, interval_value, \
               interval_field, status)",
        order: "event_name",
    },
];

/// The SQL expression of database `database`'s fingerprint (one of testbed's databases).
///
/// The hash is cut to fit the registry's 64-character column with [`format()`] in front
/// (216 bits).
pub(super) fn expression(database: &str) -> String {
    debug_assert!(database.starts_with(crate::NAME_PREFIX));
    let parts: Vec<String> = PARTS
        .iter()
        .map(|part| {
            format!(
                "coalesce((select group_concat({each} order by {order} separator ',')
                   from information_schema.{from} where {schema} = '{database}'), '')",
                each = part.each,
                order = part.order,
                from = part.from,
                schema = part.schema,
            )
        })
        .collect();
    format!(
        "concat('{format}', left(sha2(concat_ws(';', {}), 256), {hex}))",
        parts.join(", "),
        format = format(),
        hex = 64 - format().len(),
    )
}

/// The fingerprint of database `database` (one of testbed's), in one round trip.
pub(super) async fn of(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<String, ServerCallError> {
    let sql = format!("{SETUP} select {}", expression(database));
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .map_err(fail("read the schema"))?;
    rows.first()
        .map(|row| row.try_get::<String, _>(0))
        .transpose()
        .map_err(fail("read the schema"))?
        .ok_or_else(|| {
            ServerCallError::failed(
                crate::Backend::MySql,
                "read the schema",
                "the fingerprint query returned no row",
            )
        })
}
