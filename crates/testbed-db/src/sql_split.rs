//! Finding statements inside an SQL script, to name the one that failed.
//!
//! Scripts run whole (so triggers and functions with inner `;` work); this split is only
//! used after a failure, to point at the statement the server's error refers to.

/// Byte ranges of the statements of `sql`, split at `;` outside quotes, comments and
/// PostgreSQL dollar quotes, trimmed, empty ones left out.
pub(crate) fn statements(sql: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = sql.as_bytes();
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            quote @ (b'\'' | b'"' | b'`') => at = skip_past(bytes, at + 1, &[quote]),
            b'-' if bytes.get(at + 1) == Some(&b'-') => at = skip_past(bytes, at + 2, b"\n"),
            b'/' if bytes.get(at + 1) == Some(&b'*') => at = skip_past(bytes, at + 2, b"*/"),
            b'$' => match dollar_tag(&sql[at..]) {
                Some(tag) => at = skip_past(bytes, at + tag.len(), tag.as_bytes()),
                None => at += 1,
            },
            b';' => {
                push_trimmed(sql, start..at, &mut ranges);
                at += 1;
                start = at;
            }
            _ => at += 1,
        }
    }
    push_trimmed(sql, start..bytes.len(), &mut ranges);
    ranges
}

/// The statement of `sql` that contains byte `offset`.
#[cfg(feature = "postgres")]
pub(crate) fn statement_at(sql: &str, offset: usize) -> Option<&str> {
    let ranges = statements(sql);
    ranges
        .iter()
        .find(|range| offset < range.end)
        .or(ranges.last())
        .map(|range| &sql[range.clone()])
}

/// The first statement of `sql` that contains `fragment`.
pub(crate) fn statement_containing<'a>(sql: &'a str, fragment: &str) -> Option<&'a str> {
    if fragment.trim().is_empty() {
        return None;
    }
    statements(sql)
        .into_iter()
        .map(|range| &sql[range])
        .find(|statement| statement.contains(fragment))
}

fn skip_past(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    let mut at = from;
    while at + end.len() <= bytes.len() {
        if &bytes[at..at + end.len()] == end {
            return at + end.len();
        }
        at += 1;
    }
    bytes.len()
}

/// `$tag$` or `$$` at the start of `rest`.
fn dollar_tag(rest: &str) -> Option<&str> {
    let close = rest[1..].find('$')? + 1;
    let tag = &rest[1..close];
    let valid = tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !tag.starts_with(|c: char| c.is_ascii_digit());
    valid.then(|| &rest[..=close])
}

fn push_trimmed(
    sql: &str,
    range: std::ops::Range<usize>,
    ranges: &mut Vec<std::ops::Range<usize>>,
) {
    let text = &sql[range.clone()];
    let start = range.start + (text.len() - text.trim_start().len());
    let end = range.start + text.trim_end().len();
    if start < end {
        ranges.push(start..end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        statements(sql).into_iter().map(|r| &sql[r]).collect()
    }

    #[test]
    fn splits_outside_quotes_comments_and_dollar_quotes() {
        let sql = "create table a (x text default ';');\n-- a; comment\ninsert into a values ('b');\
                   create function f() returns int as $body$ select 1; $body$ language sql;/* ; */";
        assert_eq!(
            texts(sql),
            [
                "create table a (x text default ';')",
                "-- a; comment\ninsert into a values ('b')",
                "create function f() returns int as $body$ select 1; $body$ language sql",
                "/* ; */",
            ]
        );
    }

    #[test]
    #[cfg(feature = "postgres")]
    fn finds_the_statement_at_an_offset_or_with_a_fragment() {
        let sql = "create table a (x int);\ncreate tabel b (y int);";
        let offset = sql.find("tabel").unwrap();
        assert_eq!(statement_at(sql, offset), Some("create tabel b (y int)"));
        assert_eq!(
            statement_containing(sql, "tabel"),
            Some("create tabel b (y int)")
        );
        assert_eq!(statement_containing(sql, "nothing"), None);
    }
}
