//! What a recycled database's rows go back to: the template's tables (each with the
//! tables it references, and its seed rows if it has any) and its sequences, read once
//! from the template when it is built; the probe that tells which of them a test
//! changed; and the script that resets only those.
//!
//! A reset that deleted every row of every table, inserted every seed row again and
//! rewound every sequence ran about 50 statements on the bench's 22-table schema (4 ms
//! of the server's CPU, timed alone with `pgbench`), where a test changes one or two
//! tables: each statement is parsed and planned again on every run, and `setval` writes
//! the WAL even when it changes nothing. The probe is one prepared statement (about 0.1
//! ms, its plan kept on a session that lives on), and the script then holds only the
//! statements the test made necessary. In the bench's runs this took the reset from
//! about 50 statements to about 4, with no measurable change in the server's total CPU
//! (see the README's speed section).

use sqlx::{AssertSqlSafe, PgConnection};

use super::catalog::USER_NAMESPACES;
use super::marks::{escape, unescape};
use crate::{Backend, ServerCallError};

/// The template's tables (children first: each before the tables it references) and
/// sequences.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rows {
    tables: Vec<Table>,
    sequences: Vec<Sequence>,
    /// [`probe_sql`] over the tables and sequences, then over the sequences alone: made
    /// once per template, not on every reset.
    probes: [Option<String>; 2],
}

#[derive(Debug, Clone, PartialEq)]
struct Table {
    /// Schema-qualified always (a reset's session may have another `search_path` than
    /// the template's build: one its migrations set for the database, say), and quoted
    /// where needed.
    name: String,
    /// The positions in [`Rows::tables`] of the tables it references, itself left out.
    references: Vec<usize>,
    seed: Option<Seed>,
}

/// A table's rows in the template.
#[derive(Debug, Clone, PartialEq)]
struct Seed {
    /// [`checksum_sql`] of the rows.
    checksum: String,
    /// Inserts them again.
    insert: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Sequence {
    /// Schema-qualified and quoted.
    name: String,
    last_value: i64,
    is_called: bool,
}

/// The rows of `table`, hashed: the same in the template and in a clone that holds the
/// same rows, whatever their order on disk.
fn checksum_sql(table: &str) -> String {
    format!(
        "select md5(coalesce(string_agg(x::text, ';' order by x::text collate \"C\"), '')) \
         from {table} x"
    )
}

/// One statement that tells, for each table, whether it differs from the template's
/// (rows in a table that had none, or seed rows changed), and for each sequence whether
/// it moved: a `boolean[]`, tables first. `None` when there is nothing to ask about.
fn probe_sql(tables: &[Table], sequences: &[Sequence]) -> Option<String> {
    let tables = tables.iter().map(|table| match &table.seed {
        None => format!("exists (select from {})", table.name),
        Some(seed) => format!(
            "({}) is distinct from '{}'",
            checksum_sql(&table.name),
            seed.checksum
        ),
    });
    let sequences = sequences.iter().map(|sequence| {
        format!(
            "(select last_value <> {} or is_called <> {} from {})",
            sequence.last_value, sequence.is_called, sequence.name
        )
    });
    let checks: Vec<String> = tables.chain(sequences).collect();
    (!checks.is_empty()).then(|| format!("select array[{}]::boolean[]", checks.join(", ")))
}

/// What changed in a database since it was the template's, from [`Rows::probe`].
pub(crate) struct Changed {
    tables: Vec<bool>,
    sequences: Vec<bool>,
}

impl Rows {
    fn new(tables: Vec<Table>, sequences: Vec<Sequence>) -> Rows {
        let probes = [probe_sql(&tables, &sequences), probe_sql(&[], &sequences)];
        Rows {
            tables,
            sequences,
            probes,
        }
    }

    /// The statement that asks what a test changed (see [`probe_sql`]): of everything,
    /// or of the sequences only.
    pub(crate) fn probe(&self, sequences_only: bool) -> Option<&str> {
        self.probes[usize::from(sequences_only)].as_deref()
    }

    /// Reads [`probe`](Rows::probe)'s answer. An answer of another length than asked
    /// for (which the probe does not give) counts as everything changed.
    pub(crate) fn changed(&self, answer: Vec<bool>, sequences_only: bool) -> Changed {
        let tables = if sequences_only { 0 } else { self.tables.len() };
        let mut answer = answer.into_iter();
        if answer.len() != tables + self.sequences.len() {
            return Changed {
                tables: vec![true; self.tables.len()],
                sequences: vec![true; self.sequences.len()],
            };
        }
        Changed {
            tables: match sequences_only {
                true => vec![false; self.tables.len()],
                false => answer.by_ref().take(tables).collect(),
            },
            sequences: answer.collect(),
        }
    }

