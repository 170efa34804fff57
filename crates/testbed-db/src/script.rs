//! A migration or seed file ([`Script`]) and what its failure on a server says: the file,
//! the failing statement where the server's error allows telling it, and the server's
//! words without testbed's internal template names.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::{ScriptRunError, sql_split};

/// A migration or seed file: where it came from (for errors) and its SQL.
pub(crate) struct Script {
    pub(crate) path: PathBuf,
    pub(crate) sql: Cow<'static, str>,
}

/// Names the file and, where the server's error allows, the statement that failed.
pub(crate) fn script_error(
    path: &Path,
    is_seed: bool,
    sql: &str,
    error: &sqlx::Error,
) -> ScriptRunError {
    let (message, statement) = match error.as_database_error() {
        Some(db) => (
            without_template_names(db.message()),
            failing_statement(sql, db),
        ),
        None => (error.to_string(), None),
    };
    ScriptRunError::new(
        path,
        is_seed,
        statement.map(str::to_owned),
        crate::Reason::new(message),
    )
}

fn failing_statement<'a>(sql: &'a str, error: &dyn sqlx::error::DatabaseError) -> Option<&'a str> {
    #[cfg(feature = "postgres")]
    if let Some(pg) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        && let Some(sqlx::postgres::PgErrorPosition::Original(position)) = pg.position()
    {
        let offset = sql
            .char_indices()
            .nth(position.saturating_sub(1))
            .map_or(sql.len(), |(offset, _)| offset);
        return sql_split::statement_at(sql, offset);
    }
    // SQLite and MySQL give no position. A syntax error quotes the text after the fault
    // (`near "x"`, `near 'x...' at line n`); other errors name the object (`no such
    // table: x`, `Table 'db.x' doesn't exist`, `UNIQUE constraint failed: t.c`). The
    // first statement holding the quoted text, else the named object, is the one.
    let message = without_template_names(error.message());
    let near = message.split_once("near ").map(|(_, rest)| {
        let quote = rest.chars().next().unwrap_or('"');
        let rest = rest.trim_start_matches(quote);
        let end = rest.find(quote).unwrap_or(rest.len());
        rest[..end].lines().next().unwrap_or_default().trim()
    });
    if let Some(statement) =
        near.and_then(|fragment| sql_split::statement_containing(sql, fragment))
    {
        return Some(statement);
    }
    named_objects(&message)
        .into_iter()
        .find_map(|name| sql_split::statement_containing(sql, name))
}

/// The object names a server's message quotes (`'x'`, `"x"`, `` `x` ``) or gives after a
/// colon (`no such table: x`), with a `table.` or `database.` prefix also tried bare.
fn named_objects(message: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for quote in ['\'', '"', '`'] {
        // Every other piece between quotes is quoted.
        names.extend(message.split(quote).skip(1).step_by(2));
    }
    if let Some((_, after)) = message.rsplit_once(": ") {
        names.extend(after.split([',', ' ']).map(str::trim));
    }
    let mut all = Vec::new();
    for name in names.into_iter().filter(|name| is_identifier_like(name)) {
        all.push(name);
        if let Some((_, last)) = name.rsplit_once('.') {
            all.push(last);
        }
    }
    all.retain(|name| is_identifier_like(name));
    all
}

fn is_identifier_like(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

/// `message` without the names of testbed's template databases (MySQL qualifies a
/// missing table with its database, `testbed_tpl_....x`, a name the user never chose).
fn without_template_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(crate::owner::TEMPLATE_PREFIX) {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        rest = after[name_end..]
            .strip_prefix('.')
            .unwrap_or(&after[name_end..]);
    }
    out.push_str(rest);
    out
}
