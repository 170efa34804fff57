//! The schema fingerprint of a MySQL database: a hash of its tables' columns (name,
//! type, nullability) and indexes, which tells whether a test changed the schema of its
//! pooled database. The server computes it, in one round trip that returns one short
//! row: reading the rows behind it into the test process cost about 5 ms there per test.

use sqlx::{AssertSqlSafe, MySqlConnection, Row};

use super::server::fail;
use crate::ServerCallError;

/// What every fingerprint taken this way starts with: one taken another way (by an
/// older testbed, recorded with its template) is taken again.
const FORMAT: &str = "v2:";

/// Whether `fingerprint` was taken the way [`of`] takes it.
pub(super) fn is_current(fingerprint: &str) -> bool {
    fingerprint.starts_with(FORMAT)
}

/// The statement that lets `GROUP_CONCAT` hold a whole schema's rows: it cuts its text
/// at `group_concat_max_len`, 1024 bytes on MySQL by default. Run it in the same round
/// trip as [`expression`].
pub(super) const SETUP: &str = "set session group_concat_max_len = 4294967295;";

/// What the fingerprint reads of each row of one `information_schema` table, and in
/// which order: shared with the table-by-table comparison in `repair`, so the two see
/// the same schema.
pub(super) struct Read {
    /// The row as a JSON array, so no two schemas give the same text.
    pub(super) each: &'static str,
    /// The `order by` of the rows.
    pub(super) order: &'static str,
}

/// What the fingerprint reads of each column (`information_schema.columns`).
pub(super) const COLUMNS: Read = Read {
    each: "json_array(table_name, column_name, column_type, is_nullable)",
    order: "table_name, ordinal_position",
};

/// What the fingerprint reads of each index column (`information_schema.statistics`).
pub(super) const INDEX_COLUMNS: Read = Read {
    each: "json_array(table_name, index_name, column_name)",
    order: "table_name, index_name, seq_in_index",
};

/// The SQL expression of database `database`'s fingerprint (one of testbed's databases).
///
/// Each row goes in as a JSON array, so no two schemas give the same text to hash. The
/// hash is cut to fit the registry's 64-character column with [`FORMAT`] in front (244
/// bits).
pub(super) fn expression(database: &str) -> String {
    debug_assert!(database.starts_with(crate::NAME_PREFIX));
    format!(
        "concat('{FORMAT}', left(sha2(concat(
           coalesce((select group_concat({column} order by {column_order} separator ',')
             from information_schema.columns where table_schema = '{database}'), ''),
           ';',
           coalesce((select group_concat({index} order by {index_order} separator ',')
             from information_schema.statistics where table_schema = '{database}'), '')
         ), 256), {hex}))",
        column = COLUMNS.each,
        column_order = COLUMNS.order,
        index = INDEX_COLUMNS.each,
        index_order = INDEX_COLUMNS.order,
        hex = 64 - FORMAT.len(),
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