    /// The statements that bring what `changed` names back to the template's: deletes
    /// (referencing tables first), the seed rows inserted again (referenced tables
    /// first), and `setval`s. Empty when nothing changed.
    ///
    /// `with_references`: a changed table's referencing tables are reset with it, as
    /// the deletes run with foreign-key checks and cascades (not as a superuser, whose
    /// reset turns triggers off): deleting a seed row that a seed row of another table
    /// references would fail, or cascade into rows no insert would bring back.
    pub(crate) fn script(&self, changed: &Changed, with_references: bool) -> String {
        let mut dirty = changed.tables.clone();
        let mut grew = with_references;
        while grew {
            grew = false;
            for (index, table) in self.tables.iter().enumerate() {
                if !dirty[index] && table.references.iter().any(|&parent| dirty[parent]) {
                    dirty[index] = true;
                    grew = true;
                }
            }
        }
        let mut script = String::new();
        for (table, _) in self.tables.iter().zip(&dirty).filter(|(_, d)| **d) {
            script.push_str(&format!("delete from {};\n", table.name));
        }
        for (table, _) in self.tables.iter().zip(&dirty).rev().filter(|(_, d)| **d) {
            if let Some(seed) = &table.seed {
                script.push_str(&seed.insert);
                script.push('\n');
            }
        }
        for (sequence, _) in self
            .sequences
            .iter()
            .zip(&changed.sequences)
            .filter(|(_, m)| **m)
        {
            script.push_str(&format!(
                "select setval('{}', {}, {});\n",
                sequence.name.replace('\'', "''"),
                sequence.last_value,
                sequence.is_called
            ));
        }
        script
    }

    /// Lines for the template's comment: `table <name>`, `references <positions>`,
    /// `seed <checksum> <insert>` (when seeded), one per table; `sequence <value>
    /// <is_called> <name>` per sequence. Newlines and backslashes are escaped.
    pub(crate) fn to_lines(&self) -> String {
        let mut lines = String::new();
        for table in &self.tables {
            lines.push_str(&format!("table {}\n", escape(&table.name)));
            let references: Vec<String> = table.references.iter().map(usize::to_string).collect();
            lines.push_str(&format!("references {}\n", references.join(",")));
            if let Some(seed) = &table.seed {
                lines.push_str(&format!(
                    "seed {} {}\n",
                    seed.checksum,
                    escape(&seed.insert)
                ));
            }
        }
        for sequence in &self.sequences {
            lines.push_str(&format!(
                "sequence {} {} {}\n",
                sequence.last_value,
                sequence.is_called,
                escape(&sequence.name)
            ));
        }
        lines
    }

    /// Reads [`to_lines`](Rows::to_lines) back; `None` for anything else.
    pub(crate) fn from_lines(text: &str) -> Option<Rows> {
        let (mut tables, mut sequences) = (Vec::<Table>::new(), Vec::new());
        for line in text.lines() {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "table" => tables.push(Table {
                    name: unescape(rest),
                    references: Vec::new(),
                    seed: None,
                }),
                "references" => {
                    let table = tables.last_mut()?;
                    for position in rest.split(',').filter(|p| !p.is_empty()) {
                        table.references.push(position.parse().ok()?);
                    }
                }
                "seed" => {
                    let (checksum, insert) = rest.split_once(' ')?;
                    tables.last_mut()?.seed = Some(Seed {
                        checksum: checksum.to_owned(),
                        insert: unescape(insert),
                    });
                }
                "sequence" => {
                    let mut parts = rest.splitn(3, ' ');
                    sequences.push(Sequence {
                        last_value: parts.next()?.parse().ok()?,
                        is_called: parts.next()?.parse().ok()?,
                        name: unescape(parts.next()?),
                    });
                }
                _ => return None,
            }
        }
        let count = tables.len();
        let in_range = tables
            .iter()
            .flat_map(|t| &t.references)
            .all(|&p| p < count);
        in_range.then(|| Rows::new(tables, sequences))
    }
}

