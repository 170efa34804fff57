//! The schema fingerprint of a MySQL database: a hash of its tables' columns (name,
//! type, nullability, default, collation, `extra`: auto-increment, generated), indexes,
//! constraints (name and kind; a foreign key's referenced table and rules; a check's
//! clause), engines and default collations, its default character set, its views'
//! queries, and its triggers, routines and events, each with its definition; it tells
//! whether a test changed the schema of its pooled database. The server computes it,
//! in one round trip that returns one short row: reading the rows behind it into the
//! test process cost about 5 ms there per test.

use sqlx::{AssertSqlSafe, MySqlConnection, Row};

use super::server::fail;
use crate::ServerCallError;

/// What every fingerprint taken this way starts with: `v4-`, a short hash of what it
/// reads ([`PARTS`]), `-`; then the [`Extent`] it was taken with, in hex, and `:`. One
/// taken another way (by another testbed, recorded with its template) is taken again,
/// so a change to [`PARTS`] needs no version bumped by hand: a template's fingerprint
/// recorded by a build that read other parts would otherwise never match, and every
/// pooled database be rebuilt after every test.
fn prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in &PARTS {
            for text in [part.from, part.schema, part.object, part.each, part.order] {
                hasher.update(text.as_bytes());
                hasher.update([0]);
            }
            if let Read::IfTemplateHas(gate) = part.read {
                hasher.update(gate.as_bytes());
            }
            hasher.update([0]);
        }
        format!("v4-{}-", crate::owner::hex(&hasher.finalize()[..3]))
    })
}

/// The start of a fingerprint taken with `extent`.
fn format(extent: Extent) -> String {
    format!("{}{:x}:", prefix(), extent.0)
}

/// Which of the parts read only for some templates ([`Read::IfTemplateHas`]) a
/// fingerprint reads: bit `i` for `PARTS[i]`. A pooled database's fingerprint is taken
/// with its template's extent, so the two compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Extent(u16);

// A bit for each part; and some parts are read only when the template has rows.
const _: () = assert!(PARTS.len() <= 16 && Extent::ALL.0 != 0);

impl Extent {
    /// Every part.
    const ALL: Extent = {
        let mut bits = 0;
        let mut index = 0;
        while index < PARTS.len() {
            if !matches!(PARTS[index].read, Read::Always) {
                bits |= 1 << index;
            }
            index += 1;
        }
        Extent(bits)
    };

    /// The extent `fingerprint` was taken with, if it was taken the way [`of`] takes it.
    fn of_fingerprint(fingerprint: &str) -> Option<Extent> {
        let (bits, _) = fingerprint.strip_prefix(prefix())?.split_once(':')?;
        let extent = Extent(u16::from_str_radix(bits, 16).ok()?);
        (extent.0 & !Extent::ALL.0 == 0 && format!("{:x}", extent.0) == bits).then_some(extent)
    }

    /// The extent of template fingerprint `fingerprint`, which its pooled databases'
    /// are taken with; every part for one not taken the way [`of`] takes it (it then
    /// never matches, and a database compared with it is rebuilt, as for any change).
    pub(super) fn of_template(fingerprint: &str) -> Extent {
        Extent::of_fingerprint(fingerprint).unwrap_or(Extent::ALL)
    }

    /// Whether it reads `PARTS[index]`.
    fn reads(self, index: usize) -> bool {
        matches!(PARTS[index].read, Read::Always) || self.0 & (1 << index) != 0
    }
}

/// Whether `fingerprint` was taken the way [`of`] takes it.
pub(super) fn is_current(fingerprint: &str) -> bool {
    Extent::of_fingerprint(fingerprint).is_some()
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
    /// sequences share their names), `trigger`, `routine` or `event`; or
    /// [`SCHEMA_ONLY`].
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
    /// For which templates (and their databases) it is read.
    pub(super) read: Read,
}

