//! The schema check that stands in for the fingerprint (see `catalog`) where a process
//! resets a database again and again (the broker, or a warm pool under `cargo test`):
//! what it remembers of a database's schema between resets, and the one round trip that
//! tells whether anything the fingerprint reads was written since.

use sqlx::{AssertSqlSafe, PgConnection};

use super::catalog::{FIRST_USER_OID, THIS_DATABASE};
use crate::{Backend, ServerCallError};

/// Where the catalogs behind the fingerprint stood when a database's fingerprint last
/// matched its template's: how many rows they held, and the first transaction id not
/// yet given out. See [`SchemaMemory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SchemaMark {
    rows: i64,
    next_xid: i64,
}

/// What a process that resets a database again and again (the broker, or a warm pool
/// under `cargo test`) remembers of its schema, to skip the fingerprint (about 1.8 ms of
/// the server's time, half of what a read-only test costs it) after a test that left
/// the schema alone.
///
/// Every column the fingerprint reads is in a row of one of [`CHECKED_CATALOGS`], and
/// a statement that changes such a row writes a new version of it, stamped with its
/// transaction's id (`xmin`); one that
/// removes a row lowers their count. Only `VACUUM`'s statistics and flags are written
/// in place, none of which the fingerprint reads. So if these catalogs hold as many rows
/// as at the mark and none was written by a transaction at or after the mark's, the
/// fingerprint is the one that matched then. A mark is taken only while no other
/// session on the database has a transaction that wrote (or a prepared one): such a
/// transaction, older than the mark, could commit a change later. Relations made by
/// users have object ids from 16384 up (`FirstNormalObjectId`); the system's columns,
/// which are most of `pg_attribute`, are left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchemaMemory {
    /// Not kept: its pool was not opened for several resets (a test's pool under nextest
    /// the direct way, where the process serves one test, or a `Rollback` claim, which
    /// resets only after a test that committed), and the fingerprint is read each time.
    Off,
    /// Nothing known yet: the next reset reads the fingerprint and takes a mark.
    Unknown,
    /// The fingerprint matched the template's when the catalogs stood at this mark.
    Matched(SchemaMark),
}

impl SchemaMemory {
    /// Remembers a reset's schema check: `mark` if the fingerprint `matched` the
    /// template's (the check found nothing changed, or the fingerprint was read), else
    /// nothing. Stays [`Off`](SchemaMemory::Off).
    pub(crate) fn record(&mut self, matched: bool, mark: Option<SchemaMark>) {
        if *self == SchemaMemory::Off {
            return;
        }
        *self = match (matched, mark) {
            (true, Some(mark)) => SchemaMemory::Matched(mark),
            _ => SchemaMemory::Unknown,
        };
    }
}