/// Reads the present tables, rows and sequences: run on a pristine template.
pub(crate) async fn snapshot(conn: &mut PgConnection) -> Result<Rows, ServerCallError> {
    let fail = |e| ServerCallError::statement(Backend::Postgres, "snapshot the template's rows", e);
    let listed: Vec<(String, Vec<String>)> = sqlx::query_as(AssertSqlSafe(format!(
        "select format('%s.%I', c.relnamespace::regnamespace, c.relname),
                coalesce(array_agg(distinct format('%s.%I', p.relnamespace::regnamespace,
                                                   p.relname))
                         filter (where p.oid is not null and p.oid <> c.oid), '{{}}')
         from pg_class c
         left join pg_constraint f on f.conrelid = c.oid and f.contype = 'f'
         left join pg_class p on p.oid = f.confrelid
         where c.relkind in ('r', 'p') and not c.relispartition
           and c.relnamespace in ({USER_NAMESPACES}) and c.relname <> '_sqlx_migrations'
         group by c.oid order by 1"
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let order = children_first(listed.clone());
    let mut tables = Vec::with_capacity(order.len());
    for name in &order {
        let referenced = &listed
            .iter()
            .find(|(table, _)| table == name)
            .expect("listed")
            .1;
        let references = referenced
            .iter()
            .filter_map(|parent| order.iter().position(|table| table == parent))
            .collect();
        tables.push(Table {
            seed: seed_of(conn, name).await.map_err(fail)?,
            name: name.clone(),
            references,
        });
    }
    let sequences: Vec<(String, i64, bool)> = sqlx::query_as(
        "select format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value),
                last_value is not null
         from pg_sequences order by 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let sequences = sequences
        .into_iter()
        .map(|(name, last_value, is_called)| Sequence {
            name,
            last_value,
            is_called,
        })
        .collect();
    Ok(Rows::new(tables, sequences))
}

/// `table`'s rows, if it has any: their checksum and the statement that inserts them.
async fn seed_of(conn: &mut PgConnection, table: &str) -> Result<Option<Seed>, sqlx::Error> {
    // Generated columns cannot be inserted; identity ones are, with OVERRIDING.
    let (columns, json, checksum): (Option<String>, Option<String>, String) =
        sqlx::query_as(AssertSqlSafe(format!(
            "select (select string_agg(quote_ident(attname), ', ' order by attnum)
                     from pg_attribute where attrelid = '{table}'::regclass and attnum > 0
                       and not attisdropped and attgenerated = ''),
                    (select json_agg(t)::text from {table} t),
                    ({})",
            checksum_sql(table)
        )))
        .fetch_one(&mut *conn)
        .await?;
    let (Some(columns), Some(json)) = (columns, json) else {
        return Ok(None); // no rows
    };
    let tag = dollar_tag(&json);
    Ok(Some(Seed {
        checksum,
        insert: format!(
            "insert into {table} ({columns}) overriding system value select {columns} \
             from json_populate_recordset(null::{table}, {tag}{json}{tag});"
        ),
    }))
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
    use super::{Changed, Rows, Seed, Sequence, Table, children_first};

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

    /// `memberships` (seeded) references `users` (seeded); `notes` has no rows.
    fn rows() -> Rows {
        let seed = |checksum: &str, insert: &str| {
            Some(Seed {
                checksum: checksum.into(),
                insert: insert.into(),
            })
        };
        Rows::new(
            vec![
                Table {
                    name: "notes".into(),
                    references: vec![],
                    seed: None,
                },
                Table {
                    name: "memberships".into(),
                    references: vec![2],
                    seed: seed("m5", "insert into memberships;"),
                },
                Table {
                    name: "\"Users\"".into(),
                    references: vec![],
                    seed: seed("u5", "insert into \"Users\" values ($rows$a\\\nb$rows$);"),
                },
            ],
            vec![Sequence {
                name: "public.\"it's\"".into(),
                last_value: 2,
                is_called: true,
            }],
        )
    }

    #[test]
    fn only_what_changed_is_reset() {
        let changed = Changed {
            tables: vec![true, false, false],
            sequences: vec![false],
        };
        assert_eq!(rows().script(&changed, false), "delete from notes;\n");
        let nothing = Changed {
            tables: vec![false; 3],
            sequences: vec![false],
        };
        assert_eq!(rows().script(&nothing, true), "");
    }

    #[test]
    fn a_changed_seeded_table_takes_its_referencing_tables_along_when_checks_run() {
        let changed = Changed {
            tables: vec![false, false, true],
            sequences: vec![true],
        };
        let users = "insert into \"Users\" values ($rows$a\\\nb$rows$);\n";
        assert_eq!(
            rows().script(&changed, false),
            format!("delete from \"Users\";\n{users}select setval('public.\"it''s\"', 2, true);\n")
        );
        assert_eq!(
            rows().script(&changed, true),
            format!(
                "delete from memberships;\ndelete from \"Users\";\n{users}\
                 insert into memberships;\nselect setval('public.\"it''s\"', 2, true);\n"
            )
        );
    }

    #[test]
    fn the_probe_asks_about_every_table_then_every_sequence() {
        let rows = rows();
        let probe = rows.probe(false).unwrap();
        assert!(probe.starts_with("select array[exists (select from notes), ("));
        assert!(probe.contains("from \"Users\" x) is distinct from 'u5'"));
        assert!(probe.ends_with(
            "(select last_value <> 2 or is_called <> true from public.\"it's\")]::boolean[]"
        ));
        let sequences = rows.probe(true).unwrap();
        assert!(sequences.starts_with("select array[(select last_value"));
        let changed = rows.changed(vec![true], true);
        assert_eq!(
            (changed.tables, changed.sequences),
            (vec![false; 3], vec![true])
        );
        let short = rows.changed(vec![false], false);
        assert_eq!((short.tables, short.sequences), (vec![true; 3], vec![true]));
        assert_eq!(Rows::default().probe(false), None);
    }

    #[test]
    fn lines_give_back_the_rows_they_were_written_from() {
        let rows = rows();
        assert_eq!(Rows::from_lines(&rows.to_lines()), Some(rows));
        assert_eq!(Rows::from_lines("table a\nreferences 3\n"), None);
        assert_eq!(Rows::from_lines("delete from a;\n"), None);
    }
}