/// For which templates a [`Part`] is read. Each `information_schema` table read costs
/// 0.2-1 ms on every reset, even with no rows: a schema without checks, views or
/// routines does not pay for reading their definitions.
pub(super) enum Read {
    /// For every template.
    Always,
    /// Only for a template that has rows in the part tagged so (itself, or the part
    /// of the objects it belongs to: a routine's parameters). Sound for a part whose
    /// rows a test can add only with rows an always-read part shows too (a foreign key
    /// or a check is also a row of `table_constraints`, a view has columns, a routine is
    /// a row of `routines`): what it alone sees is then a change to something the
    /// template has.
    IfTemplateHas(&'static str),
}

/// The class of a part whose rows name no object `repair` can undo on its own: the
/// database's default character set, and a check constraint, whose row names the
/// constraint, not its table (MySQL's `check_constraints` has no table column;
/// MariaDB's names are per table). Adding or dropping a check shows in its table's
/// `constraints` part too; a check made again under its name with another clause, or
/// the character set changed, shows only in the whole fingerprint, and the database is
/// rebuilt.
pub(super) const SCHEMA_ONLY: &str = "schema";

/// Every part of the fingerprint, in its order. Each is looked up by the column that
/// lets MariaDB read only the one database's files (its `EXPLAIN` says `Scanned 1
/// database`): a trigger or a constraint by its table's database (`event_object_schema`,
/// `table_schema`, always its own), where a lookup by its own schema column opens every
/// table of the server (on the bench's schema, 0.9 ms against 0.25 ms for triggers, 5.7
/// ms against 0.2 ms for constraints). A view's query is read without the
/// database's name, which the server writes in front of each table it names; a
/// routine's name is `<type>:<name>`, a procedure and a function being named apart.
/// A table's engine and default collation are read (a test that made a table `MyISAM`
/// would hand on a table without transactions or foreign keys), but not its options
/// (row format, partitioning): reading those opens every table (0.9 ms, against 0.25
/// ms), and they change where rows are kept, not what a query returns. So are a
/// foreign key's referenced table, referenced key and rules, and a check's clause,
/// which a constraint dropped and added again under its name can change, and the
/// database's default character set and collation (a new table's).
pub(super) const PARTS: [Part; 12] = [
    Part {
        tag: "columns",
        class: "table",
        from: "columns",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, column_name, column_type, is_nullable, \
               column_default, extra, collation_name)",
        order: "table_name, ordinal_position",
        read: Read::Always,
    },
    Part {
        tag: "indexes",
        class: "table",
        from: "statistics",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, index_name, column_name)",
        order: "table_name, index_name, seq_in_index",
        read: Read::Always,
    },
    Part {
        tag: "constraints",
        class: "table",
        from: "table_constraints",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, constraint_name, constraint_type)",
        order: "table_name, constraint_name",
        read: Read::Always,
    },
    Part {
        tag: "foreign keys",
        class: "table",
        from: "referential_constraints",
        schema: "constraint_schema",
        object: "table_name",
        each: "json_array(table_name, constraint_name, referenced_table_name, \
               unique_constraint_name, match_option, update_rule, delete_rule)",
        order: "table_name, constraint_name",
        read: Read::IfTemplateHas("foreign keys"),
    },
    Part {
        tag: "checks",
        class: SCHEMA_ONLY,
        from: "check_constraints",
        schema: "constraint_schema",
        object: "constraint_name",
        each: "json_array(constraint_name, check_clause)",
        order: "constraint_name, check_clause",
        read: Read::IfTemplateHas("checks"),
    },
    Part {
        tag: "engine and collation",
        class: "table",
        from: "tables",
        schema: "table_schema",
        object: "table_name",
        each: "json_array(table_name, engine, table_collation)",
        order: "table_name",
        read: Read::Always,
    },
    Part {
        tag: "character set",
        class: SCHEMA_ONLY,
        from: "schemata",
        schema: "schema_name",
        object: "schema_name",
        each: "json_array(default_character_set_name, default_collation_name)",
        order: "schema_name",
        read: Read::Always,
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
        read: Read::IfTemplateHas("query"),
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
        read: Read::Always,
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
        read: Read::Always,
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
        read: Read::IfTemplateHas("routine"),
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
        read: Read::Always,
    },
];