/// Which rows of a catalog the schema check counts.
#[derive(Clone, Copy)]
enum Counted {
    /// All of them.
    All,
    /// Those whose value in this column is [`FIRST_USER_OID`] or more: the user's,
    /// where counting only those saves reading the system's thousands.
    FromUserOid(&'static str),
    /// Those whose value in this column is this database's object id (a shared catalog).
    OfThisDatabase(&'static str),
}

/// Every catalog the fingerprint reads ([`fingerprint_sql`]), which the schema check
/// counts (see [`SchemaMemory`]).
///
/// [`fingerprint_sql`]: super::catalog::fingerprint_sql
const CHECKED_CATALOGS: [(&str, Counted); 32] = [
    ("pg_namespace", Counted::All),
    ("pg_class", Counted::All),
    ("pg_attribute", Counted::FromUserOid("attrelid")),
    ("pg_attrdef", Counted::All),
    ("pg_constraint", Counted::All),
    ("pg_sequence", Counted::All),
    ("pg_trigger", Counted::All),
    ("pg_proc", Counted::FromUserOid("oid")),
    ("pg_type", Counted::FromUserOid("oid")),
    ("pg_enum", Counted::All),
    ("pg_rewrite", Counted::FromUserOid("oid")),
    ("pg_policy", Counted::All),
    ("pg_extension", Counted::All),
    ("pg_inherits", Counted::FromUserOid("inhrelid")),
    ("pg_operator", Counted::FromUserOid("oid")),
    ("pg_cast", Counted::FromUserOid("oid")),
    ("pg_event_trigger", Counted::All),
    ("pg_default_acl", Counted::All),
    ("pg_largeobject_metadata", Counted::All),
    ("pg_publication", Counted::All),
    ("pg_publication_rel", Counted::All),
    ("pg_foreign_data_wrapper", Counted::All),
    ("pg_foreign_server", Counted::All),
    ("pg_foreign_table", Counted::All),
    ("pg_collation", Counted::FromUserOid("oid")),
    ("pg_statistic_ext", Counted::All),
    ("pg_ts_config", Counted::FromUserOid("oid")),
    ("pg_ts_config_map", Counted::FromUserOid("mapcfg")),
    ("pg_ts_dict", Counted::FromUserOid("oid")),
    ("pg_db_role_setting", Counted::OfThisDatabase("setdatabase")),
    ("pg_database", Counted::OfThisDatabase("oid")),
    ("pg_shdescription", Counted::OfThisDatabase("objoid")),
];

/// The schema check's query: the catalog rows behind the fingerprint, how many of them
/// were written at or after the transaction id `$1` (none asked for when null), the
/// next transaction id, and whether a mark taken now can be trusted (see
/// [`SchemaMemory`]). `age` compares transaction ids across their wraparound; a mark
/// 2^31 transactions old or more, which it cannot compare, counts as written since.
fn check_sql(server_version: i32) -> String {
    let next_xid = if server_version >= 130_000 {
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
    } else {
        "txid_snapshot_xmax(txid_current_snapshot())"
    };
    let catalog = |table: &str, counted: Counted| {
        let filter = match counted {
            Counted::All => String::new(),
            Counted::FromUserOid(column) => format!(" where {column} >= {FIRST_USER_OID}"),
            Counted::OfThisDatabase(column) => format!(" where {column} = ({THIS_DATABASE})"),
        };
        format!(
            "select count(*) as n, count(*) filter (where age(xmin) <= (select age from since)) \
             as written from {table}{filter}"
        )
    };
    format!(
        "with since as (select age(($1::bigint % 4294967296)::text::xid) as age),
         catalogs as ({})
         select sum(n)::bigint,
                coalesce(sum(written), 0)::bigint
                  + coalesce((select (age < 0)::int from since), 0),
                {next_xid},
                not exists (select from pg_stat_activity
                            where datname = current_database() and pid <> pg_backend_pid()
                              and (backend_xid is not null or state is null))
                and not exists (select from pg_prepared_xacts
                                where database = current_database())
           from catalogs",
        CHECKED_CATALOGS
            .iter()
            .map(|(table, counted)| catalog(table, *counted))
            .collect::<Vec<_>>()
            .join(" union all "),
    )
}

/// Whether the schema is still the one whose fingerprint matched at `memory`'s mark,
/// and the mark to keep if the fingerprint matches now: one round trip, none when
/// `memory` is [`SchemaMemory::Off`].
pub(crate) async fn unchanged_since(
    conn: &mut PgConnection,
    server_version: i32,
    memory: SchemaMemory,
) -> Result<(bool, Option<SchemaMark>), ServerCallError> {
    let since = match memory {
        SchemaMemory::Off => return Ok((false, None)),
        SchemaMemory::Unknown => None,
        SchemaMemory::Matched(mark) => Some(mark),
    };
    let step = crate::trace::step("schema check");
    let checked: Result<(i64, i64, i64, bool), _> =
        sqlx::query_as(AssertSqlSafe(check_sql(server_version)))
            .bind(since.map(|mark| mark.next_xid))
            .fetch_one(conn)
            .await;
    step.end();
    let (rows, written, next_xid, quiet) = checked
        .map_err(|e| ServerCallError::statement(Backend::Postgres, "check the schema", e))?;
    let unchanged = since.is_some_and(|mark| mark.rows == rows && written == 0);
    Ok((unchanged, quiet.then_some(SchemaMark { rows, next_xid })))
}

#[cfg(test)]
mod tests {
    use super::super::catalog::fingerprint_sql;
    use super::CHECKED_CATALOGS;

    /// A catalog the fingerprint reads and the schema check does not count would let a
    /// change to it pass the check unseen.
    #[test]
    fn the_schema_check_counts_every_catalog_the_fingerprint_reads() {
        let sql = fingerprint_sql();
        // Each table named after `from` or `join`.
        let words: Vec<&str> = sql.split_whitespace().collect();
        let read: std::collections::BTreeSet<&str> = words
            .windows(2)
            .filter(|pair| matches!(pair[0], "from" | "join"))
            .map(|pair| pair[1])
            .filter(|table| table.starts_with("pg_"))
            .collect();
        let counted: std::collections::BTreeSet<&str> =
            CHECKED_CATALOGS.iter().map(|(table, _)| *table).collect();
        assert_eq!(read, counted);
    }
}