/// The SQL expression of database `database`'s fingerprint (one of testbed's), taken
/// with `extent` (its template's: [`Extent::of_template`]).
///
/// The hash is cut to fit the registry's 64-character column with [`format()`] in front
/// (at least 200 bits).
pub(super) fn expression(database: &str, extent: Extent) -> String {
    debug_assert!(database.starts_with(crate::NAME_PREFIX));
    let parts: Vec<String> = PARTS
        .iter()
        .enumerate()
        .filter(|(index, _)| extent.reads(*index))
        .map(|(_, part)| {
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
    let format = format(extent);
    format!(
        "concat('{format}', left(sha2(concat_ws(';', {}), 256), {hex}))",
        parts.join(", "),
        hex = 64 - format.len(),
    )
}

/// The part tagged `tag`.
fn tagged(tag: &str) -> &'static Part {
    PARTS
        .iter()
        .find(|part| part.tag == tag)
        .expect("a gate names a part")
}

/// The fingerprint of template `database` (one of testbed's), with the parts it has rows
/// in: two round trips.
pub(super) async fn of(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<String, ServerCallError> {
    let failed = || fail("read the schema");
    let optional: Vec<(usize, &Part)> = PARTS
        .iter()
        .enumerate()
        .filter_map(|(index, part)| match part.read {
            Read::Always => None,
            Read::IfTemplateHas(tag) => Some((index, tagged(tag))),
        })
        .collect();
    let has_rows: Vec<String> = optional
        .iter()
        .map(|(_, gate)| {
            format!(
                "cast(exists (select 1 from information_schema.{} where {} = '{database}') \
                 as signed)",
                gate.from, gate.schema
            )
        })
        .collect();
    let row = sqlx::raw_sql(AssertSqlSafe(format!("select {}", has_rows.join(", "))))
        .fetch_one(&mut *conn)
        .await
        .map_err(failed())?;
    let mut extent = Extent(0);
    for (column, (index, _)) in optional.iter().enumerate() {
        if row.try_get::<i64, _>(column).map_err(failed())? != 0 {
            extent.0 |= 1 << index;
        }
    }
    let sql = format!("{SETUP} select {}", expression(database, extent));
    let rows = sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .map_err(failed())?;
    rows.first()
        .map(|row| row.try_get::<String, _>(0))
        .transpose()
        .map_err(failed())?
        .ok_or_else(|| {
            ServerCallError::failed(
                crate::Backend::MySql,
                "read the schema",
                "the fingerprint query returned no row",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_says_which_parts_it_read() {
        let some = Extent(Extent::ALL.0 & (Extent::ALL.0 - 1));
        for extent in [Extent(0), some, Extent::ALL] {
            let fingerprint = format!("{}{}", format(extent), "ab".repeat(20));
            assert_eq!(Extent::of_fingerprint(&fingerprint), Some(extent));
            assert!(is_current(&fingerprint));
        }
        // Not this build's: taken again (a template's), or compared as every part.
        for other in [
            "v3-abcdef:00",
            "",
            "v4-000000-0:",
            &format!("{}1:", prefix()),
        ] {
            assert!(!is_current(other), "{other}");
            assert_eq!(Extent::of_template(other), Extent::ALL, "{other}");
        }
        let template = format!("{}{}", format(Extent(0)), "0".repeat(40));
        let narrow = expression("testbed_x", Extent::of_template(&template));
        let wide = expression("testbed_x", Extent::ALL);
        for optional in [
            "check_constraints",
            "referential_constraints",
            "views",
            "parameters",
        ] {
            assert!(!narrow.contains(optional), "{narrow}");
            assert!(wide.contains(optional), "{wide}");
        }
        for always in [
            "columns",
            "table_constraints",
            "routines",
            "triggers",
            "events",
        ] {
            assert!(narrow.contains(always), "{narrow}");
        }
        // Every gate names a part.
        for part in &PARTS {
            if let Read::IfTemplateHas(tag) = part.read {
                assert_eq!(tagged(tag).tag, tag);
            }
        }
    }
}
